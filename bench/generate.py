"""Generate a kube-proxy-like nat table (iptables-restore format) for benchmarking.

The rules mirror what kube-proxy's iptables mode (kubernetes pkg/proxy/iptables/proxier.go) writes,
argument order included, so that the dumps the real iptables prints from them look like a real node's:

    python bench/generate.py --services 30000 --seed 42 --out bench/out   # -> bench/out/svc-30000.rules
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import ipaddress
import math
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

CLUSTER_CIDR = "10.244.0.0/16"  # pod network: endpoints live here, "! -s" of the masquerade rule
SERVICE_CIDR = ipaddress.IPv4Network("10.96.0.0/12")  # cluster IPs
POD_NET = ipaddress.IPv4Network(CLUSTER_CIDR)
# Default apiserver range 30000-32767 holds only 2768 NodePorts; 10% of 30k services needs a wider one
# (kube-apiserver --service-node-port-range allows it), so ports are drawn from this range.
NODE_PORTS = range(30000, 40000)
MAX_ENDPOINTS = 10
# Relative odds of 1..10 endpoints: uniform, tilted slightly toward small services (1 endpoint is 25/16
# as likely as 10; mean 5.1 instead of 5.5), calibrated so that `iptables -t nat -L -n -v` prints
# ~1.1M lines / ~109 MB for 30k services.
ENDPOINT_WEIGHTS = tuple(26 - k for k in range(1, MAX_ENDPOINTS + 1))
NODEPORT_SHARE = 0.10
AFFINITY_SHARE = 0.05
COUNTED_SHARE = 0.02  # services whose rules carry non-zero [packets:bytes] counters
STICKY_SECONDS = 10800  # kube-proxy's default ClientIP affinity timeout
BYTES_PER_PACKET = 60  # the nat table sees the first packet of a connection: a SYN
PORTS = {80: "http", 443: "https", 8080: "http-alt", 9090: "metrics", 53: "dns-tcp", 6379: "redis",
         5432: "postgres", 3306: "mysql", 8443: "webhook", 9000: "grpc"}
TARGET_PORTS = (8080, 8443, 3000, 5000, 9376)


@dataclass(frozen=True)
class Service:
    """One service port with its endpoints, as kube-proxy sees it."""

    namespace: str
    name: str
    port_name: str
    cluster_ip: str
    port: int
    endpoints: tuple[str, ...]  # "IP:port", sorted lexically like kube-proxy's endpoint list
    node_port: int | None
    affinity: bool
    hits: tuple[int, ...] | None  # connections per endpoint, when counters are written

    @property
    def port_name_string(self) -> str:
        """The ServicePortName string kube-proxy hashes and writes in comments."""
        return f"{self.namespace}/{self.name}:{self.port_name}"


def port_proto_hash(*parts: str) -> str:
    """kube-proxy's chain suffix: 16 chars of base32(sha256(concatenation))."""
    digest = hashlib.sha256("".join(parts).encode()).digest()
    return base64.b32encode(digest).decode()[:16]


def svc_chain(svc: Service) -> str:
    """KUBE-SVC chain of a service port (servicePortPolicyClusterChain)."""
    return "KUBE-SVC-" + port_proto_hash(svc.port_name_string, "tcp")


def ext_chain(svc: Service) -> str:
    """KUBE-EXT chain of a service port (serviceExternalChainName)."""
    return "KUBE-EXT-" + port_proto_hash(svc.port_name_string, "tcp")


def sep_chain(svc: Service, endpoint: str) -> str:
    """KUBE-SEP chain of one endpoint (servicePortEndpointChainName)."""
    return "KUBE-SEP-" + port_proto_hash(svc.port_name_string, "tcp", endpoint)


def quoted(comment: str) -> str:
    """Quote a comment the way kube-proxy does: only when it has spaces."""
    return f'"{comment}"' if " " in comment else comment


