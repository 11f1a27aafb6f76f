"""Analysis → the terminal report: per service port, its endpoints in chain order with their
exact share, the deviation from a fair 1/n and the counters; then the diagnostics."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from typing import TYPE_CHECKING

from ..analysis.fit import Fit
from ..analysis.fit_sentence import fit_sentence
from ..analysis.results import Analysis, Endpoint, Service
from .exact_text import decimal_text, short_fraction_text

if TYPE_CHECKING:  # numpy (150 ms to import) only where a sample is drawn
    from ..analysis.sampling import Sample, SampledService

#: under a counter verdict that agrees with the rules: what the counters do not say
CONNECTIONS_NOT_REQUESTS = ("(the counters count new connections, not requests: with connections reused, as a gateway "
                            "does, even load per connection is not even load per request; `kubechain simulate` shows "
                            "how long a new pod waits)")

NO_FRONTEND = "(no frontend in the dump)"


def render(analysis: Analysis) -> str:
    lines = [f"{analysis.path or '<input>'}: {analysis.format}, {analysis.family}, "
             f"{len(analysis.services)} service port chain{'s' * (len(analysis.services) != 1)}"
             + tested_suffix(analysis)]
    lines.extend(repaired_warning(analysis))
    for service in analysis.services:
        lines.append("")
        lines.extend(_service(service, analysis.has_counters))
    if analysis.diagnostics:
        lines.append("")
        lines.append("Diagnostics (most severe first):")
        code_width = max(17, *(len(d.code) for d in analysis.diagnostics))  # a longer code widens the column
        for d in analysis.diagnostics:
            where = f"line {d.line}" if d.line else "-"
            lines.append(f"  {d.severity:<7} {d.code:<{code_width}} {where:<11} {d.message}")
    return "\n".join(lines) + "\n"


def repaired_warning(analysis: Analysis) -> list[str]:
    """The line under the title of an input `--lenient` repaired: its results may be incomplete."""
    repairs = sum(d.code == "input-repaired" for d in analysis.diagnostics)
    if not repairs:
        return []
    return [f"the input was repaired ({repairs:,} line{'s' * (repairs > 1)}, see the diagnostics): "
            "the results may be incomplete"]


def tested_suffix(analysis: Analysis) -> str:
    """`, 3 tested (p-values Holm-adjusted over them)`: how many fits the run's p-values are adjusted over."""
    return _tested(s.fit for s in analysis.services)


def _tested(fits: Iterable[Fit | None]) -> str:
    counts = {f.vs_exact.tested for f in fits if f is not None and f.vs_exact is not None and f.vs_exact.tested}
    tested = max(counts, default=0)
    return f", {tested:,} tested (p-values Holm-adjusted over them)" if tested > 1 else ""


def _heading(s: Service) -> str:
    """`ns/svc:port  kind  10.96.0.10:80/tcp  chain KUBE-SVC-…` (IPv6 bracketed: `[fd00::a]:443`)."""
    return "  ".join(heading_parts(s)[:3]) + f"  chain {s.chain}"


def heading_parts(s: Service) -> tuple[str, str, str, str]:
    """Name, kind, address and chain of a service port's heading; `(no frontend in the dump)` where
    neither a KUBE-SERVICES rule nor KUBE-SVC's masquerade rule names an address, port or protocol."""
    if s.cluster_ip is None and s.port is None and s.protocol is None:
        return s.name or "(no name)", s.kind, NO_FRONTEND, s.chain
    ip = s.cluster_ip or "?"
    address = f"[{ip}]" if ":" in ip else ip
    port = f"{address}:{s.port if s.port is not None else '?'}/{s.protocol or 'any'}"
    return s.name or "(no name)", s.kind, port, s.chain


def _service(s: Service, has_counters: bool) -> list[str]:
    head = _heading(s)
    if s.affinity_seconds is not None:
        head += f"  affinity ClientIP {s.affinity_seconds}s (shares are for new clients)"
    out = [head]
    if not s.endpoints:
        out.append("  no endpoints")
    out.extend(_table(_endpoint_rows(s, has_counters)))
    if s.unassigned:
        out.append(f"  unassigned (no endpoint reached): {short_fraction_text(s.unassigned)} = "
                   f"{decimal_percent(s.unassigned)}")
    return out + _counter_lines(s)


def _endpoint_rows(s: Service, has_counters: bool) -> list[tuple[str, ...]]:
    n = len(s.endpoints)
    total = observed_whole(s)
    rows: list[tuple[str, ...]] = [("#", "endpoint", "chain", "exact share", "decimal", "vs 1/n", "observed")]
    for i, e in enumerate(s.endpoints, 1):
        rows.append((str(i), endpoint_label(e), e.chain, short_fraction_text(e.share),
                     decimal_percent(e.share), relative_deviation(e.share, n), observed_cell(e, has_counters, total)))
    return rows


