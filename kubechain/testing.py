"""Hypothesis strategies for iptables rule sets as kube-proxy writes them, and as iptables prints
them back (public: import it as `from kubechain import testing`, like `hypothesis.extra`).

Every strategy yields the model that :func:`kubechain.load` returns for the real printout, so a
generated value can be compared with a parse directly: probabilities are the `%.11f` text of
`t/2^31` that iptables prints (never kube-proxy's `0.3333333333`), host prefixes (`/32`, `/128`)
are dropped, IPv6 addresses are in `inet_ntop` form, protocol numbers are names, and MARK
targets are `--set-xmark` value/mask pairs.

- :func:`services` — one service port (:class:`KubeService`) with 1..200 endpoints.
- :func:`rulesets` — whole nat (and filter) tables as a :class:`kubechain.model.Ruleset`.
- :func:`cascades` — statistic chains kube-proxy would never write (in a nat Ruleset).
- :func:`dumps` / :func:`renderings` — those rulesets printed by :mod:`kubechain.render`.
- :func:`register_profiles` — the `dev`, `ci` and `nightly` hypothesis settings profiles.
- :func:`uniformity_bound` — how far kube-proxy's quantised shares may be from 1/n.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from .cascade import kube_proxy_written
from .model import (
    TWO_31,
    AddrType,
    Chain,
    Comment,
    ConnState,
    Counters,
    Dnat,
    Jump,
    MarkMatch,
    MarkTarget,
    Masquerade,
    Match,
    Multiport,
    Ports,
    Recent,
    Reject,
    Rule,
    Ruleset,
    StatisticNth,
    StatisticRandom,
    Table,
    Target,
    Verdict,
    probability_threshold,
)
from .render_values import probability as printed_threshold

__all__ = [
    "FORMATS", "Dump", "KubeService", "cascades", "dumps", "kube_proxy_probability", "printed_probability",
    "register_profiles", "renderings", "rulesets", "services", "uniformity_bound",
]

FORMATS = ("iptables-save", "iptables-S", "iptables-list")
MASQ_MARK = 0x4000
_MASKS = {"ipv4": "255.255.255.255", "ipv6": "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}
_CLUSTER_NET = {"ipv4": ipaddress.ip_network("10.96.0.0/16"), "ipv6": ipaddress.ip_network("fd00:10:96::/112")}
_POD_NET = {"ipv4": ipaddress.ip_network("10.244.0.0/16"), "ipv6": ipaddress.ip_network("fd00:10:244::/64")}
_EXTERNAL_NET = {"ipv4": ipaddress.ip_network("192.0.2.0/24"), "ipv6": ipaddress.ip_network("2001:db8::/96")}
_PORT_NAMES = ("http", "https", "grpc", "metrics", "dns", "p80", "web")


# --- numbers --------------------------------------------------------------------------------------

@lru_cache(maxsize=4096)
def kube_proxy_probability(n: int, i: int, decimals: int = 10) -> str:
    """The `--probability` kube-proxy writes for rule i (from 0) of n: `%0.<decimals>f` of 1/(n-i)."""
    return kube_proxy_written(n - i, decimals)


@lru_cache(maxsize=4096)
def printed_probability(written: str) -> str:
    """What iptables prints back for `--probability written`: `%.11f` of t/2^31, t = lround(p·2^31)."""
    return printed_threshold(probability_threshold(written))


def uniformity_bound(n: int, decimals: int = 10) -> float:
    """Largest relative deviation |share·n − 1| of any endpoint of an n-endpoint kube-proxy chain.

    Why it holds: rule i (of n, from 0) is written as p_i = 1/(n−i) rounded to `decimals`
    places (error ≤ ½·10^−d, plus ≤ 2^−53·p_i from formatting the double 1/(n−i)); iptables stores
    t_i = lround(p·2^31) (error ≤ 2^−32), and prints t_i/2^31 with %.11f, which reads back to the
    same t_i. So q_i = t_i/2^31 is within δ = ½·10^−d + 2^−32 + 2^−52 of 1/(n−i). Endpoint k gets
    q_k·∏_{j<k}(1−q_j) (the last one ∏_{j<n−1}(1−q_j)), while 1/n is the same product with exact
    p's. The factors' relative errors are at most δ/p_k = δ(n−k) and δ/(1−p_j) = δ(n−j)/(n−j−1);
    their sum, maximal for the last two endpoints, is δ·((n−1) + H_{n−1}) =: S (H = harmonic
    number), and a product of factors within (1 ± e_j) is within [1 − Σe, e^{Σe}], so
    |share·n − 1| ≤ e^S − 1. For d = 10 that is ≈ 2.8e−10·n; for d = 5, ≈ 5e−6·n.

    The bound is nearly reached: the first endpoint's error δ(n−k) dominates and, for n whose
    1/n rounds badly both in decimal and in binary, reaches more than half of it (the property
    tests search for such n).
    """
    if n <= 1:
        return 0.0
    delta = 0.5 * 10.0 ** -decimals + 2.0 ** -32 + 2.0 ** -52
    harmonic = math.fsum(1.0 / m for m in range(1, n))
    return math.expm1(delta * ((n - 1) + harmonic) * (1 + 1e-12))


# --- kube-proxy names ----------------------------------------------------------------------------

@lru_cache(maxsize=65536)
def _hash16(text: str) -> str:
    """kube-proxy's chain suffix: the first 16 base32 characters of sha256(text)."""
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


