"""How fast `kubechain simulate` is on the seed case (2 → 3 pods, C = 30, 6,000 rpm, M = 10,000,
90 minutes, 1-minute buckets), and what simulating per connection saves over per request.

    python bench/simulate.py                 # or: --runs 20,100 --repeat 3

Prints the best of --repeat wall times of `kubechain.simulate` (the library call the CLI makes,
without printing) for: the seed with --runs N and all three L7 balancers (the issue's budget: 5 s
at 20 runs, 20 s at 100), its parts (L4 alone, each L7 balancer alone), and the ratio, measured in
this same process, of one L4 run per connection against the per-request reference of nginx's
cache in tests/support/naive_gateway.py (one run, same parameters).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import kubechain  # noqa: E402

from support.naive_gateway import closed_loop  # noqa: E402


def best(repeat: int, fn: object) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default="20,100")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for runs in (int(r) for r in args.runs.split(",")):
        whole = best(args.repeat, lambda runs=runs: kubechain.simulate(replicas="2:3", runs=runs))
        print(f"seed, --runs {runs}, L4 + round-robin, least-request, random: {whole:.2f} s")
        for l7 in ((), ("round-robin",), ("least-request",), ("random",)):
            part = best(args.repeat, lambda runs=runs, l7=l7: kubechain.simulate(replicas="2:3", runs=runs, l7=l7))
            print(f"  {'L4 alone' if not l7 else 'L4 + ' + l7[0]:<22} {part:.2f} s")
    per_connection = best(args.repeat, lambda: kubechain.simulate(replicas="2:3", runs=1, l7=()))
    per_request = best(1, lambda: closed_loop(clients=30, service_s=0.3, max_requests=10_000, pool=512,
                                              duration_s=5400, before=[0.5, 0.5, 0], after=[1 / 3] * 3,
                                              history="steady", seed=0))
    print(f"one L4 run: per connection {per_connection * 1000:.1f} ms, per request (reference) "
          f"{per_request:.2f} s: {per_request / per_connection:.0f}x")
    open_run = best(1, lambda: kubechain.simulate(replicas="2:3", runs=1, l7=(), workload="open"))
    print(f"one L4 run of the open workload (per request, nginx's cache): {open_run:.2f} s")


if __name__ == "__main__":
    main()
