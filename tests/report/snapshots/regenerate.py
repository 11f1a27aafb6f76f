"""Rewrite the committed output snapshots (run from anywhere: `python tests/snapshots/regenerate.py`).

Only for a deliberate change of output: the snapshot test exists to prove that refactoring
changes no byte of what users see. Each fixture gets the text and JSON reports of `analyze`,
and the JSON of `sample --draws 2000 --seed 7`, as the CLI prints them from the repository root.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[3]
OUT = Path(__file__).resolve().parent
COMMANDS = {
    "analyze.txt": ["analyze", "-o", "wide"],
    "analyze.json": ["analyze", "--format", "json"],
    "sample.json": ["sample", "--draws", "2000", "--seed", "7", "--format", "json"],
}


def outputs(fixture: str) -> dict[str, tuple[int, str]]:
    """(exit status, stdout) of each command on fixtures/<fixture>, run from the repository root."""
    from kubechain.cli import main

    here = os.getcwd()
    os.chdir(ROOT)
    try:
        runner = CliRunner()
        found = {}
        for suffix, args in COMMANDS.items():
            result = runner.invoke(main, [*args, f"fixtures/{fixture}"])
            found[suffix] = (result.exit_code, result.stdout)
        return found
    finally:
        os.chdir(here)


def fixtures() -> list[str]:
    """Every printout in fixtures/ (iptables) and fixtures/nft/ (nft text and JSON, and iptables-nft
    rules printed by nft), as paths relative to fixtures/."""
    root = ROOT / "fixtures"
    found = [*root.glob("*.txt"), *(root / "nft").glob("*.txt"), *(root / "nft").glob("*.json"),
             *(root / "nft" / "iptables-nft").glob("*")]
    return sorted(str(p.relative_to(root)) for p in found)


def snapshot(fixture: str, suffix: str) -> Path:
    """Where the output `suffix` of `fixture` is kept (nft fixtures in their own folders)."""
    return OUT / f"{fixture.removesuffix('.txt')}.{suffix}"


def main() -> None:
    for name in fixtures():
        for suffix, (status, text) in outputs(name).items():
            if status != 0:
                sys.exit(f"{name} {suffix}: exit {status}")
            snapshot(name, suffix).parent.mkdir(parents=True, exist_ok=True)
            snapshot(name, suffix).write_text(text, encoding="utf-8")
    print(f"{len(fixtures())} fixtures, {len(COMMANDS)} outputs each, written to {OUT}")


if __name__ == "__main__":
    main()
