"""A writer of kube-proxy's nftables-mode rules as kubechain models: the `ip kube-proxy` (or `ip6`)
table around a set of service ports (KubeService), as `nft list ruleset` prints it back for what
kube-proxy writes (pkg/proxy/nftables/proxier.go; fixtures/nft/kube-proxy-overall is its own test).

Two layouts: "vmap" (v1.29–v1.35: `numgen random mod N vmap { … }` over endpoint chains, each
with its masquerade jump, its affinity update and its DNAT) and "map" (v1.36: one `dnat ip to
numgen random mod N map { … }` rule, no endpoint chains; services with affinity keep the vmap).
The model is what the parser makes of nft's printout, so it compares with a parse directly.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from functools import lru_cache

from ..kube import (
    NFT_FIREWALL_IPS,
    NFT_MARK_MASQ_CHAIN,
    NFT_NO_ENDPOINT_NODEPORTS,
    NFT_NO_ENDPOINT_SERVICES,
    NFT_REJECT_CHAIN,
    NFT_SERVICE_IPS,
    NFT_SERVICE_NODEPORTS,
    NFT_TABLE,
)
from ..model import (
    Address,
    AddrType,
    Chain,
    Comment,
    ConnState,
    Dnat,
    DnatMap,
    Hook,
    Jump,
    Mark,
    MarkMatch,
    MarkSet,
    Masquerade,
    Negatable,
    NftSet,
    Numgen,
    Protocol,
    Reject,
    Rule,
    Ruleset,
    SetElement,
    SetLookup,
    SetUpdate,
    Table,
    Verdict,
    VerdictMap,
)
from ._kube_proxy import CLUSTER_NET, POD_NET, KubeService

MASQ = 0x4000
LAYOUTS = ("vmap", "map")
_NEW = ConnState(Negatable(("NEW",)), "ct")
_FAMILY = {"ipv4": ("ip", "ipv4_addr"), "ipv6": ("ip6", "ipv6_addr")}
_DISPATCH = ("ip daddr", "meta l4proto", "th dport")


@lru_cache(maxsize=65536)
def hashed(name: str) -> str:
    """kube-proxy's hashAndTruncate: 8 base32 characters of sha256(name), `-`, then name."""
    return base64.b32encode(hashlib.sha256(name.encode()).digest()).decode()[:8] + "-" + name


def base(s: KubeService) -> str:
    """`ns/svc/proto/port` (the port name is empty for an unnamed port)."""
    return f"{s.namespace}/{s.name}/{s.protocol}/{s.port_name or ''}"


def endpoint_base(s: KubeService, endpoint: str) -> str:
    """`ns/svc/proto/port__IP/port`, an IPv6 address with `.` for `:`."""
    ip, _, port = endpoint.rpartition(":")
    return f"{base(s)}__{ip.strip('[]').replace(':', '.')}/{port}"


def service_chain(s: KubeService) -> str:
    return "service-" + hashed(base(s))


def external_chain(s: KubeService) -> str:
    return "external-" + hashed(base(s))


def local_chain(s: KubeService) -> str:
    return "local-" + hashed(base(s))


def endpoint_chain(s: KubeService, endpoint: str) -> str:
    return "endpoint-" + hashed(endpoint_base(s, endpoint))


def affinity_set(s: KubeService, endpoint: str) -> str:
    return "affinity-" + hashed(endpoint_base(s, endpoint))


