"""A writer of kube-proxy's iptables-mode rules as kubechain models: one service port
(KubeService) and the nat and filter tables around a set of them. The model is what iptables
prints back for kube-proxy's input (thresholds, no /32, --set-xmark), so it compares with a parse."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import random
from dataclasses import dataclass, replace
from functools import lru_cache

from ..kube import MARK_MASQ_CHAIN, MASQ_MARK, kube_proxy_written
from ..model import (
    AddrType,
    Chain,
    Comment,
    ConnState,
    Counters,
    Dnat,
    Jump,
    Mark,
    MarkMatch,
    MarkTarget,
    Masquerade,
    Match,
    Multiport,
    Negatable,
    Ports,
    Recent,
    Reject,
    Rule,
    Ruleset,
    StatisticRandom,
    Table,
    Verdict,
)
from ..netfilter import default_reject, full_mask, statistic_threshold
from ..netfilter import printed_probability as _printed

CLUSTER_NET = {"ipv4": ipaddress.ip_network("10.96.0.0/16"), "ipv6": ipaddress.ip_network("fd00:10:96::/112")}
POD_NET = {"ipv4": ipaddress.ip_network("10.244.0.0/16"), "ipv6": ipaddress.ip_network("fd00:10:244::/64")}
EXTERNAL_NET = {"ipv4": ipaddress.ip_network("192.0.2.0/24"), "ipv6": ipaddress.ip_network("2001:db8::/96")}
MASQ = Mark(MASQ_MARK, MASQ_MARK)


@lru_cache(maxsize=4096)
def kube_proxy_probability(n: int, i: int, decimals: int = 10) -> str:
    """The `--probability` kube-proxy writes for rule i (from 0) of n: `%0.<decimals>f` of 1/(n-i)."""
    return kube_proxy_written(n - i, decimals)


def long_cascade(n: int) -> str:
    """iptables-save text of one kube-proxy service port of `n` endpoints (10.96.0.1:80/tcp, endpoints
    10.244.x.y:80, reached from PREROUTING and OUTPUT through KUBE-SERVICES), its cascade written as
    kube-proxy writes it: the long exact shares that benches and scale tests need, without a strategy."""
    svc = "KUBE-SVC-BENCHAAAAAAAAAAA"
    head = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
            ":POSTROUTING ACCEPT [0:0]", ":KUBE-SERVICES - [0:0]", f":{svc} - [0:0]"]
    body = ["-A PREROUTING -j KUBE-SERVICES", "-A OUTPUT -j KUBE-SERVICES",
            f"-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m tcp --dport 80 -j {svc}"]
    for i in range(n):
        sep = f"KUBE-SEP-B{i:015d}"
        head.append(f":{sep} - [0:0]")
        statistic = f"-m statistic --mode random --probability {kube_proxy_probability(n, i)} " if i < n - 1 else ""
        body += [f"-A {svc} {statistic}-j {sep}",
                 f"-A {sep} -p tcp -m tcp -j DNAT --to-destination 10.244.{i // 250}.{i % 250 + 1}:80"]
    return "\n".join([*head, *body, "COMMIT", ""])


@lru_cache(maxsize=4096)
def printed_probability(written: str) -> str:
    """What iptables prints back for `--probability written`: `%.11f` of t/2^31, t = lround(p·2^31)."""
    return _printed(statistic_threshold(written))


@lru_cache(maxsize=65536)
def hash16(text: str) -> str:
    """kube-proxy's chain suffix: the first 16 base32 characters of sha256(text)."""
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def address(network: ipaddress.IPv4Network | ipaddress.IPv6Network, index: int) -> str:
    return str(network.network_address + index)


def _on(text: str | None) -> Negatable[str] | None:
    return Negatable(text) if text is not None else None


