"""Ruleset → Analysis: walk every service port chain of every nat table, read its counters, and run
every registered check on what the walks found."""

from __future__ import annotations

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
from .results import Analysis, Endpoint, Service
from .tolerance import DEFAULT_TOLERANCE
from .walk import EndpointShare, Walk, exact_walk

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
                walk = exact_walk(table.chains, port.chain)
                service = _service(port, walk, family, ruleset.has_counters, counters)
                services.append(service)
                diagnostics.extend(run("service", ServiceCheck(service, walk, tolerance)))
                done += 1
                if progress is not None and done % 256 == 0:
                    progress("analyzing service ports", done, total)
            diagnostics.extend(run("nat", TableCheck(table, ruleset.partial, counters.jumps), ruleset.partial))
        if progress is not None:
            progress("analyzing service ports", done, total)
        return Analysis(ruleset.path, ruleset.format, input_family(ruleset), tuple(services), ordered(diagnostics),
                        ruleset.has_counters)


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
    return Service(port, family, walk.affinity_seconds, endpoints, unassigned, observed_total, fit,
                   _remembered_clients(port.table, walk))


def _remembered_clients(table: Table, walk: Walk[Fraction]) -> int | None:
    """nftables mode: the clients in the affinity sets the service's chain looks up."""
    sets = [m.set for m in walk.affinity.get(walk.start, ()) if type(m) is SetLookup]
    return affinity_clients(table, sets) if sets else None


def _line(share: EndpointShare[Fraction]) -> int | None:
    """The line that locates an endpoint: its DNAT rule, else the first rule jumping to it."""
    rules = share.dnat_rules or share.jump_rules
    return rules[0].line if rules else None
