"""Generate kube-proxy's nftables-mode table (an `nft -f` transaction) for benchmarking.

The same service ports as bench/generate.py (same seed, same services, endpoints, NodePorts and
affinity), written as kube-proxy's nftables proxier (kubernetes pkg/proxy/nftables/proxier.go,
v1.29–v1.35 layout) writes them: one `ip kube-proxy` table, the `service-ips` and
`service-nodeports` dispatch maps, per service port a `service-HASH-ns/svc/tcp/port` chain with the
masquerade rule, affinity lookups and `numgen random mod N vmap { … }`, per endpoint an
`endpoint-HASH-…__IP/port` chain with its hairpin masquerade, affinity update and DNAT. Chains and
sets are created before the rules that refer to them, as kube-proxy's transaction does. Rule
counters are not written: kube-proxy's nftables mode has none.

    python bench/generate_nft.py --services 10000 --seed 42 --out bench/out   # -> bench/out/svc-10000.nft
"""

from __future__ import annotations

import base64
import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate  # noqa: E402
from generate import CLUSTER_CIDR, SERVICE_CIDR, STICKY_SECONDS, Service  # noqa: E402

T = "ip kube-proxy"
NODE_IP = "192.168.0.10"


def hashed(name: str) -> str:
    """hashAndTruncate: 8 base32 characters of sha256(name), `-`, then the name."""
    return base64.b32encode(hashlib.sha256(name.encode()).digest()).decode()[:8] + "-" + name


def base(svc: Service) -> str:
    return f"{svc.namespace}/{svc.name}/tcp/{svc.port_name}"


def chain(prefix: str, svc: Service) -> str:
    return prefix + hashed(base(svc))


def endpoint_name(prefix: str, svc: Service, endpoint: str) -> str:
    ip, port = endpoint.rsplit(":", 1)
    return prefix + hashed(f"{base(svc)}__{ip}/{port}")


def fixed() -> Iterator[str]:
    """setupNFTables: the table, its sets and maps, base chains and the fixed chains and rules."""
    verdict_map = "ipv4_addr . inet_proto . inet_service : verdict"
    yield f'add table {T} {{ comment "rules for kube-proxy" ; }}'
    yield f'add set {T} cluster-ips {{ type ipv4_addr ; comment "Active ClusterIPs" ; }}'
    yield f'add set {T} nodeport-ips {{ type ipv4_addr ; comment "IPs that accept NodePort traffic" ; }}'
    yield (f"add map {T} no-endpoint-services {{ type {verdict_map} ; "
           'comment "vmap to drop or reject packets to services with no endpoints" ; }')
    yield (f"add map {T} no-endpoint-nodeports {{ type inet_proto . inet_service : verdict ; "
           'comment "vmap to drop or reject packets to service nodeports with no endpoints" ; }')
    yield (f"add map {T} firewall-ips {{ type {verdict_map} ; "
           'comment "destinations that are subject to LoadBalancerSourceRanges" ; }')
    yield f'add map {T} service-ips {{ type {verdict_map} ; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }}'
    yield f'add map {T} service-nodeports {{ type inet_proto . inet_service : verdict ; comment "NodePort traffic" ; }}'
    for name, kind, hook, priority in (
            ("filter-prerouting-pre-dnat", "filter", "prerouting", -110), ("filter-output-pre-dnat", "filter", "output", -110),
            ("filter-forward", "filter", "forward", 0), ("filter-input", "filter", "input", 0),
            ("filter-output", "filter", "output", 0), ("nat-output", "nat", "output", -100),
            ("nat-postrouting", "nat", "postrouting", 100), ("nat-prerouting", "nat", "prerouting", -100)):
        yield f"add chain {T} {name} {{ type {kind} hook {hook} priority {priority} ; }}"
    for name in ("cluster-ips-check", "firewall-check", "mark-for-masquerade", "masquerading",
                 "nodeport-endpoints-check", "services", "service-endpoints-check"):
        yield f"add chain {T} {name}"
    yield f'add chain {T} reject-chain {{ comment "helper for @no-endpoint-services / @no-endpoint-nodeports" ; }}'
    yield f'add rule {T} cluster-ips-check ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"'
    yield f'add rule {T} cluster-ips-check ip daddr {{ {SERVICE_CIDR} }} drop comment "Drop traffic to unallocated ClusterIPs"'
    for src, dst in (("filter-prerouting-pre-dnat", "firewall-check"), ("filter-output-pre-dnat", "firewall-check"),
                     ("filter-forward", "service-endpoints-check"), ("filter-forward", "cluster-ips-check"),
                     ("filter-input", "nodeport-endpoints-check"), ("filter-input", "service-endpoints-check"),
                     ("filter-output", "service-endpoints-check"), ("filter-output", "cluster-ips-check")):
        yield f"add rule {T} {src} ct state new jump {dst}"
    yield f"add rule {T} firewall-check ip daddr . meta l4proto . th dport vmap @firewall-ips"
    yield f"add rule {T} mark-for-masquerade mark set mark or 0x4000"
    yield f"add rule {T} masquerading mark and 0x4000 == 0 return"
    yield f"add rule {T} masquerading mark set mark xor 0x4000"
    yield f"add rule {T} masquerading masquerade fully-random"
    yield f"add rule {T} nat-output jump services"
    yield f"add rule {T} nat-postrouting jump masquerading"
    yield f"add rule {T} nat-prerouting jump services"
    yield f"add rule {T} nodeport-endpoints-check ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports"
    yield f"add rule {T} reject-chain reject"
    yield f"add rule {T} services ip daddr . meta l4proto . th dport vmap @service-ips"
    yield f"add rule {T} services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports"
    yield f"add rule {T} service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services"
    yield f"add element {T} nodeport-ips {{ {NODE_IP} }}"


