"""Simulation → the terminal report: the answer in one sentence, the pods and their exact shares,
a chart of each pod's share of requests over time (L4 and each L7 balancer), and the what-ifs."""

from __future__ import annotations

from collections.abc import Sequence

from ..simulation.result import Curves, Share, Simulation
from .exact_text import short_fraction_text

BLOCKS = " ▁▂▃▄▅▆▇█"
CHART_COLUMNS = 72


def render(sim: Simulation) -> str:
    lines = [_heading(sim), ""]
    lines.extend(_pod_table(sim))
    lines.append("")
    lines.append(summary(sim))
    lines.extend(_explanation(sim))
    top = _largest_share(sim)
    lines.append("")
    lines.extend(chart("L4: kube-proxy picks a pod per new connection; the gateway reuses connections", sim,
                       sim.l4.curves, top))
    for r in sim.l7:
        lines.append("")
        lines.extend(chart(f"L7 {r.algorithm}: a pod per request", sim, r.curves, top))
    if sim.what_if:
        lines.append("")
        lines.extend(_what_if_table(sim))
    for note in sim.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines) + "\n"


def summary(sim: Simulation) -> str:
    """The answer: when the new pods reach their fair share, when the last old connection closes,
    and how an L7 balancer compares."""
    new = [q.name for q in sim.pods if q.new]
    removed = [q.name for q in sim.pods if q.removed]
    parts = []
    if new:
        who = f"{new[0]} (new)" if len(new) == 1 else f"the new pods {', '.join(new)}"
        reach = sim.l4.curves.time_to_fair_share_s
        parts.append(f"{who} {'reaches' if len(new) == 1 else 'reach'} 90% of {'its' if len(new) == 1 else 'their'} "
                     f"fair share ({_percent(sim.fair_share)}) "
                     + (f"after {_minutes(reach)}" if reach is not None else
                        f"not within {_minutes(sim.parameters.duration_s)}"))
    elif removed:
        parts.append(f"{', '.join(removed)} (removed) get{'s' * (len(removed) == 1)} no request from t = 0")
    else:
        parts.append("no scale event: each pod keeps its share of new connections")
    last = sim.l4.last_old_connection_closed_s
    if new or removed:
        parts.append("the last connection opened before the scale-up closes "
                     + (f"at {_minutes(last)}" if last is not None else
                        f"after the run ({_minutes(sim.parameters.duration_s)}) in at least one run"))
    if sim.l7 and new:
        times = [r.curves.time_to_fair_share_s for r in sim.l7]
        if all(t == 0 for t in times):
            parts.append("per-request (L7) balancing: at once")
        else:
            parts.append("per-request (L7) balancing: " + ", ".join(
                f"{r.algorithm} {'at once' if t == 0 else ('never' if t is None else 'after ' + _minutes(t))}"
                for r, t in zip(sim.l7, times, strict=True)))
    return "; ".join(parts) + "."


def chart(title: str, sim: Simulation, curves: Curves, top: float) -> list[str]:
    """Each pod's share of requests per bucket as a row of blocks (█ = `top`, the same in every
    chart of a report), then the new pods' combined share, with the first and last value of each
    row."""
    rows: list[tuple[str, Sequence[Share]]] = [
        (q.name, [row[i] for row in curves.requests_share]) for i, q in enumerate(sim.pods)]
    if sim.fair_share is not None and sum(q.new for q in sim.pods) > 1:
        rows.append(("new pods", curves.new_pods_share))
    width = max(len(name) for name, _ in rows)
    columns = _columns(len(sim.buckets_s))
    out = [title]
    for name, values in rows:
        cells = [_mean(values[a:b]) for a, b in columns]
        bar = "".join(" " if v is None else BLOCKS[min(8, round(v / top * 8))] for v in cells)
        out.append(f"  {name:<{width}}  |{bar}|  {_percent(values[0])} → {_percent(values[-1])}")
    end = sim.buckets_s[-1] + sim.parameters.bucket_s if sim.buckets_s else 0.0
    axis = f"0 min{_minutes(min(end, sim.parameters.duration_s)).rjust(len(columns) - 5)}"
    out.append(f"  {'':<{width}}   {axis}")
    out.append(f"  {'':<{width}}   (█ = {_percent(top)} of requests; one column = "
               f"{_minutes(sim.parameters.bucket_s * (columns[0][1] - columns[0][0]))}; mean of "
               f"{sim.parameters.runs} runs)")
    return out


def _largest_share(sim: Simulation) -> float:
    """The largest mean share of one pod (or of the new pods) in any bucket of any case."""
    cases = [sim.l4.curves, *(r.curves for r in sim.l7)]
    values = [v for c in cases for row in c.requests_share for v in row if v is not None]
    values += [v for c in cases for v in c.new_pods_share if v is not None]
    return max(values, default=0.0) or 1.0