@dataclass(frozen=True)
class KubeService:
    """One service port as kube-proxy (iptables mode) writes it, with its endpoints.

    `chains()` is the model iptables prints back for kube-proxy's input (probabilities as stored
    thresholds); `probabilities()` the printed probability text.
    """

    namespace: str
    name: str
    port_name: str | None  # None: an unnamed port (`ns/svc`)
    protocol: str  # tcp, udp, sctp
    family: str  # ipv4, ipv6
    cluster_ip: str
    port: int
    target_port: int
    endpoint_ips: tuple[str, ...]
    comments: bool = True  # kube-proxy drops SVC/SEP comments in large clusters
    affinity_seconds: int | None = None  # ClientIP session affinity
    pod_cidr: str | None = None  # the `! -s podCIDR -j KUBE-MARK-MASQ` rule of the SVC chain
    decimals: int = 10  # 10 since v1.17, 5 before
    node_port: int | None = None
    external_ips: tuple[str, ...] = ()
    local_policy: bool = False  # externalTrafficPolicy: Local (KUBE-EXT → KUBE-SVL)
    local_count: int = 0  # how many endpoints (the first ones) are local, for KUBE-SVL

    # -- names --
    @property
    def port_text(self) -> str:
        """`ns/svc:port`, or `ns/svc` for an unnamed port: what the comments call it."""
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port_name}" if self.port_name else base

    @property
    def hash(self) -> str:
        return hash16(self.port_text + self.protocol)

    @property
    def svc_chain(self) -> str:
        return "KUBE-SVC-" + self.hash

    @property
    def ext_chain(self) -> str:
        return "KUBE-EXT-" + self.hash

    @property
    def svl_chain(self) -> str:
        return "KUBE-SVL-" + self.hash

    @property
    def endpoints(self) -> tuple[str, ...]:
        """`IP:port` (`[IPv6]:port`) strings in kube-proxy's order: sorted lexically."""
        return tuple(sorted(f"{host(ip)}:{self.target_port}" for ip in self.endpoint_ips))

    def sep_chain(self, endpoint: str) -> str:
        return "KUBE-SEP-" + hash16(self.port_text + self.protocol + endpoint)

    @property
    def has_external(self) -> bool:
        return self.node_port is not None or bool(self.external_ips)

    def probabilities(self, n: int | None = None) -> tuple[str, ...]:
        """The printed probabilities of the first n−1 rules of an n-endpoint cascade."""
        n = len(self.endpoint_ips) if n is None else n
        return tuple(printed_probability(kube_proxy_probability(n, i, self.decimals)) for i in range(n - 1))

    def thresholds(self, n: int | None = None) -> tuple[int, ...]:
        """The stored thresholds of the first n−1 rules of an n-endpoint cascade."""
        n = len(self.endpoint_ips) if n is None else n
        return tuple(statistic_threshold(kube_proxy_probability(n, i, self.decimals)) for i in range(n - 1))

    # -- the model --
    def _ports(self, dport: str | None = None) -> Ports:
        return Ports(self.protocol, _on(dport))

    def frontend_rules(self) -> list[Rule]:
        """KUBE-SERVICES rules: the cluster IP, then external IPs."""
        protocol = Negatable(self.protocol)
        rules = [Rule(Jump(self.svc_chain), (Comment(f"{self.port_text} cluster IP"), self._ports(str(self.port))),
                      protocol, destination=Negatable(self.cluster_ip))]
        for ip in self.external_ips:
            rules.append(Rule(Jump(self.ext_chain), (Comment(f"{self.port_text} external IP"),
                                                     self._ports(str(self.port))),
                              protocol, destination=Negatable(ip)))
        return rules

    def nodeport_rules(self) -> list[Rule]:
        if self.node_port is None:
            return []
        return [Rule(Jump(self.ext_chain), (Comment(self.port_text), self._ports(str(self.node_port))),
                     Negatable(self.protocol))]

    def _cascade(self, chain: str, endpoints: tuple[str, ...], masquerade: bool) -> Chain:
        rules = []
        if masquerade and self.pod_cidr:
            rules.append(Rule(Jump(MARK_MASQ_CHAIN), (Comment(f"{self.port_text} cluster IP"),
                                                      self._ports(str(self.port))),
                              Negatable(self.protocol), source=Negatable(self.pod_cidr, True),
                              destination=Negatable(self.cluster_ip)))

        def comment(ep: str) -> tuple[Match, ...]:
            return (Comment(f"{self.port_text} -> {ep}"),) if self.comments else ()

        if self.affinity_seconds is not None:
            for ep in endpoints:
                sep = self.sep_chain(ep)
                rules.append(Rule(Jump(sep), (*comment(ep), Recent(Negatable("CHECK"), sep, self.affinity_seconds,
                                                                    True, mask=full_mask(self.family)))))
        thresholds = self.thresholds(len(endpoints))
        for i, ep in enumerate(endpoints):
            stat: tuple[Match, ...] = ((StatisticRandom(Negatable(thresholds[i])),) if i < len(thresholds) else ())
            rules.append(Rule(Jump(self.sep_chain(ep)), (*comment(ep), *stat)))
        return Chain(chain, tuple(rules))

    def _sep(self, ep: str) -> Chain:
        ip = ep.rsplit(":", 1)[0].strip("[]")
        sep = self.sep_chain(ep)
        note: tuple[Match, ...] = (Comment(self.port_text),) if self.comments else ()
        recent: tuple[Match, ...] = ((Recent(Negatable("SET"), sep, mask=full_mask(self.family)),)
                                     if self.affinity_seconds is not None else ())
        return Chain(sep, (
            Rule(Jump(MARK_MASQ_CHAIN), note, source=Negatable(ip)),
            Rule(Dnat(ep), (*note, *recent, self._ports()), Negatable(self.protocol)),
        ))

    def _ext(self) -> Chain:
        s = self.port_text
        if not self.local_policy:
            return Chain(self.ext_chain, (
                Rule(Jump(MARK_MASQ_CHAIN), (Comment(f"masquerade traffic for {s} external destinations"),)),
                Rule(Jump(self.svc_chain)),
            ))
        local = (AddrType(src_type=Negatable("LOCAL")),)
        rules = [
            Rule(Jump(self.svc_chain), (Comment(f"pod traffic for {s} external destinations"),),
                 source=Negatable(self.pod_cidr or str(POD_NET[self.family]))),
            Rule(Jump(MARK_MASQ_CHAIN), (Comment(f"masquerade LOCAL traffic for {s} external destinations"), *local)),
            Rule(Jump(self.svc_chain), (Comment(f"route LOCAL traffic for {s} external destinations"), *local)),
        ]
        if self.local_count:
            rules.append(Rule(Jump(self.svl_chain)))
        return Chain(self.ext_chain, tuple(rules))

    def chains(self) -> dict[str, Chain]:
        """The service's own nat chains (SVC, SEPs, and KUBE-EXT/KUBE-SVL when it has them)."""
        eps = self.endpoints
        out = {self.svc_chain: self._cascade(self.svc_chain, eps, True)}
        if self.has_external:
            out[self.ext_chain] = self._ext()
            if self.local_policy and self.local_count:
                out[self.svl_chain] = self._cascade(self.svl_chain, eps[: self.local_count], False)
        for ep in eps:
            out[self.sep_chain(ep)] = self._sep(ep)
        return out

    def ruleset(self, *, counters: bool = False) -> Ruleset:
        """This service alone in a kube-proxy nat table."""
        return ruleset([nat_table(self.family, [self], docker=False)], self.family, counters)


