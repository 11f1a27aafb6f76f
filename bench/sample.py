"""Sampler throughput: u32 draws per second through a kube-proxy chain of 3, 10 and 100 endpoints.

    python bench/sample.py                  # or: --endpoints 3,10,100 --connections 20000000 --runs 3

Each chain is written as kube-proxy writes it (probability 1/(n-i) printed %0.10f, the last rule
without statistic), parsed by kubechain, and sampled with `kubechain.analysis.sampling.sample_service`
(the whole walk: one numpy draw per connection reaching each statistic match, compared with the
kernel's `(r & 0x7FFFFFFF) < t`). Prints the best of --runs: draws/s and new connections/s.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import kubechain  # noqa: E402
from kubechain.analysis.sampling import SampledFlow, sample_service, service_rng  # noqa: E402
from kubechain.analysis.walk import walk_chain  # noqa: E402
from kubechain.testing import long_cascade  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoints", default="3,10,100")
    parser.add_argument("--connections", type=int, default=20_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{'endpoints':>9}  {'connections':>12}  {'u32 draws':>12}  {'draws/s':>10}  {'connections/s':>13}")
    for n in (int(x) for x in args.endpoints.split(",")):
        ruleset = kubechain.loads(long_cascade(n))
        (service,) = kubechain.analyze(ruleset).services
        chains = ruleset.table("nat").chains
        best, draws = float("inf"), 0
        for _ in range(args.runs):
            flow = SampledFlow(args.connections, service_rng(0, service.chain))
            start = time.perf_counter()
            walk_chain(chains, service.chain, flow)
            best = min(best, time.perf_counter() - start)
            draws = flow.draws
        sample_service(service, 1000, 0)  # the public path works on this chain too
        print(f"{n:>9}  {args.connections:>12,}  {draws:>12,}  {draws / best / 1e6:>8.1f} M  "
              f"{args.connections / best / 1e6:>11.1f} M")


if __name__ == "__main__":
    main()
