"""Which diagnostics concern which service port, and the counts a report starts with: how many
service ports and endpoints, how many are non-uniform or failed their fit, diagnostics by severity.
`--only-problems` and the summary block both read this, so they cannot disagree."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, replace

from ..kube import chain_hash
from .diagnostics import SEVERITIES, Diagnostic
from .results import Analysis, Service

#: the severities that make a service port a problem (info findings are listed, but are no problem)
PROBLEM_SEVERITIES = ("error", "warning")


@dataclass(frozen=True, slots=True)
class Summary:
    """The first block of a report.

    - `service_ports`, `endpoints`: how many the input holds (endpoints summed over service ports);
    - `non_uniform`: service ports whose exact shares stray from 1/n past the tolerance;
    - `failed_fit`: service ports whose counters are NOT consistent with the exact shares
      (fit p-value below 0.001, the verdict line's threshold);
    - `problems`: service ports with an error or warning (what `--only-problems` prints);
    - `by_severity`: diagnostics per severity, every severity present (0 when none).
    """

    service_ports: int
    endpoints: int
    non_uniform: int
    failed_fit: int
    problems: int
    by_severity: dict[str, int]


def service_diagnostics(analysis: Analysis) -> list[list[Diagnostic]]:
    """For each service port (in order), the diagnostics that concern it: those naming its chain,
    a chain of the same service port (KUBE-FW/EXT/SVL of its hash) or one of its endpoint chains.
    In a dual-stack dump the IPv4 and IPv6 chains share names, so the line decides the table."""
    starts = sorted({s.kube.table.line for s in analysis.services})
    by_chain: dict[str, list[int]] = {}
    for i, s in enumerate(analysis.services):
        for chain in {s.chain, *(e.chain for e in s.endpoints)}:
            by_chain.setdefault(chain, []).append(i)
    found: list[list[Diagnostic]] = [[] for _ in analysis.services]
    hashes: dict[str, list[int]] = {}
    for i, s in enumerate(analysis.services):
        h = chain_hash(s.chain)
        if h is not None:
            hashes.setdefault(h, []).append(i)
    for d in analysis.diagnostics:
        if d.chain is None:
            continue
        owners = by_chain.get(d.chain) or hashes.get(chain_hash(d.chain) or "", [])
        if len(starts) > 1 and d.line is not None:
            table_start = starts[max(bisect.bisect_right(starts, d.line) - 1, 0)]
            owners = [i for i in owners if analysis.services[i].kube.table.line == table_start]
        for i in owners:
            found[i].append(d)
    return found


def is_problem(diagnostics: list[Diagnostic]) -> bool:
    return any(d.severity in PROBLEM_SEVERITIES for d in diagnostics)


def only_problems(analysis: Analysis) -> Analysis:
    """The analysis with only the service ports that have an error or warning; every diagnostic
    is kept (each is a finding, whether or not it concerns a listed service port)."""
    concerns = service_diagnostics(analysis)
    kept = tuple(s for s, ds in zip(analysis.services, concerns, strict=True) if is_problem(ds))
    return replace(analysis, services=kept)


def summarize(analysis: Analysis) -> Summary:
    concerns = service_diagnostics(analysis)
    by_severity = {severity: 0 for severity in SEVERITIES}
    for d in analysis.diagnostics:
        by_severity[d.severity] += 1
    return Summary(
        service_ports=len(analysis.services),
        endpoints=sum(len(s.endpoints) for s in analysis.services),
        non_uniform=sum(any(d.code == "non-uniform" for d in ds) for ds in concerns),
        failed_fit=sum(_failed(s) for s in analysis.services),
        problems=sum(is_problem(ds) for ds in concerns),
        by_severity=by_severity,
    )


def _failed(service: Service) -> bool:
    fit = service.fit
    return fit is not None and fit.vs_exact is not None and fit.vs_exact.consistent is False
