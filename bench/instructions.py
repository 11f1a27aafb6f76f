"""Instructions, not seconds: each phase's instruction count under valgrind (callgrind) for two
checkouts, and B/A. On a shared 2-core machine wall and CPU time move 20-30% between runs minutes
apart; instruction counts are the same every run (hash seed fixed), so a 3% change is visible.

    python bench/instructions.py bench/out/svc-1000.L.txt OLD_CHECKOUT NEW_CHECKOUT

A phase's count is the difference of two runs that stop after it and before it (imports, load,
analyze, the JSON document written). Each run is a fresh interpreter under callgrind, about 50x
slower than without: about 80 s per run on the 1k `-L` dump, 15 min on the 10k one.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys

#: runs the phases up to argv[2] (0 = imports only … 3 = through the JSON document)
PHASES = """
import sys
import kubechain
from kubechain.report.documents import write_value
upto = int(sys.argv[2])
if upto >= 1:
    ruleset = kubechain.load(sys.argv[1])
if upto >= 2:
    analysis = kubechain.analyze(ruleset)
if upto >= 3:
    with open("/dev/null", "w") as null:
        write_value(kubechain.document(analysis), null)
"""
NAMES = ("imports", "load", "analyze", "json")
_REFS = re.compile(r"refs:\s+([\d,]+)")


def instructions(checkout: str, dump: str, upto: int) -> int:
    """Instructions callgrind counts for `checkout`'s kubechain running PHASES through `upto`."""
    python = os.path.realpath(sys.executable)  # the interpreter itself, not a wrapper script (pyenv's shims)
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", python, "-c", PHASES,
                           os.path.abspath(dump), str(upto)], capture_output=True, text=True, check=True, cwd="/",
                          env={"PYTHONPATH": os.path.abspath(checkout), "PYTHONHASHSEED": "0", "PATH": "/usr/bin:/bin"})
    found = _REFS.search(done.stderr)
    if found is None:
        raise SystemExit(f"callgrind printed no instruction count:\n{done.stderr[-2000:]}")
    return int(found[1].replace(",", ""))


def phases(checkout: str, dump: str) -> list[int]:
    """Each phase's own instructions: the cumulative counts' differences (imports: its own count)."""
    cumulative = [instructions(checkout, dump, upto) for upto in range(len(NAMES))]
    return [cumulative[0], *(b - a for a, b in zip(cumulative, cumulative[1:], strict=False))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dump")
    parser.add_argument("a", help="the 'before' checkout")
    parser.add_argument("b", help="the 'after' checkout")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("needs valgrind (apt-get install -y valgrind)")
    a, b = phases(args.a, args.dump), phases(args.b, args.dump)
    print(f"{'phase':<8} {'A (G instr.)':>13} {'B (G instr.)':>13} {'B/A':>6}")
    for name, x, y in [*zip(NAMES, a, b, strict=True), ("total", sum(a), sum(b))]:
        print(f"{name:<8} {x / 1e9:>13.3f} {y / 1e9:>13.3f} {y / x if x else float('nan'):>6.2f}")


if __name__ == "__main__":
    main()