def builtin(name: str, rules: list[Rule], policy: str = "ACCEPT") -> Chain:
    return Chain(name, tuple(rules), policy)


def kube_fixed_chains() -> dict[str, Chain]:
    return {
        MARK_MASQ_CHAIN: Chain(MARK_MASQ_CHAIN, (Rule(MarkTarget(MASQ_MARK, MASQ_MARK)),)),
        "KUBE-POSTROUTING": Chain("KUBE-POSTROUTING", (
            Rule(Verdict("RETURN"), (MarkMatch(Negatable(MASQ, True)),)),
            Rule(MarkTarget(MASQ_MARK, 0)),
            Rule(Masquerade(flags=("random-fully",)), (Comment("kubernetes service traffic requiring SNAT"),)),
        )),
    }


def nat_table(family: str, svcs: list[KubeService], docker: bool, cni: bool = False) -> Table:
    portals = Rule(Jump("KUBE-SERVICES"), (Comment("kubernetes service portals"),))
    prerouting, output = [portals], [portals]
    postrouting = [Rule(Jump("KUBE-POSTROUTING"), (Comment("kubernetes postrouting rules"),))]
    local_destination = (AddrType(dst_type=Negatable("LOCAL")),)
    if docker:
        prerouting.append(Rule(Jump("DOCKER"), local_destination))
        loop = "127.0.0.0/8" if family == "ipv4" else "::1"
        output.append(Rule(Jump("DOCKER"), local_destination, destination=Negatable(loop, True)))
        bridge = "172.17.0.0/16" if family == "ipv4" else "fd00:dead:beef::/48"
        postrouting.append(Rule(Masquerade(), source=Negatable(bridge), out_interface=Negatable("docker0", True)))
    if cni:
        prerouting.append(Rule(Jump("CNI-HOSTPORT-DNAT"), local_destination))
    chains = {name: builtin(name, rules) for name, rules in (
        ("PREROUTING", prerouting), ("INPUT", []), ("OUTPUT", output), ("POSTROUTING", postrouting))}
    kube_services = [r for s in svcs for r in s.frontend_rules()]
    kube_services.append(Rule(Jump("KUBE-NODEPORTS"), (
        Comment("kubernetes service nodeports; NOTE: this must be the last rule in this chain"), *local_destination)))
    chains["KUBE-SERVICES"] = Chain("KUBE-SERVICES", tuple(kube_services))
    chains["KUBE-NODEPORTS"] = Chain("KUBE-NODEPORTS", tuple(r for s in svcs for r in s.nodeport_rules()))
    chains.update(kube_fixed_chains())
    for s in svcs:
        chains.update(s.chains())
    if docker:
        chains["DOCKER"] = Chain("DOCKER", (Rule(Verdict("RETURN"), in_interface=Negatable("docker0")),))
    if cni:
        pod = address(POD_NET[family], 7)
        dnat = f"{host(pod)}:80"
        dn_chain = "CNI-DN-" + hash16("cni")[:17]
        tcp = Negatable("tcp")
        chains["CNI-HOSTPORT-DNAT"] = Chain("CNI-HOSTPORT-DNAT", (
            Rule(Jump(dn_chain), (Comment('dnat name: "cbr0" id: "0123abcd"'),
                                  Multiport("dports", Negatable("8080"))), tcp),))
        chains[dn_chain] = Chain(dn_chain, (Rule(Dnat(dnat), (Ports("tcp", Negatable("8080")),), tcp),))
    return Table("nat", chains)


