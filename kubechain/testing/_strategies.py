"""Hypothesis strategies for kube-proxy service ports, whole nat/filter tables, and cascades that
kube-proxy never writes. Arguments are checked up front (hypothesis.errors.InvalidArgument)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ..kube import MARK_MASQ_CHAIN
from ..model import (
    Chain,
    Comment,
    Dnat,
    Jump,
    MarkTarget,
    Negatable,
    Ports,
    Recent,
    Rule,
    Ruleset,
    StatisticNth,
    StatisticRandom,
    Table,
    Target,
    Verdict,
)
from ..netfilter import TWO_31, full_mask
from ._kube_proxy import (
    CLUSTER_NET,
    EXTERNAL_NET,
    POD_NET,
    KubeService,
    address,
    builtin,
    filter_table,
    hash16,
    host,
    kube_fixed_chains,
    nat_table,
    ruleset,
    with_counters,
)
from ._kube_proxy_nft import LAYOUTS, nft_ruleset, nft_table

FAMILIES = ("ipv4", "ipv6")
_PORT_NAMES = ("http", "https", "grpc", "metrics", "dns", "p80", "web")


def _check_family(family: str | None) -> None:
    if family is not None and family not in FAMILIES:
        raise InvalidArgument(f"family={family!r}: expected None, 'ipv4' or 'ipv6'")


def _check_range(name: str, low: int, high: int, minimum: int) -> None:
    for label, value in ((f"min_{name}", low), (f"max_{name}", high)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidArgument(f"{label}={value!r}: expected an int")
    if low < minimum or high < low:
        raise InvalidArgument(f"min_{name}={low}, max_{name}={high}: expected {minimum} <= min <= max")


def _names() -> st.SearchStrategy[str]:
    return st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8).filter(lambda s: s[0].isalpha())


def services(*, family: str | None = None, min_endpoints: int = 1, max_endpoints: int = 200,
             name: str | None = None) -> st.SearchStrategy[KubeService]:
    """A kube-proxy service port with `min_endpoints`..`max_endpoints` endpoints: named or unnamed
    port, tcp/udp/sctp, IPv4 or IPv6, comments on or off, optional ClientIP affinity, the
    masquerade rule, 10- or 5-decimal probabilities, optional NodePort/external IPs with
    externalTrafficPolicy Cluster or Local. Shrinks towards one IPv4 tcp endpoint."""
    _check_family(family)
    _check_range("endpoints", min_endpoints, max_endpoints, 1)
    if name is not None and (not isinstance(name, str) or not name):
        raise InvalidArgument(f"name={name!r}: expected a non-empty str")
    return _services(family, min_endpoints, max_endpoints, name)


@st.composite
def _services(draw: st.DrawFn, family: str | None, min_endpoints: int, max_endpoints: int,
              name: str | None) -> KubeService:
    fam = family or draw(st.sampled_from(FAMILIES))
    n = draw(st.integers(min_endpoints, max_endpoints))
    if n <= 8:  # drawn one by one: shrinks to readable addresses
        offsets = draw(st.lists(st.integers(1, 60000), min_size=n, max_size=n, unique=True))
    else:  # one draw for many endpoints keeps 200-endpoint services fast
        offsets = draw(st.randoms(use_true_random=False)).sample(range(1, 60000), n)
    has_external = draw(st.booleans())
    local = has_external and draw(st.booleans())
    return KubeService(
        namespace=draw(st.sampled_from(["default", "kube-system", "ns1", "web"])),
        name=name or draw(_names()),
        port_name=draw(st.one_of(st.none(), st.sampled_from(_PORT_NAMES))),
        protocol=draw(st.sampled_from(["tcp", "udp", "sctp"])),
        family=fam,
        cluster_ip=address(CLUSTER_NET[fam], draw(st.integers(1, 65000))),
        port=draw(st.sampled_from([80, 443, 53, 8080, 9100])),
        target_port=draw(st.sampled_from([80, 8080, 8443, 53, 3000])),
        endpoint_ips=tuple(address(POD_NET[fam], o) for o in offsets),
        comments=draw(st.booleans()),
        affinity_seconds=draw(st.one_of(st.none(), st.sampled_from([10800, 60]))),
        pod_cidr=draw(st.one_of(st.none(), st.just(str(POD_NET[fam])))),
        decimals=draw(st.sampled_from([10, 5])),
        node_port=draw(st.integers(30000, 32767)) if has_external and draw(st.booleans()) else None,
        external_ips=(address(EXTERNAL_NET[fam], draw(st.integers(1, 250))),) if has_external else (),
        local_policy=local,
        local_count=draw(st.integers(0, n)) if local else 0,
    )


def rulesets(*, family: str | None = None, counters: bool | None = None, filter_table: bool | None = None,
             max_services: int = 4, max_endpoints: int = 20) -> st.SearchStrategy[Ruleset]:
    """A node's kube-proxy nat table (built-in chains with policies, KUBE-SERVICES, KUBE-NODEPORTS,
    KUBE-EXT/KUBE-SVL, KUBE-MARK-MASQ, KUBE-POSTROUTING, the services' SVC/SEP chains), optionally
    Docker's and a CNI plugin's chains, a filter table, and counters (None: drawn)."""
    _check_family(family)
    _check_range("services", 0, max_services, 0)
    _check_range("endpoints", 1, max_endpoints, 1)
    for label, value in (("counters", counters), ("filter_table", filter_table)):
        if value is not None and not isinstance(value, bool):
            raise InvalidArgument(f"{label}={value!r}: expected None, True or False")
    return _rulesets(family, counters, filter_table, max_services, max_endpoints)


@st.composite
def _rulesets(draw: st.DrawFn, family: str | None, counters: bool | None, with_filter: bool | None,
              max_services: int, max_endpoints: int) -> Ruleset:
    fam = family or draw(st.sampled_from(FAMILIES))
    k = draw(st.integers(0, max_services))
    names = draw(st.lists(_names(), min_size=k, max_size=k, unique=True))
    svcs = [draw(_services(fam, 1, max_endpoints, n)) for n in names]
    tables = [nat_table(fam, svcs, docker=draw(st.booleans()), cni=draw(st.booleans()))]
    if with_filter if with_filter is not None else draw(st.booleans()):
        lonely = draw(st.lists(_services(fam, 1, 1, None), max_size=2))
        known = {t.port_text for t in svcs}
        tables.insert(0, filter_table(fam, [s for s in lonely if s.port_text not in known]))
    has_counters = draw(st.booleans()) if counters is None else counters
    if has_counters:
        # one seeded Random per table: counter values are not worth shrinking, and big tables stay fast
        tables = [with_counters(t, draw(st.randoms(use_true_random=False))) for t in tables]
    return ruleset(tables, fam, has_counters)


def nft_rulesets(*, family: str | None = None, layout: str | None = None, max_services: int = 4,
                 max_endpoints: int = 20) -> st.SearchStrategy[Ruleset]:
    """kube-proxy's nftables table (`ip kube-proxy` / `ip6 kube-proxy`, as `nft list ruleset` prints
    it back) for up to `max_services` service ports of 1..`max_endpoints` endpoints, plus services
    without endpoints; `layout` "vmap" (endpoint chains, v1.29–v1.35) or "map" (one DNAT map, v1.36),
    None: drawn. ClusterIP, NodePort, external IPs, externalTrafficPolicy Local, ClientIP affinity."""
    _check_family(family)
    if layout is not None and layout not in LAYOUTS:
        raise InvalidArgument(f"layout={layout!r}: expected None, 'vmap' or 'map'")
    _check_range("services", 0, max_services, 0)
    _check_range("endpoints", 1, max_endpoints, 1)
    return _nft_rulesets(family, layout, max_services, max_endpoints)


@st.composite
def _nft_rulesets(draw: st.DrawFn, family: str | None, layout: str | None, max_services: int,
                  max_endpoints: int) -> Ruleset:
    fam = family or draw(st.sampled_from(FAMILIES))
    k = draw(st.integers(0, max_services))
    names = draw(st.lists(_names(), min_size=k + 1, max_size=k + 1, unique=True))
    svcs = [draw(_services(fam, 1, max_endpoints, n)) for n in names[:k]]
    empty = tuple(draw(_services(fam, 1, 1, names[k])) for _ in range(draw(st.integers(0, 1))))
    # one service port per cluster IP, port and protocol: the service-ips map has one element each
    seen: set[tuple[str, str, int]] = set()
    unique: list[KubeService] = []
    for svc in [*svcs, *empty]:
        key = (svc.cluster_ip, svc.protocol, svc.port)
        if key not in seen and not (set(svc.external_ips) & {s.cluster_ip for s in unique}):
            seen.add(key)
            unique.append(svc)
    table = nft_table(fam, [s for s in unique if s not in empty], layout or draw(st.sampled_from(LAYOUTS)),
                      tuple(s for s in unique if s in empty))
    return nft_ruleset(table, fam)


_thresholds = st.one_of(st.integers(0, TWO_31), st.sampled_from([0, 1, TWO_31 // 2, TWO_31 - 1, TWO_31]))


@st.composite
def _condition(draw: st.DrawFn, family: str) -> dict[str, Any]:
    kind = draw(st.sampled_from(["none", "random", "random", "nth", "source", "not-source", "rcheck"]))
    if kind == "random":
        return {"matches": (StatisticRandom(Negatable(draw(_thresholds), draw(st.booleans()))),)}
    if kind == "nth":
        every = draw(st.integers(1, 10))
        return {"matches": (StatisticNth(Negatable(every, draw(st.booleans())), draw(st.integers(0, every - 1))),)}
    if kind in ("source", "not-source"):
        return {"source": Negatable(str(EXTERNAL_NET[family]), kind == "not-source")}
    if kind == "rcheck":
        return {"matches": (Recent(Negatable("CHECK"), "KUBE-SEP-AFFINITYAAAAAAAA", 10800, True,
                                   mask=full_mask(family)),)}
    return {}


def cascades(*, family: str | None = None, max_rules: int = 10, max_endpoints: int = 6) -> st.SearchStrategy[Ruleset]:
    """A nat table whose one KUBE-SVC chain is an arbitrary cascade: random thresholds (0 and 2^31
    included), `!` inversion, nth mode, rules that never match (`-s`, `--rcheck`), a missing
    unconditional last rule, jumps and gotos to KUBE-SEP chains, RETURN, ACCEPT and MARK rules (the
    kernel refuses DROP and REJECT in nat); the SEP chains may lack their DNAT, RETURN early, or
    DNAT only sometimes."""
    _check_family(family)
    _check_range("rules", 1, max_rules, 1)
    _check_range("endpoints", 1, max_endpoints, 1)
    return _cascades(family, max_rules, max_endpoints)


@st.composite
def _cascades(draw: st.DrawFn, family: str | None, max_rules: int, max_endpoints: int) -> Ruleset:
    fam = family or draw(st.sampled_from(FAMILIES))
    m = draw(st.integers(1, max_endpoints))
    seps = [f"KUBE-SEP-{hash16(f'cascade-{i}')}" for i in range(m)]
    tcp = Negatable("tcp")
    chains: dict[str, Chain] = {}
    for i, sep in enumerate(seps):
        ip = address(POD_NET[fam], i + 1)
        rules: list[Rule] = []
        if draw(st.booleans()):
            rules.append(Rule(Jump(MARK_MASQ_CHAIN), source=Negatable(ip)))
        if draw(st.integers(0, 4)) == 0:
            rules.append(Rule(Verdict("RETURN"), **draw(_condition(fam))))
        if draw(st.integers(0, 4)) > 0:  # most have their DNAT, some conditional
            cond = draw(_condition(fam)) if draw(st.integers(0, 3)) == 0 else {}
            rules.append(Rule(Dnat(f"{host(ip)}:8080"), (*cond.pop("matches", ()), Ports("tcp")), tcp, **cond))
        chains[sep] = Chain(sep, tuple(rules))
    svc = "KUBE-SVC-" + hash16(f"cascade-svc-{m}")
    targets = st.one_of(
        st.builds(Jump, st.sampled_from(seps)),
        st.builds(Jump, st.sampled_from(seps), st.just(True)),
        st.sampled_from([Verdict("RETURN"), Verdict("ACCEPT"), Jump(MARK_MASQ_CHAIN), None, MarkTarget(0x1, 0x1)]),
    )
    rules = []
    for _ in range(draw(st.integers(1, max_rules))):
        cond = draw(_condition(fam))
        target: Target | None = draw(targets)
        rules.append(Rule(target, cond.pop("matches", ()), **cond))
    chains[svc] = Chain(svc, tuple(rules))
    kube_services = Chain("KUBE-SERVICES", (
        Rule(Jump(svc), (Comment("cascade/svc:p cluster IP"), Ports("tcp", Negatable("80"))), tcp,
             destination=Negatable(address(CLUSTER_NET[fam], 10))),))
    table = Table("nat", {
        "PREROUTING": builtin("PREROUTING", [Rule(Jump("KUBE-SERVICES"))]),
        "INPUT": builtin("INPUT", []),
        "OUTPUT": builtin("OUTPUT", [Rule(Jump("KUBE-SERVICES"))]),
        "POSTROUTING": builtin("POSTROUTING", []),
        "KUBE-SERVICES": kube_services,
        **kube_fixed_chains(),
        **chains,
    })
    return ruleset([table], fam, False)
