"""Write the rules of a generated fleet: NODES nodes of one cluster of SERVICES service ports
(bench/generate.py's kube-proxy writer, one seed for all), where every 50th node (node-007,
node-057, …) is stale: its kube-proxy missed the last endpoint of the first service that has
several. `bench/make_fleet.sh` loads each into a network namespace and prints it.

    python bench/fleet_rules.py --services 1000 --nodes 200 --out bench/out/fleet-1000/rules
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from generate import make_services, nat_table

STALE_EVERY, STALE_FIRST = 50, 7


def stale(services: list) -> list:  # type: ignore[type-arg]
    k = next(i for i, s in enumerate(services) if len(s.endpoints) > 1)
    return [*services[:k], replace(services[k], endpoints=services[k].endpoints[:-1], hits=None), *services[k + 1:]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    services = make_services(args.services, args.seed)
    healthy = "\n".join(nat_table(services)) + "\n"
    behind = "\n".join(nat_table(stale(services))) + "\n"
    for n in range(1, args.nodes + 1):
        text = behind if n % STALE_EVERY == STALE_FIRST else healthy
        (args.out / f"node-{n:03d}.rules").write_text(text)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