def filter_table(family: str, no_endpoints: list[KubeService]) -> Table:
    """kube-proxy's filter table, with the `has no endpoints` REJECTs of `no_endpoints`."""
    services = [Rule(Reject(default_reject(family)), (Comment(f"{s.port_text} has no endpoints"),
                                                      s._ports(str(s.port))),
                     Negatable(s.protocol), destination=Negatable(s.cluster_ip)) for s in no_endpoints]
    new = ConnState(Negatable(("NEW",)))
    chains = {
        "INPUT": builtin("INPUT", [Rule(Jump("KUBE-FIREWALL"))]),
        "FORWARD": builtin("FORWARD", [Rule(Jump("KUBE-FORWARD"), (Comment("kubernetes forwarding rules"),))],
                           "DROP"),
        "OUTPUT": builtin("OUTPUT", [Rule(Jump("KUBE-SERVICES"), (Comment("kubernetes service portals"), new))]),
        "KUBE-FIREWALL": Chain("KUBE-FIREWALL", ()),
        "KUBE-FORWARD": Chain("KUBE-FORWARD", (
            Rule(Verdict("DROP"), (ConnState(Negatable(("INVALID",))),)),
            Rule(Verdict("ACCEPT"), (Comment("kubernetes forwarding rules"), MarkMatch(Negatable(MASQ)))),
            Rule(Verdict("ACCEPT"), (Comment("kubernetes forwarding conntrack rule"),
                                     ConnState(Negatable(("RELATED", "ESTABLISHED"))))),
        )),
        "KUBE-SERVICES": Chain("KUBE-SERVICES", tuple(services)),
    }
    return Table("filter", chains)


def ruleset(tables: list[Table], family: str, counters: bool) -> Ruleset:
    return Ruleset(tuple(tables), "iptables-save", family, None, has_counters=counters)


def with_counters(table: Table, rng: random.Random) -> Table:
    """Every rule and built-in policy gets counters, some big enough for K/M/G/T abbreviation."""
    def counters() -> Counters:
        packets = rng.choice((0, rng.randrange(100), rng.randrange(100000), rng.randrange(10**13)))
        return Counters(packets, packets * rng.randrange(40, 1500))

    chains = {}
    for chain in table.chains.values():
        rules = tuple(replace(r, counters=counters()) for r in chain.rules)
        chains[chain.name] = Chain(chain.name, rules, chain.policy, counters() if chain.builtin else None)
    return Table(table.name, chains)