class _Writer:
    """The table of one family: fixed sets and chains, then each service's objects and elements."""

    def __init__(self, family: str, layout: str) -> None:
        self.x, self.addr = _FAMILY[family]
        self.family, self.layout = family, layout
        self.sets: dict[str, NftSet] = {}
        self.chains: dict[str, Chain] = {}
        self.elements: dict[str, list[SetElement]] = {}

    def _set(self, name: str, kind: str, key: tuple[str, ...], data: str | None = None, comment: str | None = None,
             flags: tuple[str, ...] = (), timeout_ms: int | None = None, size: int | None = None) -> None:
        self.sets[name] = NftSet(name, kind, key, data, flags, timeout_ms, size, comment)
        self.elements[name] = []

    def _chain(self, name: str, rules: list[Rule], hook: Hook | None = None, comment: str | None = None) -> None:
        self.chains[name] = Chain(name, tuple(rules), "ACCEPT" if hook else None, hook=hook, comment=comment)

    def fixed(self, node_ip: str) -> None:
        x, a = self.x, self.addr
        self._set("cluster-ips", "set", (a,), comment="Active ClusterIPs")
        self._set("nodeport-ips", "set", (a,), comment="IPs that accept NodePort traffic")
        self.elements["nodeport-ips"].append(SetElement((node_ip,)))
        verdict_map = (a, "inet_proto", "inet_service")
        self._set(NFT_FIREWALL_IPS, "map", verdict_map, "verdict",
                  "destinations that are subject to LoadBalancerSourceRanges")
        self._set(NFT_NO_ENDPOINT_NODEPORTS, "map", ("inet_proto", "inet_service"), "verdict",
                  "vmap to drop or reject packets to service nodeports with no endpoints")
        self._set(NFT_NO_ENDPOINT_SERVICES, "map", verdict_map, "verdict",
                  "vmap to drop or reject packets to services with no endpoints")
        self._set(NFT_SERVICE_IPS, "map", verdict_map, "verdict", "ClusterIP, ExternalIP and LoadBalancer IP traffic")
        self._set(NFT_SERVICE_NODEPORTS, "map", ("inet_proto", "inet_service"), "verdict", "NodePort traffic")
        daddr = f"{x} daddr"
        cidr = str(CLUSTER_NET[self.family])
        self._chain("cluster-ips-check", [
            Rule(Reject(None), (SetLookup((daddr,), "cluster-ips"),
                                Comment("Reject traffic to invalid ports of ClusterIPs"))),
            Rule(Verdict("DROP"), (Address(x, "daddr", Negatable(cidr)),
                                   Comment("Drop traffic to unallocated ClusterIPs"))),
        ])
        firewall = Rule(Jump("firewall-check"), (_NEW,))
        self._chain("filter-prerouting-pre-dnat", [firewall], Hook("filter", "prerouting", -110))
        self._chain("filter-output-pre-dnat", [firewall], Hook("filter", "output", -110))
        checks = {"filter-forward": ("service-endpoints-check", "cluster-ips-check"),
                  "filter-input": ("nodeport-endpoints-check", "service-endpoints-check"),
                  "filter-output": ("service-endpoints-check", "cluster-ips-check")}
        for name, targets in checks.items():
            self._chain(name, [Rule(Jump(t), (_NEW,)) for t in targets], Hook("filter", name.split("-")[1], 0))
        self._chain("firewall-check", [Rule(VerdictMap((daddr, *_DISPATCH[1:]), (), NFT_FIREWALL_IPS))])
        self._chain(NFT_MARK_MASQ_CHAIN, [Rule(None, (MarkSet(MASQ, MASQ),))])
        self._chain("masquerading", [Rule(Verdict("RETURN"), (MarkMatch(Negatable(Mark(0, MASQ))),)),
                                     Rule(None, (MarkSet(MASQ, 0),)),
                                     Rule(Masquerade(flags=("random-fully",)))])
        self._chain("nat-output", [Rule(Jump("services"))], Hook("nat", "output", -100))
        self._chain("nat-postrouting", [Rule(Jump("masquerading"))], Hook("nat", "postrouting", 100))
        self._chain("nat-prerouting", [Rule(Jump("services"))], Hook("nat", "prerouting", -100))
        nodeports = (SetLookup((daddr,), "nodeport-ips"),)
        self._chain("nodeport-endpoints-check", [
            Rule(VerdictMap(_DISPATCH[1:], (), NFT_NO_ENDPOINT_NODEPORTS), nodeports)])
        self._chain(NFT_REJECT_CHAIN, [Rule(Reject(None))],
                    comment="helper for @no-endpoint-services / @no-endpoint-nodeports")
        self._chain("services", [Rule(VerdictMap((daddr, *_DISPATCH[1:]), (), NFT_SERVICE_IPS)),
                                 Rule(VerdictMap(_DISPATCH[1:], (), NFT_SERVICE_NODEPORTS), nodeports)])
        self._chain("service-endpoints-check", [
            Rule(VerdictMap((daddr, *_DISPATCH[1:]), (), NFT_NO_ENDPOINT_SERVICES))])

    # --- one service port ---

    def service(self, s: KubeService) -> None:
        x, eps = self.x, s.endpoints
        svc = service_chain(s)
        port = (s.protocol, str(s.port))
        self.elements["cluster-ips"].append(SetElement((s.cluster_ip,)))
        if not eps:  # kube-proxy writes no chain, only the reject
            self.elements[NFT_NO_ENDPOINT_SERVICES].append(
                SetElement((s.cluster_ip, *port), Jump(NFT_REJECT_CHAIN, True), s.port_text))
            return
        self.elements[NFT_SERVICE_IPS].append(SetElement((s.cluster_ip, *port), Jump(svc, True)))
        masq: list[Rule] = []
        if s.pod_cidr:
            masq.append(Rule(Jump(NFT_MARK_MASQ_CHAIN), (Address(x, "daddr", Negatable(s.cluster_ip)),
                                                        Address(x, "saddr", Negatable(s.pod_cidr, True)))))
        self._chain(svc, masq + self._choice(s, eps))
        if self.layout == "vmap" or s.affinity_seconds is not None:
            for ep in eps:
                self._endpoint(s, ep)
        if s.has_external:
            self._external(s)

    def _choice(self, s: KubeService, eps: tuple[str, ...]) -> list[Rule]:
        """The affinity lookups and the numgen rule that choose among `eps`."""
        rules = []
        if s.affinity_seconds is not None:
            for ep in eps:
                rules.append(Rule(Jump(endpoint_chain(s, ep), True),
                                  (SetLookup((f"{self.x} saddr",), affinity_set(s, ep), False,
                                             s.affinity_seconds * 1000),)))
        numgen = Numgen("random", len(eps))
        if self.layout == "map" and s.affinity_seconds is None:
            rules.append(Rule(DnatMap(self.x, numgen, tuple(enumerate(eps))),
                              (Protocol("meta l4proto", Negatable(s.protocol)),)))
        else:
            rules.append(Rule(VerdictMap(numgen, tuple((str(i), Jump(endpoint_chain(s, ep), True))
                                                       for i, ep in enumerate(eps)))))
        return rules

    def _endpoint(self, s: KubeService, ep: str) -> None:
        x = self.x
        ip = ep.rpartition(":")[0].strip("[]")
        rules = [Rule(Jump(NFT_MARK_MASQ_CHAIN), (Address(x, "saddr", Negatable(ip)),))]
        if s.affinity_seconds is not None:
            name = affinity_set(s, ep)
            self._set(name, "set", (self.addr,), flags=("dynamic", "timeout"), timeout_ms=s.affinity_seconds * 1000,
                      size=65535)
            rules.append(Rule(None, (SetUpdate("update", name, (f"{x} saddr",)),)))
        rules.append(Rule(Dnat(ep), (Protocol("meta l4proto", Negatable(s.protocol)),)))
        self._chain(endpoint_chain(s, ep), rules)

    def _external(self, s: KubeService) -> None:
        x, ext, svc = self.x, external_chain(s), service_chain(s)
        port = (s.protocol, str(s.port))
        for ip in s.external_ips:
            self.elements[NFT_SERVICE_IPS].append(SetElement((ip, *port), Jump(ext, True)))
        if s.node_port is not None:
            self.elements[NFT_SERVICE_NODEPORTS].append(SetElement((s.protocol, str(s.node_port)), Jump(ext, True)))
        if not s.local_policy:
            self._chain(ext, [Rule(Jump(NFT_MARK_MASQ_CHAIN)), Rule(Jump(svc, True))])
            return
        local = AddrType(src_type=Negatable("LOCAL"))
        rules = [Rule(Jump(svc, True), (Address(x, "saddr", Negatable(s.pod_cidr or str(_pod_net(self.family)))),
                                        Comment("short-circuit pod traffic"))),
                 Rule(Jump(NFT_MARK_MASQ_CHAIN), (local, Comment("masquerade local traffic"))),
                 Rule(Jump(svc, True), (local, Comment("short-circuit local traffic")))]
        if s.local_count:
            rules.append(Rule(Jump(local_chain(s), True)))
            self._chain(local_chain(s), self._choice(s, s.endpoints[: s.local_count]))
        else:  # no local endpoint: external traffic is dropped
            for ip in s.external_ips:
                self.elements[NFT_NO_ENDPOINT_SERVICES].append(SetElement((ip, *port), Verdict("DROP"), s.port_text))
            if s.node_port is not None:
                self.elements[NFT_NO_ENDPOINT_NODEPORTS].append(
                    SetElement((s.protocol, str(s.node_port)), Verdict("DROP"), s.port_text))
        self._chain(ext, rules)

    def table(self) -> Table:
        sets = {name: _with_elements(named, tuple(self.elements[name])) for name, named in self.sets.items()}
        return Table(NFT_TABLE, self.chains, 0, self.x, sets, "rules for kube-proxy")


def _with_elements(named: NftSet, elements: tuple[SetElement, ...]) -> NftSet:
    return NftSet(named.name, named.kind, named.key_types, named.data_type, named.flags, named.timeout_ms,
                  named.size, named.comment, elements)


def _pod_net(family: str) -> str:
    return str(POD_NET[family])


def nft_table(family: str, services: list[KubeService], layout: str = "vmap",
              empty: tuple[KubeService, ...] = (), node_ip: str | None = None) -> Table:
    """kube-proxy's nftables table for `services` (and `empty`: services without endpoints, which
    get only their no-endpoints element), in `layout` ("vmap" or "map")."""
    writer = _Writer(family, layout)
    writer.fixed(node_ip or ("192.168.0.10" if family == "ipv4" else "2001:db8::10"))
    for s in services:
        writer.service(s)
    for s in empty:
        writer.service(replace(s, endpoint_ips=()))
    return writer.table()


def nft_ruleset(table: Table, family: str) -> Ruleset:
    return Ruleset((table,), "nft", family)

