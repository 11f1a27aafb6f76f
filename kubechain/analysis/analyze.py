"""Ruleset → Analysis: walk every service port chain of every nat table, read its counters, and run
every registered check on what the walks found; then adjust the fits' p-values for the number of
service ports tested (Holm) and run the checks that read them."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from fractions import Fraction

from ..kube import ServicePort, service_ports
from ..kube_nft import affinity_clients, is_kube_proxy_table
from ..kube_nft import service_ports as nft_service_ports
from ..memory import gc_frozen
from ..model import Ruleset, SetLookup, Table, table_family
from ..selection import matches
from . import checks  # noqa: F401  (registers every diagnostic code)
from .checks import InputCheck, ServiceCheck, TableCheck
from .counters import TableCounters, endpoint_address, endpoint_observed, observed_fit
from .diagnostics import Diagnostic, ordered, run
from .fit import holm
from .results import Analysis, Endpoint, Service
from .tolerance import DEFAULT_TOLERANCE
from .walk import BOUNDED, EndpointShare, Interval, PrecisionLimit, Walk, exact_walk, walk_chain

#: how the analysis reports progress: (phase, done, total), e.g. ("analyzing", 1200, 30000)
ProgressCallback = Callable[[str, int, int], None]


def analyze(ruleset: Ruleset, tolerance: Fraction = DEFAULT_TOLERANCE,
            progress: ProgressCallback | None = None) -> Analysis:
    """Each service port's endpoints with their exact, kernel-level selection probabilities, their
    counters and fit, and the diagnostics (gc paused: the results are acyclic). A rule set sliced
    for `--service TEXT` (kubechain.selection) yields only the service ports TEXT selects."""
    with gc_frozen():
        diagnostics: list[Diagnostic] = run("input", InputCheck(ruleset))
        services: list[Service] = []
        nat = [(table, [p for p in _service_ports(table) if matches(p.name, p.chain, ruleset.selection)])
               for table in ruleset.tables if _nat(table)]
        total, done = sum(len(ports) for _, ports in nat), 0
        for table in ruleset.tables:
            if table.name == "filter" or is_kube_proxy_table(table):  # nftables mode: one table for both
                diagnostics.extend(run("filter", TableCheck(table, ruleset.partial)))
        for table, ports in nat:
            counters = TableCounters(table)
            family = table_family(table) or ruleset.family
            for port in ports:
                walk, bounds = _walk(table, port.chain)
                service = _service(port, walk, bounds, family, ruleset.has_counters, counters)
                services.append(service)
                diagnostics.extend(run("service", ServiceCheck(service, walk, tolerance)))
                done += 1
                if progress is not None and done % 256 == 0:
                    progress("analyzing service ports", done, total)
            diagnostics.extend(run("nat", TableCheck(table, ruleset.partial, counters.jumps), ruleset.partial))
        if progress is not None:
            progress("analyzing service ports", done, total)
        adjusted = [dataclasses.replace(s, fit=f) if f is not s.fit else s
                    for s, f in zip(services, holm([s.fit for s in services]), strict=True)]
        for service in adjusted:
            diagnostics.extend(run("fit", service))
        return Analysis(ruleset.path, ruleset.format, input_family(ruleset), tuple(adjusted), ordered(diagnostics),
                        ruleset.has_counters)


Bounds = dict[str, tuple[Fraction, Fraction]]  # endpoint key (or "" for unassigned) → certified interval


def _walk(table: Table, chain: str) -> tuple[Walk[Fraction], Bounds | None]:
    """The exact walk; where its values would outgrow the precision limit, the walk of certified
    intervals, with each mass's midpoint standing in for the share and the intervals beside."""
    try:
        return exact_walk(table.chains, chain), None
    except PrecisionLimit:
        bounded: Walk[Interval] = walk_chain(table.chains, chain, BOUNDED)
    bounds: Bounds = {key: (s.mass.low, s.mass.high) for key, s in bounded.endpoints.items()}
    unassigned = bounded.unassigned or BOUNDED.zero
    bounds[""] = (unassigned.low, unassigned.high)
    walk: Walk[Fraction] = Walk(bounded.start, Fraction(0), {}, unassigned.middle, bounded.cycles, bounded.no_dnat,
                                bounded.endpoint_jumps, bounded.affinity)
    walk.endpoints = {key: EndpointShare(s.chain, s.mass.middle, s.destination, s.dnat_rules, s.jump_rules, s.missing)
                      for key, s in bounded.endpoints.items()}
    return walk, bounds


def _nat(table: Table) -> bool:
    """A table whose chains select endpoints: iptables' nat (also as nft prints iptables-nft's), or
    kube-proxy's own nftables table."""
    return table.name == "nat" or is_kube_proxy_table(table)


def _service_ports(table: Table) -> list[ServicePort]:
    return nft_service_ports(table) if is_kube_proxy_table(table) else service_ports(table)


def input_family(ruleset: Ruleset) -> str:
    """The header's family: "ipv4", "ipv6", or "ipv4+ipv6" for a dual-stack input whose nat
    tables show both (whatever the order of the tables in the file)."""
    families = {f for t in ruleset.tables if _nat(t) and (f := table_family(t))}
    return "ipv4+ipv6" if len(families) > 1 else ruleset.family


def _service(port: ServicePort, walk: Walk[Fraction], bounds: Bounds | None, family: str, has_counters: bool,
             counters: TableCounters) -> Service:
    chains = port.table.chains
    observed = [endpoint_observed(share, chains) if has_counters else (None, False)
                for share in walk.endpoints.values()]
    endpoints = tuple(Endpoint(share.chain, endpoint_address(share), share.mass, seen, exact, _line(share),
                               bounds.get(key) if bounds else None, share.missing)
                      for (key, share), (seen, exact) in zip(walk.endpoints.items(), observed, strict=True))
    unassigned = walk.unassigned or Fraction(0)
    # a total only where every endpoint has a counter of its own (counters belong to each chain block)
    observed_total = sum(n for n, _ in observed if n is not None) if observed and all(
        n is not None for n, _ in observed) else None
    fit = None
    # all zero and nothing can fall through: no fit (and no cost on a big node's idle services)
    if any(n is not None for n, _ in observed) and (observed_total != 0 or unassigned):
        fit = observed_fit(walk, [e.share for e in endpoints], observed, counters)
    return Service(port, family, walk.affinity_seconds, endpoints, unassigned, observed_total, fit,
                   unassigned_interval=bounds.get("") if bounds else None,
                   affinity_clients=_remembered_clients(port.table, walk))


def _remembered_clients(table: Table, walk: Walk[Fraction]) -> int | None:
    """nftables mode: the clients in the affinity sets the service's chain looks up."""
    sets = [m.set for m in walk.affinity.get(walk.start, ()) if type(m) is SetLookup]
    return affinity_clients(table, sets) if sets else None


def _line(share: EndpointShare[Fraction]) -> int | None:
    """The line that locates an endpoint: its DNAT rule, else the first rule jumping to it."""
    rules = share.dnat_rules or share.jump_rules
    return rules[0].line if rules else None