def _heading(sim: Simulation) -> str:
    p = sim.parameters
    src = sim.source
    if "replicas" in src:
        where = f"{src['replicas'].replace(':', ' → ')} pods (kube-proxy's {src['proxy_mode']} rules)"
    elif "dump" in src:
        where = f"{src['service']} in {src['dump']} (no scale event)"
    else:
        where = f"{src['service']}: {src['before']} → {src['after']}"
    m = f"{p.max_requests:,} requests" if p.max_requests else "unlimited requests"
    load = (f"closed loop of {p.concurrency} clients" if p.workload == "closed" else
            f"open Poisson load, {p.concurrency} requests in flight on average")
    return (f"kubechain simulate: {where}; {load} at {p.rpm:,g} rpm (a request takes {p.service_time_s:.3g} s); "
            f"the gateway reuses a connection for {m} (idle timeout {p.idle_timeout_s:g} s, pool {p.pool_size} per "
            f"worker, {p.workers} worker{'s' * (p.workers != 1)}); {p.history} history; {p.runs} runs of "
            f"{_minutes(p.duration_s)}, seed {p.seed}")


def _pod_table(sim: Simulation) -> list[str]:
    rows = [("pod", "", "share of new connections after", "before")]
    for q in sim.pods:
        flag = "new" if q.new else ("removed" if q.removed else "")
        rows.append((q.name, flag, f"{short_fraction_text(q.connection_probability)} "
                     f"({_percent(float(q.connection_probability))})",
                     _percent(float(q.before_probability)) if q.before_probability else "-"))
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def _explanation(sim: Simulation) -> list[str]:
    p = sim.parameters
    out = []
    life = p.connection_lifetime_s
    if p.workload == "closed":
        if life is not None:
            out.append(f"  why: each client keeps one upstream connection for its {p.requests_per_connection:,} "
                       f"requests, L = M·C/R = {p.requests_per_connection:,} × {p.concurrency} / {p.rpm:,g} rpm "
                       f"= {_minutes(life)}; kube-proxy only picks a pod when a connection is opened")
        else:
            out.append("  why: with unlimited requests per connection no connection ever closes in a closed "
                       "loop, so no new connection is made and kube-proxy never picks a pod again")
        out.append("  (closed loop: no connection is ever idle, so the idle timeout, pool size and workers do not "
                   "act)")
    else:
        out.append(f"  why: under open load the gateway keeps about as many connections as the recent peak "
                   f"concurrency (per worker), opens one only when every cached one is busy, and closes one after "
                   f"{p.max_requests:,} requests" if p.max_requests else
                   "  why: under open load the gateway keeps about as many connections as the recent peak "
                   "concurrency (per worker) and opens one only when every cached one is busy; with unlimited "
                   "requests per connection")
        out[-1] += (f", after {p.idle_timeout_s:g} s idle, or when it returns to a full pool of {p.pool_size}; "
                    f"so the busiest connections reach M sooner and the idle ones live longer than the closed loop's "
                    f"L = M·C/R = {_minutes(life)}" if life is not None else
                    f", only idle timeouts ({p.idle_timeout_s:g} s) and peaks make new connections")
    first = sim.l4.first_new_pod_request_s
    if any(q.new for q in sim.pods):
        out.append(f"  first request on a new pod: {'never' if first is None else 'after ' + _minutes(first)}"
                   f" (mean of {p.runs} runs); new connections per run: {sim.l4.connections_opened:,.1f}")
    return out


def _what_if_table(sim: Simulation) -> list[str]:
    p = sim.parameters
    rows = [("what if (L4 rerun)", "last old connection closes", "new pods at 90% of fair share",
             "new connections per run")]
    rows.append((f"as run (max-requests={p.max_requests})", _maybe(sim.l4.last_old_connection_closed_s),
                 _maybe(sim.l4.curves.time_to_fair_share_s), f"{sim.l4.connections_opened:,.1f}"))
    for w in sim.what_if:
        value = f"{w.value:g}s" if w.key == "idle-timeout" else f"{int(w.value)}"
        rows.append((f"{w.key}={value}", _maybe(w.last_old_connection_closed_s), _maybe(w.time_to_fair_share_s),
                     f"{w.connections_opened:,.1f}"))
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def _columns(buckets: int) -> list[tuple[int, int]]:
    """Bucket ranges, one per chart column: at most CHART_COLUMNS columns of equal size."""
    per = max(1, -(-buckets // CHART_COLUMNS))
    return [(a, min(a + per, buckets)) for a in range(0, buckets, per)]


def _mean(values: Sequence[Share]) -> Share:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _maybe(seconds: float | None) -> str:
    return "never (in the run)" if seconds is None else _minutes(seconds)


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.3g} s"
    return f"{seconds / 60:.1f} min"


def _percent(value: object) -> str:
    if value is None:
        return "-"
    return f"{float(value):.1%}"  # type: ignore[arg-type]
