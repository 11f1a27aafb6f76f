"""Imports, load, analyze and the JSON document, apart, for two checkouts: CPU seconds of each
phase in fresh processes, paired A B A B, and each phase's B/A ratio (median and range).
bench/run.py times the user's whole command against the C parser; this says what a change moved
(CPU seconds move less with the machine's load than wall time).

    python bench/phases.py bench/out/svc-10000.L.txt OLD_CHECKOUT NEW_CHECKOUT [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

PHASES = """
import sys, time
t = time.process_time()
import kubechain
from kubechain.report.documents import write_value
imports = time.process_time() - t
t = time.process_time(); ruleset = kubechain.load(sys.argv[1]); load = time.process_time() - t
t = time.process_time(); analysis = kubechain.analyze(ruleset); analyze = time.process_time() - t
t = time.process_time()
with open("/dev/null", "w") as null:
    write_value(kubechain.document(analysis), null)
print(imports, load, analyze, time.process_time() - t)
"""
NAMES = ("imports", "load", "analyze", "json", "total")


def phases(checkout: str, dump: str) -> list[float]:
    """CPU seconds of `checkout`'s kubechain on `dump` in a fresh process: imports, load, analyze,
    the JSON document written (what `analyze --format json` does), and their total."""
    done = subprocess.run([sys.executable, "-c", PHASES, os.path.abspath(dump)], capture_output=True, text=True,
                          check=True, env={"PYTHONPATH": os.path.abspath(checkout), "PATH": "/usr/bin:/bin"}, cwd="/")
    found = [float(x) for x in done.stdout.split()]
    return [*found, sum(found)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dump")
    parser.add_argument("a", help="the 'before' checkout")
    parser.add_argument("b", help="the 'after' checkout")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    pairs = [(phases(args.a, args.dump), phases(args.b, args.dump)) for _ in range(args.runs)]
    for i, name in enumerate(NAMES):
        ratios = [b[i] / a[i] for a, b in pairs]
        print(f"{name:8} A {[round(a[i], 2) for a, _ in pairs]}  B {[round(b[i], 2) for _, b in pairs]}  "
              f"B/A median {statistics.median(ratios):.2f} (range {min(ratios):.2f}-{max(ratios):.2f})")


if __name__ == "__main__":
    main()