@dataclass(frozen=True)
class KubeService:
    """One service port as kube-proxy (iptables mode) writes it, with its endpoints.

    `chains()` is the model iptables prints back; `restore_lines()` is kube-proxy's own input
    text for iptables-restore (probabilities as kube-proxy formats them).
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
        return _hash16(self.port_text + self.protocol)

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
        return tuple(sorted(f"{_host(ip)}:{self.target_port}" for ip in self.endpoint_ips))

    def sep_chain(self, endpoint: str) -> str:
        return "KUBE-SEP-" + _hash16(self.port_text + self.protocol + endpoint)

    @property
    def has_external(self) -> bool:
        return self.node_port is not None or bool(self.external_ips)

    def probabilities(self, n: int | None = None) -> tuple[str, ...]:
        """The printed probabilities of the first n−1 rules of an n-endpoint cascade."""
        n = len(self.endpoint_ips) if n is None else n
        return tuple(printed_probability(kube_proxy_probability(n, i, self.decimals)) for i in range(n - 1))

    # -- the model --
    def _ports(self, dport: str | None = None) -> Ports:
        return Ports(self.protocol, dport)

    def frontend_rules(self) -> list[Rule]:
        """KUBE-SERVICES rules: the cluster IP, then external IPs."""
        rules = [Rule(Jump(self.svc_chain), (Comment(f"{self.port_text} cluster IP"), self._ports(str(self.port))),
                      self.protocol, destination=self.cluster_ip)]
        for ip in self.external_ips:
            rules.append(Rule(Jump(self.ext_chain), (Comment(f"{self.port_text} external IP"),
                                                     self._ports(str(self.port))),
                              self.protocol, destination=ip))
        return rules

    def nodeport_rules(self) -> list[Rule]:
        if self.node_port is None:
            return []
        return [Rule(Jump(self.ext_chain), (Comment(self.port_text), self._ports(str(self.node_port))),
                     self.protocol)]

    def _cascade(self, chain: str, endpoints: tuple[str, ...], masquerade: bool) -> Chain:
        rules = []
        if masquerade and self.pod_cidr:
            rules.append(Rule(Jump("KUBE-MARK-MASQ"), (Comment(f"{self.port_text} cluster IP"),
                                                       self._ports(str(self.port))),
                              self.protocol, source=self.pod_cidr, destination=self.cluster_ip,
                              source_negated=True))
        comment = (lambda ep: (Comment(f"{self.port_text} -> {ep}"),)) if self.comments else (lambda ep: ())
        if self.affinity_seconds is not None:
            for ep in endpoints:
                sep = self.sep_chain(ep)
                rules.append(Rule(Jump(sep), (*comment(ep), Recent("CHECK", sep, self.affinity_seconds, True,
                                                                    mask=_MASKS[self.family]))))
        probs = self.probabilities(len(endpoints))
        for i, ep in enumerate(endpoints):
            stat: tuple[Match, ...] = (StatisticRandom(probs[i]),) if i < len(probs) else ()
            rules.append(Rule(Jump(self.sep_chain(ep)), (*comment(ep), *stat)))
        return Chain(chain, tuple(rules))

    def _sep(self, ep: str) -> Chain:
        ip = ep.rsplit(":", 1)[0].strip("[]")
        sep = self.sep_chain(ep)
        note: tuple[Match, ...] = (Comment(self.port_text),) if self.comments else ()
        recent: tuple[Match, ...] = ((Recent("SET", sep, mask=_MASKS[self.family]),)
                                     if self.affinity_seconds is not None else ())
        return Chain(sep, (
            Rule(Jump("KUBE-MARK-MASQ"), note, source=ip),
            Rule(Dnat(ep), (*note, *recent, self._ports()), self.protocol),
        ))

    def _ext(self) -> Chain:
        s = self.port_text
        if not self.local_policy:
            return Chain(self.ext_chain, (
                Rule(Jump("KUBE-MARK-MASQ"), (Comment(f"masquerade traffic for {s} external destinations"),)),
                Rule(Jump(self.svc_chain)),
            ))
        rules = [
            Rule(Jump(self.svc_chain), (Comment(f"pod traffic for {s} external destinations"),),
                 source=self.pod_cidr or str(_POD_NET[self.family])),
            Rule(Jump("KUBE-MARK-MASQ"), (Comment(f"masquerade LOCAL traffic for {s} external destinations"),
                                          AddrType(src_type="LOCAL"))),
            Rule(Jump(self.svc_chain), (Comment(f"route LOCAL traffic for {s} external destinations"),
                                        AddrType(src_type="LOCAL"))),
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
        return _ruleset([_nat_table(self.family, [self], docker=False)], self.family, counters)


# --- strategies: building blocks --------------------------------------------------------------------

def _address(family: str, network: ipaddress._BaseNetwork, index: int) -> str:
    return str(network.network_address + index)


def _names() -> st.SearchStrategy[str]:
    return st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8).filter(
        lambda s: s[0].isalpha())


@st.composite
def services(draw: st.DrawFn, *, family: str | None = None, min_endpoints: int = 1, max_endpoints: int = 200,
             name: str | None = None) -> KubeService:
    """A kube-proxy service port with `min_endpoints`..`max_endpoints` endpoints: named or unnamed
    port, tcp/udp/sctp, IPv4 or IPv6, comments on or off, optional ClientIP affinity, the
    masquerade rule, 10- or 5-decimal probabilities, optional NodePort/external IPs with
    externalTrafficPolicy Cluster or Local. Shrinks towards one IPv4 tcp endpoint."""
    fam = family or draw(st.sampled_from(["ipv4", "ipv6"]))
    n = draw(st.integers(min_endpoints, max_endpoints))
    if n <= 8:  # drawn one by one: shrinks to readable addresses
        offsets = draw(st.lists(st.integers(1, 60000), min_size=n, max_size=n, unique=True))
    else:  # one draw for many endpoints keeps 200-endpoint services fast
        offsets = draw(st.randoms(use_true_random=False)).sample(range(1, 60000), n)
    svc_name = name or draw(_names())
    has_external = draw(st.booleans())
    local = has_external and draw(st.booleans())
    return KubeService(
        namespace=draw(st.sampled_from(["default", "kube-system", "ns1", "web"])),
        name=svc_name,
        port_name=draw(st.one_of(st.none(), st.sampled_from(_PORT_NAMES))),
        protocol=draw(st.sampled_from(["tcp", "udp", "sctp"])),
        family=fam,
        cluster_ip=_address(fam, _CLUSTER_NET[fam], draw(st.integers(1, 65000))),
        port=draw(st.sampled_from([80, 443, 53, 8080, 9100])),
        target_port=draw(st.sampled_from([80, 8080, 8443, 53, 3000])),
        endpoint_ips=tuple(_address(fam, _POD_NET[fam], o) for o in offsets),
        comments=draw(st.booleans()),
        affinity_seconds=draw(st.one_of(st.none(), st.sampled_from([10800, 60]))),
        pod_cidr=draw(st.one_of(st.none(), st.just(str(_POD_NET[fam])))),
        decimals=draw(st.sampled_from([10, 5])),
        node_port=draw(st.integers(30000, 32767)) if has_external and draw(st.booleans()) else None,
        external_ips=(_address(fam, _EXTERNAL_NET[fam], draw(st.integers(1, 250))),) if has_external else (),
        local_policy=local,
        local_count=draw(st.integers(0, n)) if local else 0,
    )


def _builtin(name: str, rules: list[Rule], policy: str = "ACCEPT") -> Chain:
    return Chain(name, tuple(rules), policy)


def _kube_fixed_chains(family: str) -> dict[str, Chain]:
    return {
        "KUBE-MARK-MASQ": Chain("KUBE-MARK-MASQ", (Rule(MarkTarget(MASQ_MARK, MASQ_MARK)),)),
        "KUBE-POSTROUTING": Chain("KUBE-POSTROUTING", (
            Rule(Verdict("RETURN"), (MarkMatch(f"{MASQ_MARK:#x}/{MASQ_MARK:#x}", True),)),
            Rule(MarkTarget(MASQ_MARK, 0)),
            Rule(Masquerade("random-fully"), (Comment("kubernetes service traffic requiring SNAT"),)),
        )),
    }


def _docker_nat(family: str) -> dict[str, Chain]:
    return {"DOCKER": Chain("DOCKER", (Rule(Verdict("RETURN"), in_interface="docker0"),))}


def _nat_table(family: str, svcs: list[KubeService], docker: bool, cni: bool = False) -> Table:
    portals = Rule(Jump("KUBE-SERVICES"), (Comment("kubernetes service portals"),))
    prerouting, output = [portals], [portals]
    postrouting = [Rule(Jump("KUBE-POSTROUTING"), (Comment("kubernetes postrouting rules"),))]
    if docker:
        prerouting.append(Rule(Jump("DOCKER"), (AddrType(dst_type="LOCAL"),)))
        loop = "127.0.0.0/8" if family == "ipv4" else "::1"
        output.append(Rule(Jump("DOCKER"), (AddrType(dst_type="LOCAL"),), destination=loop,
                           destination_negated=True))
        bridge = "172.17.0.0/16" if family == "ipv4" else "fd00:dead:beef::/48"
        postrouting.append(Rule(Masquerade(), source=bridge, out_interface="!docker0"))
    if cni:
        prerouting.append(Rule(Jump("CNI-HOSTPORT-DNAT"), (AddrType(dst_type="LOCAL"),)))
    chains = {name: _builtin(name, rules) for name, rules in (
        ("PREROUTING", prerouting), ("INPUT", []), ("OUTPUT", output), ("POSTROUTING", postrouting))}
    kube_services = [r for s in svcs for r in s.frontend_rules()]
    kube_services.append(Rule(Jump("KUBE-NODEPORTS"), (
        Comment("kubernetes service nodeports; NOTE: this must be the last rule in this chain"),
        AddrType(dst_type="LOCAL"))))
    chains["KUBE-SERVICES"] = Chain("KUBE-SERVICES", tuple(kube_services))
    chains["KUBE-NODEPORTS"] = Chain("KUBE-NODEPORTS", tuple(r for s in svcs for r in s.nodeport_rules()))
    chains.update(_kube_fixed_chains(family))
    for s in svcs:
        chains.update(s.chains())
    if docker:
        chains.update(_docker_nat(family))
    if cni:
        pod = _address(family, _POD_NET[family], 7)
        dnat = f"{_host(pod)}:80"
        chains["CNI-HOSTPORT-DNAT"] = Chain("CNI-HOSTPORT-DNAT", (
            Rule(Jump("CNI-DN-" + _hash16("cni")[:17]), (
                Comment('dnat name: "cbr0" id: "0123abcd"'), Multiport("dports", "8080")), "tcp"),))
        chains["CNI-DN-" + _hash16("cni")[:17]] = Chain("CNI-DN-" + _hash16("cni")[:17], (
            Rule(Dnat(dnat), (Ports("tcp", "8080"),), "tcp"),))
    return Table("nat", chains)


def _filter_table(family: str, svcs: list[KubeService], no_endpoints: list[KubeService]) -> Table:
    reject_with = "icmp-port-unreachable" if family == "ipv4" else "icmp6-port-unreachable"
    services = [Rule(Reject(reject_with), (Comment(f"{s.port_text} has no endpoints"), s._ports(str(s.port))),
                     s.protocol, destination=s.cluster_ip) for s in no_endpoints]
    chains = {
        "INPUT": _builtin("INPUT", [Rule(Jump("KUBE-FIREWALL"))]),
        "FORWARD": _builtin("FORWARD", [Rule(Jump("KUBE-FORWARD"), (Comment("kubernetes forwarding rules"),))],
                            "DROP"),
        "OUTPUT": _builtin("OUTPUT", [Rule(Jump("KUBE-SERVICES"), (Comment("kubernetes service portals"),
                                                                  ConnState("NEW")))]),
        "KUBE-FIREWALL": Chain("KUBE-FIREWALL", ()),
        "KUBE-FORWARD": Chain("KUBE-FORWARD", (
            Rule(Verdict("DROP"), (ConnState("INVALID"),)),
            Rule(Verdict("ACCEPT"), (Comment("kubernetes forwarding rules"),
                                     MarkMatch(f"{MASQ_MARK:#x}/{MASQ_MARK:#x}"))),
            Rule(Verdict("ACCEPT"), (Comment("kubernetes forwarding conntrack rule"),
                                     ConnState("RELATED,ESTABLISHED"))),
        )),
        "KUBE-SERVICES": Chain("KUBE-SERVICES", tuple(services)),
    }
    return Table("filter", chains)


def _with_counters(table: Table, draw: st.DrawFn) -> Table:
    """Every rule and built-in policy gets counters; some big enough for K/M/G/T abbreviation.
    One seeded Random per table: counter values are not worth shrinking, and it keeps big tables fast."""
    rng = draw(st.randoms(use_true_random=False))

    def counters() -> Counters:
        packets = rng.choice((0, rng.randrange(100), rng.randrange(100000), rng.randrange(10**13)))
        return Counters(packets, packets * rng.randrange(40, 1500))

    chains = {}
    for chain in table.chains.values():
        rules = tuple(_replace(r, counters=counters()) for r in chain.rules)
        chains[chain.name] = Chain(chain.name, rules, chain.policy, counters() if chain.builtin else None)
    return Table(table.name, chains)


def _replace(rule: Rule, **changes: Any) -> Rule:
    from dataclasses import replace
    return replace(rule, **changes)


def _ruleset(tables: list[Table], family: str, counters: bool) -> Ruleset:
    return Ruleset(tuple(tables), "iptables-save", family, None, has_counters=counters)


@st.composite
def rulesets(draw: st.DrawFn, *, family: str | None = None, counters: bool | None = None,
             filter_table: bool | None = None, max_services: int = 4, max_endpoints: int = 20) -> Ruleset:
    """A node's kube-proxy nat table (built-in chains with policies, KUBE-SERVICES, KUBE-NODEPORTS,
    KUBE-EXT/KUBE-SVL, KUBE-MARK-MASQ, KUBE-POSTROUTING, the services' SVC/SEP chains), optionally
    Docker's and a CNI plugin's chains, a filter table, and counters (None: drawn)."""
    fam = family or draw(st.sampled_from(["ipv4", "ipv6"]))
    k = draw(st.integers(0, max_services))
    names = draw(st.lists(_names(), min_size=k, max_size=k, unique=True))
    svcs = [draw(services(family=fam, max_endpoints=max_endpoints, name=n)) for n in names]
    nat = _nat_table(fam, svcs, docker=draw(st.booleans()), cni=draw(st.booleans()))
    tables = [nat]
    if filter_table if filter_table is not None else draw(st.booleans()):
        lonely = draw(st.lists(services(family=fam, max_endpoints=1), max_size=2))
        tables.insert(0, _filter_table(fam, svcs, [s for s in lonely if s.port_text not in {
            t.port_text for t in svcs}]))
    has_counters = draw(st.booleans()) if counters is None else counters
    if has_counters:
        tables = [_with_counters(t, draw) for t in tables]
    return _ruleset(tables, fam, has_counters)


# --- arbitrary cascades ---------------------------------------------------------------------------


_thresholds = st.one_of(st.integers(0, TWO_31), st.sampled_from([0, 1, TWO_31 // 2, TWO_31 - 1, TWO_31]))


@st.composite
def _condition(draw: st.DrawFn, family: str) -> dict[str, Any]:
    kind = draw(st.sampled_from(["none", "random", "random", "nth", "source", "not-source", "rcheck"]))
    if kind == "random":
        return {"matches": (StatisticRandom(printed_threshold(draw(_thresholds)), draw(st.booleans())),)}
    if kind == "nth":
        every = draw(st.integers(1, 10))
        return {"matches": (StatisticNth(every, draw(st.integers(0, every - 1)), draw(st.booleans())),)}
    if kind in ("source", "not-source"):
        return {"source": str(_EXTERNAL_NET[family]), "source_negated": kind == "not-source"}
    if kind == "rcheck":
        return {"matches": (Recent("CHECK", "KUBE-SEP-AFFINITYAAAAAAAA", 10800, True, mask=_MASKS[family]),)}
    return {}


@st.composite
def cascades(draw: st.DrawFn, *, family: str | None = None, max_rules: int = 10,
             max_endpoints: int = 6) -> Ruleset:
    """A nat table whose one KUBE-SVC chain is an arbitrary cascade: random thresholds (0 and 2^31
    included), `!` inversion, nth mode, rules that never match (`-s`, `--rcheck`), a missing
    unconditional last rule, jumps and gotos to KUBE-SEP chains, RETURN, ACCEPT and MARK rules (the
    kernel refuses DROP and REJECT in nat);
    the SEP chains may lack their DNAT, RETURN early, or DNAT only sometimes."""
    fam = family or draw(st.sampled_from(["ipv4", "ipv6"]))
    m = draw(st.integers(1, max_endpoints))
    seps = [f"KUBE-SEP-{_hash16(f'cascade-{i}')}" for i in range(m)]
    chains: dict[str, Chain] = {}
    for i, sep in enumerate(seps):
        ip = _address(fam, _POD_NET[fam], i + 1)
        rules: list[Rule] = []
        if draw(st.booleans()):
            rules.append(Rule(Jump("KUBE-MARK-MASQ"), source=ip))
        if draw(st.integers(0, 4)) == 0:
            rules.append(Rule(Verdict("RETURN"), **draw(_condition(fam))))
        if draw(st.integers(0, 4)) > 0:  # most have their DNAT, some conditional
            cond = draw(_condition(fam)) if draw(st.integers(0, 3)) == 0 else {}
            rules.append(Rule(Dnat(f"{_host(ip)}:8080"), (*cond.pop("matches", ()), Ports("tcp")), "tcp", **cond))
        chains[sep] = Chain(sep, tuple(rules))
    svc = "KUBE-SVC-" + _hash16(f"cascade-svc-{m}")
    n_rules = draw(st.integers(1, max_rules))
    targets = st.one_of(
        st.builds(Jump, st.sampled_from(seps)),
        st.builds(Jump, st.sampled_from(seps), st.just(True)),
        st.sampled_from([Verdict("RETURN"), Verdict("ACCEPT"), Jump("KUBE-MARK-MASQ"), None,
                         MarkTarget(0x1, 0x1)]),
    )
    rules = []
    for _ in range(n_rules):
        cond = draw(_condition(fam))
        target: Target | None = draw(targets)
        rules.append(Rule(target, cond.pop("matches", ()), **cond))
    chains[svc] = Chain(svc, tuple(rules))
    cluster_ip = _address(fam, _CLUSTER_NET[fam], 10)
    kube_services = Chain("KUBE-SERVICES", (
        Rule(Jump(svc), (Comment("cascade/svc:p cluster IP"), Ports("tcp", "80")), "tcp", destination=cluster_ip),))
    table = Table("nat", {
        "PREROUTING": _builtin("PREROUTING", [Rule(Jump("KUBE-SERVICES"))]),
        "INPUT": _builtin("INPUT", []),
        "OUTPUT": _builtin("OUTPUT", [Rule(Jump("KUBE-SERVICES"))]),
        "POSTROUTING": _builtin("POSTROUTING", []),
        "KUBE-SERVICES": kube_services,
        **_kube_fixed_chains(fam),
        **chains,
    })
    return _ruleset([table], fam, False)


# --- rendered text --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Dump:
    """A model, and the text :func:`kubechain.render.render` printed for it with `options`."""

    model: Ruleset
    fmt: str
    options: dict[str, Any] = field(default_factory=dict)
    text: str = ""


def _list_options(draw: st.DrawFn) -> dict[str, Any]:
    verbose = draw(st.booleans())
    return {"numeric": draw(st.booleans()), "verbose": verbose, "exact": verbose and draw(st.booleans()),
            "line_numbers": draw(st.booleans()), "protocol_names": draw(st.booleans())}


@st.composite
def renderings(draw: st.DrawFn, fmt: str | None = None, models: st.SearchStrategy[Ruleset] | None = None) -> Dump:
    """A ruleset (default: :func:`rulesets`) rendered in `fmt` (default: drawn) with drawn options:
    every `-L` variant (`-n` or not, `-v`, `-x`, `--line-numbers`, numeric or named protocol
    column, all chains or one), `-S` (one table, all chains or one, `-v` or not), and
    `iptables-save` with or without `-c`. `-L` of several tables is their listings one after
    another; `options` holds `table` (and `chain`) when the printout shows one table (chain)."""
    from .render import render

    fmt = fmt or draw(st.sampled_from(FORMATS))
    model = draw(models if models is not None else rulesets())
    if fmt == "iptables-save":
        options = {"counters": draw(st.booleans()), "backend": draw(st.sampled_from(["nft", "legacy"]))}
        return Dump(model, fmt, options, render(model, fmt, **options))
    if fmt == "iptables-S":
        table = draw(st.sampled_from([t.name for t in model.tables])) if model.tables else "nat"
        options = {"table": table, "verbose": draw(st.booleans()), **_one_chain(draw, model, table)}
        return Dump(model, fmt, options, render(model, fmt, **options))
    options = _list_options(draw)
    if model.tables and draw(st.integers(0, 4)) == 0:  # `iptables -t T -L CHAIN …`: one chain
        table = draw(st.sampled_from([t.name for t in model.tables]))
        options = {"table": table, **options, **_one_chain(draw, model, table, always=True)}
        return Dump(model, fmt, options, render(model, fmt, **options))
    text = "\n".join(render(model, fmt, table=t.name, **options) for t in model.tables)
    return Dump(model, fmt, options, text)


def _one_chain(draw: st.DrawFn, model: Ruleset, table: str, always: bool = False) -> dict[str, str]:
    """`{"chain": NAME}` for a one-chain printout (`-L CHAIN`, `-S CHAIN`), sometimes (or always)."""
    found = model.table(table)
    if found is None or not found.chains or not (always or draw(st.integers(0, 4)) == 0):
        return {}
    return {"chain": draw(st.sampled_from(sorted(found.chains)))}


def dumps(fmt: str | None = None, models: st.SearchStrategy[Ruleset] | None = None) -> st.SearchStrategy[str]:
    """Dump text as iptables prints it, in `fmt` (default: any format the parser reads)."""
    return renderings(fmt, models).map(lambda d: d.text)


# --- settings profiles ----------------------------------------------------------------------------

def register_profiles() -> None:
    """Register `dev` (quick, for editing), `ci` (≥ 300 examples per property, deterministic, no
    deadline, no example database) and `nightly` (5000 examples). Load one with
    `pytest --hypothesis-profile=NAME`."""
    quiet = [HealthCheck.too_slow, HealthCheck.data_too_large]
    settings.register_profile("dev", max_examples=40, deadline=None, suppress_health_check=quiet)
    settings.register_profile("ci", max_examples=300, deadline=None, database=None, derandomize=True,
                              suppress_health_check=quiet, print_blob=True)
    settings.register_profile("nightly", max_examples=5000, deadline=None, suppress_health_check=quiet)
