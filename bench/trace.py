"""What one `kubechain trace` costs on a big dump, as ratios to reading the dump in the same run.

    python bench/trace.py                   # or: bench/trace.py bench/out/svc-30000.save.txt --packets 5
    python bench/trace.py --cascade 3000    # one service of 3,000 endpoints: trace beside analyze

Reads the dump (made by make_dumps.sh), then traces --packets packets to cluster IPs spread
over it from a pod, first without the diagnostics (the walk alone), then as `kubechain.trace`
does by default (with an analyze of the whole dump for its diagnostics). Prints seconds and the
ratio of each to the read.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import kubechain  # noqa: E402
from kubechain.testing import long_cascade  # noqa: E402


def cascade(n: int) -> None:
    """A kube-proxy chain of n endpoints reached from PREROUTING: trace and analyze, same run."""
    ruleset = kubechain.loads(long_cascade(n))
    start = time.perf_counter()
    kubechain.analyze(ruleset)
    analyze = time.perf_counter() - start
    start = time.perf_counter()
    kubechain.trace(ruleset, kubechain.Packet("10.96.0.1", 80, src="10.254.254.254"), diagnostics=False)
    trace = time.perf_counter() - start
    print(f"{n} endpoints: analyze {analyze:.2f} s, trace {trace:.2f} s ({trace / analyze:.1f}x)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dump", nargs="?", default=str(Path(__file__).parent / "out" / "svc-30000.save.txt"))
    parser.add_argument("--packets", type=int, default=5)
    parser.add_argument("--cascade", type=int, default=None, metavar="N")
    args = parser.parse_args()
    if args.cascade:
        cascade(args.cascade)
        return
    start = time.perf_counter()
    ruleset = kubechain.load(args.dump)
    read = time.perf_counter() - start
    services = [s for s in kubechain.analyze(ruleset).services if s.kind == "cluster" and s.cluster_ip and s.port]
    picked = services[:: max(1, len(services) // args.packets)][: args.packets]
    packets = [kubechain.Packet(s.cluster_ip, s.port, proto=s.protocol or "tcp", src="10.254.254.254")
               for s in picked if s.cluster_ip is not None and s.port is not None]
    start = time.perf_counter()
    for packet in packets:
        kubechain.trace(ruleset, packet, diagnostics=False)
    walk = (time.perf_counter() - start) / len(packets)
    start = time.perf_counter()
    kubechain.trace(ruleset, packets[0])
    full = time.perf_counter() - start
    print(f"{args.dump}: read {read:.1f} s; one trace {walk:.2f} s ({walk / read:.1%} of the read), "
          f"with diagnostics {full:.1f} s ({full / read:.1%})")


if __name__ == "__main__":
    main()
