"""Time kubechain.render on generated kube-proxy nat tables (printed, never asserted).

    python bench/render.py [--sizes 1000,10000]

For each size N: bench/generate.py --services N --seed 42 → kubechain.loads → render in each format
(iptables-save -c, iptables -L -n -v -x, iptables -L without -n, iptables -S -v), best of 3 wall
time per format, with the output size.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

import kubechain  # noqa: E402
from kubechain.render import render  # noqa: E402

CALLS = {
    "save -c": ("iptables-save", {"counters": True}),
    "-L -n -v -x": ("iptables-list", {"table": "nat", "numeric": True, "verbose": True, "exact": True}),
    "-L": ("iptables-list", {"table": "nat"}),
    "-S -v": ("iptables-S", {"table": "nat", "verbose": True}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", type=lambda s: [int(x) for x in s.split(",")])
    args = parser.parse_args()
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as folder:
            subprocess.run([sys.executable, str(BENCH / "generate.py"), "--services", str(size), "--seed", "42",
                            "--out", folder], capture_output=True, check=True)
            ruleset = kubechain.load(next(Path(folder).glob("*.rules")))
        count = sum(len(c.rules) for t in ruleset.tables for c in t.chains.values())
        for name, (fmt, options) in CALLS.items():
            best, out = float("inf"), ""
            for _ in range(3):
                start = time.perf_counter()
                out = render(ruleset, fmt, **options)
                best = min(best, time.perf_counter() - start)
            print(f"{size:>6} services {count:>7} rules  {name:<12} {best:7.2f} s  {count / best:9.0f} rules/s"
                  f"  {len(out) / 1e6:6.1f} MB")


if __name__ == "__main__":
    main()
