"""CPython's floor for an `-L -n -v` dump: the least work any pure-Python reader must do (the
file read, then one regex match and one tuple of strings per rule line; no typed values, no walk,
no checks, no JSON), timed beside kubechain's own load, in one process. It says how much of the C
parser's time (bench/out/svc-N.restore-test.json) is left for everything else.

    python bench/floor.py bench/out/svc-10000.L.txt     # or: --runs 5
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import kubechain  # noqa: E402

_RULE = re.compile(r" *(\d+[KMGTP]?) +(\d+[KMGTP]?) +(\S+)? +(\S+) +(\S+) +(\S+) +(\S+) +(\S+) +(\S+) *(.*)")


def floor(path: str) -> int:
    """Read the dump and match every rule line once, keeping its columns as strings; the rules."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    chains: dict[str, list[tuple[str | None, ...]]] = {}
    current: list[tuple[str | None, ...]] = []
    match = _RULE.match
    for line in text.split("\n"):
        if line.startswith("Chain "):
            current = chains.setdefault(line.split(" ", 2)[1], [])
        elif line and not line.lstrip().startswith("pkts"):
            m = match(line)
            if m is not None:
                current.append(m.groups())
    return sum(map(len, chains.values()))


def best_of(runs: int, work: Callable[[str], object], path: str) -> float:
    """The least CPU seconds `work(path)` took in `runs` calls."""
    best = float("inf")
    for _ in range(runs):
        start = time.process_time()
        work(path)
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dump")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    low, rules = best_of(args.runs, floor, args.dump), floor(args.dump)
    load = best_of(args.runs, kubechain.load, args.dump)
    print(f"floor (one regex + tuple per rule line): {low:.2f} CPU s for {rules:,} rules "
          f"({low / rules * 1e6:.1f} µs a rule)\nkubechain.load:                          {load:.2f} CPU s "
          f"({load / low:.1f}x the floor); best of {args.runs} each")


if __name__ == "__main__":
    main()