def split_hits(rng: random.Random, total: int, n: int) -> tuple[int, ...]:
    """Split connections over n endpoints like the kernel's cascade of 1/(n-i) coin flips would."""
    hits, remaining = [], total
    for i in range(n - 1):
        p = 1.0 / (n - i)
        mean, sd = remaining * p, math.sqrt(remaining * p * (1 - p))
        taken = min(remaining, max(0, round(rng.gauss(mean, sd))))
        hits.append(taken)
        remaining -= taken
    return (*hits, remaining)


def pick_endpoints(rng: random.Random, target_port: int) -> tuple[str, ...]:
    """1..MAX_ENDPOINTS distinct pod IPs, sorted as strings the way kube-proxy sorts them."""
    count = rng.choices(range(1, MAX_ENDPOINTS + 1), weights=ENDPOINT_WEIGHTS)[0]
    offsets = rng.sample(range(2, POD_NET.num_addresses - 1), count)
    return tuple(sorted(f"{POD_NET[o]}:{target_port}" for o in offsets))


def make_services(count: int, seed: int) -> list[Service]:
    """Draw `count` service ports deterministically from `seed`."""
    rng = random.Random(seed)
    cluster_ips = rng.sample(range(1, SERVICE_CIDR.num_addresses - 1), count)
    node_ports = iter(rng.sample(NODE_PORTS, min(count, len(NODE_PORTS))))
    namespaces = max(1, count // 20)
    services = []
    for i, ip_offset in enumerate(cluster_ips):
        port = rng.choice(list(PORTS))
        endpoints = pick_endpoints(rng, rng.choice((port, *TARGET_PORTS)))
        counted = rng.random() < COUNTED_SHARE
        services.append(Service(
            namespace=f"ns-{rng.randrange(namespaces)}",
            name=f"svc-{i}",
            port_name=PORTS[port],
            cluster_ip=str(SERVICE_CIDR[ip_offset]),
            port=port,
            endpoints=endpoints,
            node_port=next(node_ports, None) if rng.random() < NODEPORT_SHARE else None,
            affinity=rng.random() < AFFINITY_SHARE,
            hits=split_hits(rng, rng.randint(1, 250_000), len(endpoints)) if counted else None,
        ))
    return services


def counted(packets: int, rule: str) -> str:
    """Prefix a rule with its [packets:bytes] counters (iptables-restore -c) when they are non-zero."""
    return f"[{packets}:{packets * BYTES_PER_PACKET}] {rule}" if packets else rule


def chain_names(svc: Service) -> Iterator[str]:
    """The chains a service port needs, in kube-proxy's order."""
    yield svc_chain(svc)
    if svc.node_port is not None:
        yield ext_chain(svc)
    for endpoint in svc.endpoints:
        yield sep_chain(svc, endpoint)


def service_rules(svc: Service) -> Iterator[str]:
    """KUBE-SERVICES / KUBE-NODEPORTS / KUBE-EXT rules of one service port."""
    name, svc_name = svc.port_name_string, svc_chain(svc)
    total = sum(svc.hits) if svc.hits else 0
    yield counted(total, f'-A KUBE-SERVICES -m comment --comment "{name} cluster IP" -m tcp -p tcp '
                         f"-d {svc.cluster_ip} --dport {svc.port} -j {svc_name}")
    if svc.node_port is not None:
        ext = ext_chain(svc)
        yield f"-A KUBE-NODEPORTS -m comment --comment {name} -m tcp -p tcp --dport {svc.node_port} -j {ext}"
        yield (f'-A {ext} -m comment --comment "masquerade traffic for {name} external destinations" '
               "-j KUBE-MARK-MASQ")
        yield f"-A {ext} -j {svc_name}"


def svc_chain_rules(svc: Service) -> Iterator[str]:
    """The KUBE-SVC chain: masquerade off-cluster sources, affinity checks, then the random cascade."""
    name, chain, n = svc.port_name_string, svc_chain(svc), len(svc.endpoints)
    yield (f'-A {chain} -m comment --comment "{name} cluster IP" -m tcp -p tcp -d {svc.cluster_ip} '
           f"--dport {svc.port} ! -s {CLUSTER_CIDR} -j KUBE-MARK-MASQ")
    if svc.affinity:
        for endpoint in svc.endpoints:
            sep = sep_chain(svc, endpoint)
            yield (f'-A {chain} -m comment --comment "{name} -> {endpoint}" -m recent --name {sep} '
                   f"--rcheck --seconds {STICKY_SECONDS} --reap -j {sep}")
    for i, endpoint in enumerate(svc.endpoints):
        statistic = f"-m statistic --mode random --probability {1.0 / (n - i):0.10f} " if i < n - 1 else ""
        sep = sep_chain(svc, endpoint)
        rule = f'-A {chain} -m comment --comment "{name} -> {endpoint}" {statistic}-j {sep}'
        yield counted(svc.hits[i] if svc.hits else 0, rule)


def sep_chain_rules(svc: Service) -> Iterator[str]:
    """One KUBE-SEP chain per endpoint: hairpin masquerade, then DNAT (recording affinity)."""
    name = svc.port_name_string
    for i, endpoint in enumerate(svc.endpoints):
        sep, ip = sep_chain(svc, endpoint), endpoint.rsplit(":", 1)[0]
        recent = f"-m recent --name {sep} --set " if svc.affinity else ""
        yield f"-A {sep} -m comment --comment {name} -s {ip} -j KUBE-MARK-MASQ"
        yield counted(svc.hits[i] if svc.hits else 0,
                      f"-A {sep} -m comment --comment {name} {recent}-m tcp -p tcp -j DNAT "
                      f"--to-destination {endpoint}")


def static_rules(portal_hits: int) -> Iterator[str]:
    """The jumps from the builtin chains and kube-proxy's fixed masquerade chains."""
    portals = '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES'
    yield counted(portal_hits, f"-A PREROUTING {portals}")
    yield f"-A OUTPUT {portals}"
    yield '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING'
    yield "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN"
    yield "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000"
    yield ('-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" '
           "-j MASQUERADE --random-fully")
    yield "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000"


def nat_table(services: list[Service]) -> Iterator[str]:
    """The whole *nat table: chain declarations, then rules, then COMMIT (kube-proxy's layout)."""
    yield "*nat"
    for builtin in ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"):
        yield f":{builtin} ACCEPT [0:0]"
    for chain in ("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"):
        yield f":{chain} - [0:0]"
    for svc in services:
        yield from (f":{chain} - [0:0]" for chain in chain_names(svc))
    yield from static_rules(sum(sum(svc.hits) for svc in services if svc.hits))
    for svc in services:
        yield from service_rules(svc)
        yield from svc_chain_rules(svc)
        yield from sep_chain_rules(svc)
    yield ('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last '
           'rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS')
    yield "COMMIT"


def write_rules(count: int, seed: int, out_dir: Path,
                writer: Callable[[list[Service]], Iterable[str]] | None = None, suffix: str = "rules") -> Path:
    """Write DIR/svc-N.SUFFIX (`writer`'s lines for the services; iptables-restore input by default)
    and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"svc-{count}.{suffix}"
    with path.open("w") as out:
        for line in (writer or nat_table)(make_services(count, seed)):
            out.write(line + "\n")
    return path


def main(argv: list[str] | None = None, writer: Callable[[list[Service]], Iterable[str]] | None = None,
         suffix: str = "rules", description: str | None = None) -> int:
    """Command line entry point (bench/generate_nft.py's too, with its writer)."""
    parser = argparse.ArgumentParser(description=description or __doc__.splitlines()[0])
    parser.add_argument("--services", type=int, required=True, help="number of service ports")
    parser.add_argument("--seed", type=int, default=42, help="random seed (same seed, same services)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out", help="output folder")
    args = parser.parse_args(argv)
    if args.services < 1:
        parser.error("--services must be at least 1")
    print(write_rules(args.services, args.seed, args.out, writer, suffix))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
