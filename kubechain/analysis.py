"""Ruleset → Analysis: each service port's endpoints with exact selection probabilities,
their counters, and the diagnostics found on the way. The objects mirror the JSON schema."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .cascade import relative_deviation
from .checks import no_endpoints, service_findings, table_findings
from .diagnostics import Diagnostic, ordered
from .fit import Fit, goodness_of_fit
from .gcpause import gc_frozen
from .kube import ServicePort, chain_hash, commented_address, service_ports
from .model import Jump, Recent, Rule, Ruleset, Table, UnknownMatch
from .numbers import rational
from .tables import table_family
from .walk import EndpointShare, Walk, walk_chain

DEFAULT_TOLERANCE = Fraction(1, 1000)  # relative deviation from 1/n before `non-uniform` fires


@dataclass(frozen=True, slots=True)
class Endpoint:
    chain: str
    address: str | None  # `10.1.2.3:8080` or `[fd00::5]:8080`; from the DNAT, else the comment
    share: Fraction  # exact probability of receiving a new connection
    observed: int | None  # DNAT packet counter = new connections seen; None without counters
    observed_exact: bool  # False when the counter was printed with a K/M/G/T suffix
    line: int | None  # the DNAT rule, else the first rule jumping here

    @property
    def probability(self) -> Any:
        """The share as a sympy.Rational (reduced)."""
        return rational(self.share)


@dataclass(frozen=True, slots=True)
class Service:
    name: str | None
    chain: str
    kind: str  # "cluster", "local" or "external"
    family: str
    cluster_ip: str | None
    port: int | None
    protocol: str | None
    affinity_seconds: int | None
    endpoints: tuple[Endpoint, ...]
    unassigned: Fraction  # mass that leaves the chain without reaching a DNAT
    frontends: tuple[Any, ...]
    line: int
    observed_total: int | None = None  # sum of the endpoints' observed counters; None without counters
    fit: Fit | None = None  # observed counters vs the exact shares; None without counters or all zero
    table: int = 0  # index of its nat table in Ruleset.tables (dual-stack dumps repeat chain names)

    @property
    def unassigned_probability(self) -> Any:
        return rational(self.unassigned)

    @property
    def fair_share(self) -> Fraction | None:
        n = len(self.endpoints)
        return Fraction(1, n) if n else None


@dataclass(frozen=True, slots=True)
class Analysis:
    path: str | None
    format: str
    family: str
    services: tuple[Service, ...]
    diagnostics: tuple[Diagnostic, ...]
    has_counters: bool


def analyze(ruleset: Ruleset, tolerance: Fraction = DEFAULT_TOLERANCE) -> Analysis:
    """Walk every service-port chain of every nat table (gc paused: the results are acyclic)."""
    with gc_frozen():
        return _analyze(ruleset, tolerance)


def _analyze(ruleset: Ruleset, tolerance: Fraction) -> Analysis:
    diagnostics: list[Diagnostic] = []
    services: list[Service] = []
    if not any(t.chains for t in ruleset.tables):
        diagnostics.append(Diagnostic(
            "empty-input", "info", None, None,
            "the input holds no chains (iptables-save prints nothing on a node whose kube-proxy uses "
            "nftables): no services to analyze"))
    for index, table in enumerate(ruleset.tables):
        if table.name == "nat":
            services.extend(_services(table, index, table_family(table) or ruleset.family, ruleset, diagnostics,
                                      tolerance))
            diagnostics.extend(table_findings(table, ruleset.partial))
        elif table.name == "filter":
            diagnostics.extend(no_endpoints(table))
    diagnostics.extend(_unknown_matches(ruleset))
    return Analysis(ruleset.path, ruleset.format, ruleset.family, tuple(services), ordered(diagnostics),
                    ruleset.has_counters)


def _services(table: Table, index: int, family: str, ruleset: Ruleset, diagnostics: list[Diagnostic],
              tolerance: Fraction) -> list[Service]:
    out = []
    entries: dict[str, list[Rule]] | None = None
    jumps_into: Counter[str] | None = None
    for port in service_ports(table):
        walk = walk_chain(table.chains, port.chain)
        endpoints = tuple(_endpoint(share, ruleset.has_counters) for share in walk.endpoints.values())
        observed_total, fit = None, None
        if ruleset.has_counters:
            observed_total = sum(e.observed or 0 for e in endpoints)
            # all zero and nothing can fall through: no fit (and no cost on a big node's idle services)
            if observed_total or walk.unassigned:
                if entries is None:
                    entries, jumps_into = _entry_rules(table), _endpoint_jumps(table)
                shared = any(jumps_into[s.chain] > len(s.jump_rules) for s in walk.endpoints.values())
                fit = observed_fit(walk, endpoints, _entered(table, port.chain, entries), shared)
        service = Service(port.name, port.chain, port.kind, family, port.cluster_ip, port.port,
                          port.protocol, walk.affinity_seconds, endpoints, walk.unassigned,
                          port.frontends, port.line, observed_total, fit, index)
        out.append(service)
        diagnostics.extend(_walk_findings(service, port, walk, tolerance))
        diagnostics.extend(service_findings(service, table.chains))
    return out


def _endpoint(share: EndpointShare, has_counters: bool) -> Endpoint:
    address = share.destination
    if address is None and share.missing:
        address = next((a for r in share.jump_rules if (a := commented_address(r))), None)
    counted = share.dnat_rules if share.dnat_rules else (share.jump_rules if share.missing else [])
    observed, exact = None, False
    if has_counters:
        counters = [r.counters for r in counted if r.counters is not None]
        observed = sum(c.packets for c in counters)
        exact = all(c.packets_exact for c in counters)
    first = share.dnat_rules or share.jump_rules
    return Endpoint(share.chain, address, share.mass, observed, exact, first[0].line if first else None)


def observed_fit(walk: Walk, endpoints: tuple[Endpoint, ...], entered: int | None,
                 shared: bool = False) -> Fit | None:
    """The dump's counters against the exact shares (see README, "Observed counters").

    Counts are the DNAT rules' packet counters (= new connections per endpoint). With ClientIP
    affinity a returning client repeats its endpoint, so those are not independent draws: the
    counters of the rules that jump to the endpoints without `recent --rcheck` (the choices made
    for new clients) are used instead. K/M/G-rounded counters decline the test (reason given):
    the rounding error can exceed the sampling noise the test measures. `entered` is the count of
    connections that entered the chain, when known: the rest is the `unassigned` cell. `shared`:
    other chains jump into these endpoint chains too (KUBE-SVC and KUBE-SVL of an
    externalTrafficPolicy: Local service), so their DNAT counters mix both paths and this
    chain's own jump rules are counted instead."""
    shares = [e.share for e in endpoints]
    unassigned_probability = walk.unassigned
    if walk.affinity_seconds is not None or shared:
        source = "jump-rules"
        rules = [[r for r in share.jump_rules if not _rcheck(r)] for share in walk.endpoints.values()]
        counters = [[r.counters for r in group if r.counters is not None] for group in rules]
        counts = [sum(c.packets for c in group) for group in counters]
        exact = all(c.packets_exact for group in counters for c in group)
        if walk.affinity_seconds is not None:
            entered = None  # returning clients enter too; only the new clients' choices are counted
    else:
        source = "dnat"
        counts = [e.observed or 0 for e in endpoints]
        exact = all(e.observed_exact or e.observed == 0 for e in endpoints)
    total = sum(counts)
    # an unassigned cell only where the rules let connections fall through: otherwise a gap between
    # the entry and endpoint counters is a non-atomic snapshot of a busy node, not an event
    known = entered is not None and entered >= total and unassigned_probability > 0
    unassigned = entered - total if known else None
    if total == 0 and not unassigned:
        return None
    if not exact:
        return Fit("none", None, None, total, None, source,
                   "counters printed with a K/M/G suffix are rounded by up to half a unit, more than the "
                   "sampling noise this test measures: list with -x (or use iptables-save -c) for a fit",
                   tuple(counts))
    return goodness_of_fit(counts, shares, unassigned, unassigned_probability, source)


