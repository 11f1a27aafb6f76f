"""Ruleset → Analysis: walk every service port chain of every nat table, read its counters, and run
every registered check on what the walks found; then adjust the fits' p-values for the number of
service ports tested (Holm) and run the checks that read them."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from ..kube import ServicePort, service_ports
from ..memory import gc_frozen
from ..model import Ruleset, Table, table_family
from . import checks  # noqa: F401  (registers every diagnostic code)
from .checks import ServiceCheck, TableCheck
from .counters import TableCounters, endpoint_address, endpoint_observed, observed_fit
from .diagnostics import Diagnostic, ordered, run
from .fit import holm
from .results import Analysis, Endpoint, Service
from .tolerance import DEFAULT_TOLERANCE
from .walk import BOUNDED, EndpointShare, Interval, PrecisionLimit, Walk, exact_walk, walk_chain


def analyze(ruleset: Ruleset, tolerance: Fraction = DEFAULT_TOLERANCE) -> Analysis:
    """Each service port's endpoints with their exact, kernel-level selection probabilities, their
    counters and fit, and the diagnostics (gc paused: the results are acyclic)."""
    with gc_frozen():
        diagnostics: list[Diagnostic] = run("input", ruleset)
        services: list[Service] = []
        for table in ruleset.tables:
            if table.name == "nat":
                counters = TableCounters(table)
                family = table_family(table) or ruleset.family
                for port in service_ports(table):
                    walk, bounds = _walk(table, port.chain)
                    service = _service(port, walk, bounds, family, ruleset.has_counters, counters)
                    services.append(service)
                    diagnostics.extend(run("service", ServiceCheck(service, walk, tolerance)))
                diagnostics.extend(run("nat", TableCheck(table, ruleset.partial, counters.jumps), ruleset.partial))
            elif table.name == "filter":
                diagnostics.extend(run("filter", TableCheck(table, ruleset.partial)))
        adjusted = [dataclasses.replace(s, fit=f) if f is not s.fit else s
                    for s, f in zip(services, holm([s.fit for s in services]), strict=True)]
        for service in adjusted:
            diagnostics.extend(run("fit", service))
        return Analysis(ruleset.path, ruleset.format, ruleset.family, tuple(adjusted), ordered(diagnostics),
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


def _service(port: ServicePort, walk: Walk[Fraction], bounds: Bounds | None, family: str, has_counters: bool,
             counters: TableCounters) -> Service:
    chains = port.table.chains
    observed = [endpoint_observed(share, chains) if has_counters else (None, False)
                for share in walk.endpoints.values()]
    endpoints = tuple(Endpoint(share.chain, endpoint_address(share), share.mass, seen, exact, _line(share),
                               bounds.get(key) if bounds else None, share.missing)
                      for (key, share), (seen, exact) in zip(walk.endpoints.items(), observed, strict=True))
    unassigned = walk.unassigned or Fraction(0)
    # a total only where every endpoint's chain was printed with counters (they belong to each block)
    observed_total = sum(n for n, _ in observed if n is not None) if observed and all(
        n is not None for n, _ in observed) else None
    fit = None
    # all zero and nothing can fall through: no fit (and no cost on a big node's idle services)
    if any(n is not None for n, _ in observed) and (observed_total != 0 or unassigned):
        fit = observed_fit(walk, [e.share for e in endpoints], observed, counters)
    return Service(port, family, walk.affinity_seconds, endpoints, unassigned, observed_total, fit,
                   bounds.get("") if bounds else None)


def _line(share: EndpointShare[Fraction]) -> int | None:
    """The line that locates an endpoint: its DNAT rule, else the first rule jumping to it."""
    rules = share.dnat_rules or share.jump_rules
    return rules[0].line if rules else None
