"""What one `kubechain trace` costs on a big dump, as ratios to reading the dump in the same run.

    python bench/trace.py                   # or: bench/trace.py bench/out/svc-30000.save.txt --packets 5

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dump", nargs="?", default=str(Path(__file__).parent / "out" / "svc-30000.save.txt"))
    parser.add_argument("--packets", type=int, default=5)
    args = parser.parse_args()
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