def _rcheck(rule: Rule) -> bool:
    return any(type(m) is Recent and m.command in ("CHECK", "UPDATE") for m in rule.matches)


def _endpoint_jumps(table: Table) -> Counter[str]:
    """How many rules of the table jump into each KUBE-SEP chain (one scan per table)."""
    return Counter(rule.target.chain for chain in table.chains.values() for rule in chain.rules
                   if type(rule.target) is Jump and rule.target.chain.startswith("KUBE-SEP-"))


def _entry_rules(table: Table) -> dict[str, list[Rule]]:
    """Rules of KUBE-SERVICES and KUBE-NODEPORTS by the chain they jump to (one scan per table)."""
    found: dict[str, list[Rule]] = {}
    for name in ("KUBE-SERVICES", "KUBE-NODEPORTS"):
        chain = table.chains.get(name)
        for rule in chain.rules if chain else ():
            if type(rule.target) is Jump:
                found.setdefault(rule.target.chain, []).append(rule)
    return found


def _entered(table: Table, chain: str, entries: dict[str, list[Rule]]) -> int | None:
    """Connections that entered `chain`: the counters of the jumps into it from KUBE-SERVICES,
    KUBE-NODEPORTS and the chains of its own service port (KUBE-EXT/FW/SVC/SVL with its hash).
    None when a counter is missing or rounded."""
    h = chain_hash(chain)
    rules = list(entries.get(chain, ()))
    for prefix in ("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-XLB-", "KUBE-FW-"):
        group = table.chains.get(prefix + h) if h else None
        if group is not None and group.name != chain:
            rules.extend(r for r in group.rules if type(r.target) is Jump and r.target.chain == chain)
    if not rules or any(r.counters is None or not r.counters.packets_exact for r in rules):
        return None
    return sum(r.counters.packets for r in rules)  # type: ignore[union-attr]