def declarations(svc: Service) -> Iterator[str]:
    yield f"add chain {T} {chain('service-', svc)}"
    if svc.node_port is not None:
        yield f"add chain {T} {chain('external-', svc)}"
    for endpoint in svc.endpoints:
        yield f"add chain {T} {endpoint_name('endpoint-', svc, endpoint)}"
        if svc.affinity:
            yield (f"add set {T} {endpoint_name('affinity-', svc, endpoint)} {{ type ipv4_addr ; "
                   f"flags dynamic,timeout ; timeout {STICKY_SECONDS}s ; }}")


def rules(svc: Service) -> Iterator[str]:
    """syncProxyRules for one service port (Cluster traffic policy; NodePort through external-)."""
    svc_chain = chain("service-", svc)
    yield f"add element {T} cluster-ips {{ {svc.cluster_ip} }}"
    yield f"add element {T} service-ips {{ {svc.cluster_ip} . tcp . {svc.port} : goto {svc_chain} }}"
    if svc.node_port is not None:
        ext = chain("external-", svc)
        yield f"add element {T} service-nodeports {{ tcp . {svc.node_port} : goto {ext} }}"
        yield f"add rule {T} {ext} jump mark-for-masquerade"
        yield f"add rule {T} {ext} goto {svc_chain}"
    yield f"add rule {T} {svc_chain} ip daddr {svc.cluster_ip} ip saddr != {CLUSTER_CIDR} jump mark-for-masquerade"
    if svc.affinity:
        for endpoint in svc.endpoints:
            yield (f"add rule {T} {svc_chain} ip saddr @{endpoint_name('affinity-', svc, endpoint)} "
                   f"goto {endpoint_name('endpoint-', svc, endpoint)}")
    vmap = " , ".join(f"{i} : goto {endpoint_name('endpoint-', svc, e)}" for i, e in enumerate(svc.endpoints))
    yield f"add rule {T} {svc_chain} numgen random mod {len(svc.endpoints)} vmap {{ {vmap} }}"
    for endpoint in svc.endpoints:
        ep = endpoint_name("endpoint-", svc, endpoint)
        yield f"add rule {T} {ep} ip saddr {endpoint.rsplit(':', 1)[0]} jump mark-for-masquerade"
        if svc.affinity:
            yield f"add rule {T} {ep} update @{endpoint_name('affinity-', svc, endpoint)} {{ ip saddr }}"
        yield f"add rule {T} {ep} meta l4proto tcp dnat to {endpoint}"


def transaction(services: list[Service]) -> Iterator[str]:
    yield from fixed()
    for svc in services:
        yield from declarations(svc)
    for svc in services:
        yield from rules(svc)


if __name__ == "__main__":
    raise SystemExit(generate.main(writer=transaction, suffix="nft", description=__doc__.splitlines()[0]))
