"""Ruleset → Analysis: walk every service port chain of every nat table, read its counters, and run
every registered check on what the walks found."""

from __future__ import annotations

from fractions import Fraction

from ..kube import ServicePort, service_ports
from ..memory import gc_frozen
from ..model import Ruleset, table_family
from . import checks  # noqa: F401  (registers every diagnostic code)
from .checks import ServiceCheck, TableCheck
from .counters import TableCounters, endpoint_address, endpoint_observed, observed_fit
from .diagnostics import Diagnostic, ordered, run
from .results import Analysis, Endpoint, Service
from .tolerance import DEFAULT_TOLERANCE
from .walk import EndpointShare, Walk, exact_walk


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
                    walk = exact_walk(table.chains, port.chain)
                    service = _service(port, walk, family, ruleset.has_counters, counters)
                    services.append(service)
                    diagnostics.extend(run("service", ServiceCheck(service, walk, tolerance)))
                diagnostics.extend(run("nat", TableCheck(table, ruleset.partial, counters.jumps), ruleset.partial))
            elif table.name == "filter":
                diagnostics.extend(run("filter", TableCheck(table, ruleset.partial)))
        return Analysis(ruleset.path, ruleset.format, ruleset.family, tuple(services), ordered(diagnostics),
                        ruleset.has_counters)


def _service(port: ServicePort, walk: Walk[Fraction], family: str, has_counters: bool,
             counters: TableCounters) -> Service:
    observed = [endpoint_observed(share, has_counters) for share in walk.endpoints.values()]
    endpoints = tuple(Endpoint(share.chain, endpoint_address(share), share.mass, seen, exact, _line(share))
                      for share, (seen, exact) in zip(walk.endpoints.values(), observed, strict=True))
    unassigned = walk.unassigned or Fraction(0)
    observed_total, fit = None, None
    if has_counters:
        observed_total = sum(e.observed or 0 for e in endpoints)
        # all zero and nothing can fall through: no fit (and no cost on a big node's idle services)
        if observed_total or unassigned:
            fit = observed_fit(walk, [e.share for e in endpoints], observed, counters)
    return Service(port, family, walk.affinity_seconds, endpoints, unassigned, observed_total, fit)


def _line(share: EndpointShare[Fraction]) -> int | None:
    """The line that locates an endpoint: its DNAT rule, else the first rule jumping to it."""
    rules = share.dnat_rules or share.jump_rules
    return rules[0].line if rules else None