def _walk_findings(service: Service, port: ServicePort, walk: Walk, tolerance: Fraction) -> list[Diagnostic]:
    found = []
    label = service.name or service.chain
    for chain, line in walk.cycles:
        found.append(Diagnostic("jump-cycle", "error", chain, line,
                                f"jumping to {chain} from {service.chain}'s path loops back into a chain "
                                "already being evaluated; the kernel refuses such rules"))
    for chain in walk.no_dnat:
        found.append(Diagnostic("no-dnat", "error", chain, _endpoint_line(service, chain),
                                f"{chain} ({label}) ends without a DNAT rule, so its share of new "
                                "connections silently passes to the next rule"))
    if service.unassigned > 0 and service.kind != "external":
        found.append(Diagnostic("fall-through", "error", service.chain, service.line,
                                f"{label}: {float(service.unassigned):.6%} of new connections leave "
                                f"{service.chain} without reaching any endpoint"))
    found.extend(_uniformity(service, label, tolerance))
    return found


def _endpoint_line(service: Service, chain: str) -> int | None:
    """The line that locates an endpoint chain: its DNAT rule, else the first jump into it."""
    return next((e.line for e in service.endpoints if e.chain == chain), service.line)


def _uniformity(service: Service, label: str, tolerance: Fraction) -> list[Diagnostic]:
    n = len(service.endpoints)
    if n < 2:
        return []
    worst = max(service.endpoints, key=lambda e: relative_deviation(e.share, n))
    deviation = relative_deviation(worst.share, n)
    if deviation <= tolerance:
        return []
    return [Diagnostic("non-uniform", "warning", service.chain, service.line,
                       f"{label}: {worst.address or worst.chain} gets {float(worst.share):.4%} of new "
                       f"connections where a fair 1/{n} is {1 / n:.4%} "
                       f"({_relative_text(deviation)} off; tolerance {_relative_text(tolerance)})")]


def _relative_text(value: Fraction) -> str:
    return f"{float(value):.1%}" if value >= Fraction(1, 1000) or not value else f"{float(value):.2e}"


def _unknown_matches(ruleset: Ruleset) -> list[Diagnostic]:
    """One info per distinct uninterpreted match text, with how often it occurs."""
    seen: Counter[str] = Counter()
    first: dict[str, tuple[str, int]] = {}
    for table in ruleset.tables:
        for chain in table.chains.values():
            for rule in chain.rules:
                for m in rule.matches:
                    if type(m) is UnknownMatch:
                        seen[m.text] += 1
                        first.setdefault(m.text, (chain.name, rule.line))
    return [Diagnostic("unknown-match", "info", first[text][0], first[text][1],
                       f"match text kept verbatim, not interpreted ({count} rule{'s' * (count > 1)}; "
                       f"taken as matching where it lies on a service path): {text}")
            for text, count in seen.items()]