def endpoint_label(e: Endpoint) -> str:
    """The address an endpoint DNATs to, or why there is none."""
    return e.address or ("(chain not in this printout)" if e.missing else "(no DNAT)")


def observed_whole(s: Service) -> int:
    """What the observed percentages are of: every endpoint's counter; 0 (no percentages) when
    some endpoint has no counter of its own (nft rules without a `counter` statement)."""
    if any(e.observed is None for e in s.endpoints):
        return 0
    return sum(e.observed or 0 for e in s.endpoints)


def observed_cell(e: Endpoint, has_counters: bool, total: int) -> str:
    """`33,412 (33.41%)`: the DNAT counter and its part of the service's total (`~`: K/M/G-rounded)."""
    if not has_counters or e.observed is None:
        return "-"
    observed = f"{e.observed:,}{'' if e.observed_exact else '~'}"
    return observed + (f" ({e.observed / total:.2%})" if total else "")


def _counter_lines(s: Service) -> list[str]:
    """The fit of the counters in one sentence, and what was counted when not the DNAT rules."""
    if s.fit is None:
        return []
    return [f"  counters: {fit_sentence(s, s.fit)}", *(f"  {note}" for note in counter_notes(s))]


def counter_notes(s: Service) -> list[str]:
    """What the counters do not say under a verdict that agrees with the rules, and what was
    counted, when it was not the DNAT rules."""
    if s.fit is None:
        return []
    notes = [CONNECTIONS_NOT_REQUESTS] if s.fit.vs_exact is not None and s.fit.vs_exact.consistent else []
    if s.fit.counters != "jump-rules":
        return notes
    if s.affinity_seconds is None:
        return [*notes, "(other chains jump into these endpoint chains too, as KUBE-SVC and KUBE-SVL of an "
                "externalTrafficPolicy: Local service do, so their DNAT counters mix both paths; fitted on "
                "the counters of this chain's own jumps to the endpoints)"]
    return [*notes, "(ClientIP affinity: a returning client repeats its endpoint, so the DNAT counters are not "
            "independent draws; fitted on the counters of the rules without --rcheck that jump to the "
            "endpoints, i.e. the first choices of new clients)"]


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    """Left-aligned columns two spaces apart, indented by two."""
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def render_sample(sample: Sample) -> str:
    """Per sampled service port: exact share, sampled count and share with a 99.9% Wilson
    interval, and a verdict."""
    a = sample.analysis
    lines = [f"{a.path or '<input>'}: {sample.connections:,} new connections sampled per service port "
             f"(seed {sample.seed}), {len(sample.services)} service port chain{'s' * (len(sample.services) != 1)}"
             + _tested(s.fit for s in sample.services)]
    for got in sample.services:
        s = got.service
        lines.append("")
        lines.append(_heading(s))
        lines.extend(_table([("#", "endpoint", "exact share", "sampled", "share", "99.9% interval (Wilson)"),
                             *sample_rows(got, sample.connections)]))
        lines.append(f"  verdict: {fit_sentence(s, got.fit)}")
    return "\n".join(lines) + "\n"


def sample_rows(got: SampledService, connections: int) -> list[tuple[str, ...]]:
    """One sampled service port's rows (both reports): #, endpoint, exact share, sampled, share,
    interval; then the unassigned row where the rules or the draws leave some."""
    rows: list[tuple[str, ...]] = []
    for i, e in enumerate(got.endpoints, 1):
        share = e.sampled / connections if connections else 0.0
        rows.append((str(i), e.address or e.chain, f"{float(e.share):.4%}", f"{e.sampled:,}", f"{share:.4%}",
                     f"[{e.interval[0]:.4%}, {e.interval[1]:.4%}]"))
    if got.unassigned or got.service.unassigned:
        share = got.unassigned / connections if connections else 0.0
        rows.append(("-", "unassigned", f"{float(got.service.unassigned):.4%}", f"{got.unassigned:,}", f"{share:.4%}",
                     ""))
    return rows


def decimal_percent(value: Fraction) -> str:
    """`33.333333349%`: nine decimals, enough to show the kernel's 2^-31 steps."""
    return f"{float(value) * 100:.9f}%" if value not in (0, 1) else decimal_text(value * 100) + "%"


def relative_deviation(share: Fraction, n: int) -> str:
    """The `vs 1/n` column: (share - 1/n) / (1/n), as share·n - 1: no subtraction of two long dyadic fractions."""
    if not n:
        return "-"
    deviation = share * n - 1
    return f"{float(deviation):+.2e}" if deviation else "0"
