"""Fleet → the terminal report: one line per node, the findings, then each inconsistent service
port's variants with their nodes and exact shares."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from ..fleets import Fleet, FleetNode, ServiceComparison, Variant
from .exact_text import short_fraction_text

#: nodes named per variant before "and N more"
NAMED_NODES = 8


def render(fleet: Fleet) -> str:
    failed = sum(1 for n in fleet.nodes if n.error is not None)
    ports = {(s.family, s.label) for s in fleet.services}
    lines = [f"fleet: {len(fleet.nodes)} node{'s' * (len(fleet.nodes) != 1)}"
             + (f" ({failed} unreadable)" if failed else "")
             + f", {len(ports)} service port{'s' * (len(ports) != 1)}, "
             + ("consistent" if fleet.consistent else "NOT consistent"), ""]
    lines += _table([("node", "format", "family", "mode", "services", "diagnostics")]
                    + [_node_row(n) for n in fleet.nodes])
    if fleet.findings:
        lines += ["", render_findings(fleet).rstrip("\n")]
    inconsistent = [s for s in fleet.services if not s.consistent]
    if inconsistent:
        lines += ["", "Inconsistent service ports:"]
        for s in inconsistent:
            lines += ["", _heading(s)]
            for k, v in enumerate(s.variants, 1):
                lines += _variant(k, v)
    return "\n".join(lines) + "\n"


def render_findings(fleet: Fleet) -> str:
    """The findings alone (`--quiet`), most severe first."""
    if not fleet.findings:
        return "No findings.\n"
    lines = ["Findings (most severe first):"]
    lines += [f"  {f.severity:<7} {f.code:<20} {f.message}" for f in fleet.findings]
    return "\n".join(lines) + "\n"


def _node_row(n: FleetNode) -> tuple[str, ...]:
    if n.error is not None:
        return n.node, "-", "-", "-", "-", "unreadable: " + (n.error.strip().splitlines() or ["?"])[0]
    diagnostics = ", ".join(f"{d.code} {d.count}" for d in n.diagnostics) or "-"
    return n.node, n.format or "-", n.family or "-", n.mode or "?", str(n.services), diagnostics


def _heading(s: ServiceComparison) -> str:
    where = ""
    if s.cluster_ip is not None:
        host = f"[{s.cluster_ip}]" if ":" in s.cluster_ip else s.cluster_ip
        where = f"  {host}:{s.port if s.port is not None else '?'}/{s.protocol or 'any'}"
    return f"{s.label}  {s.kind}{where}  ({s.nodes} node{'s' * (s.nodes != 1)}, {len(s.variants)} variants)"


def _variant(k: int, v: Variant) -> list[str]:
    shown = ", ".join(v.nodes[:NAMED_NODES]) + (f" and {len(v.nodes) - NAMED_NODES} more"
                                                 if len(v.nodes) > NAMED_NODES else "")
    who = f"{len(v.nodes)} node{'s' * (len(v.nodes) != 1)}: {shown}"
    dist = v.distribution
    if dist is None:
        what = "no rules" if v.state == "missing" else "rejects new connections (no endpoints)"
        return [f"  {'majority' if k == 1 else f'variant {k}'} ({who}): {what}"]
    out = [f"  {'majority' if k == 1 else f'variant {k}'} ({who}): {len(dist.endpoints)} endpoint"
           f"{'s' * (len(dist.endpoints) != 1)}"]
    rows = [(f"    {address}", _percent(share), short_fraction_text(share)) for address, share in dist.endpoints]
    if dist.unassigned:
        rows.append(("    unassigned", _percent(dist.unassigned), short_fraction_text(dist.unassigned)))
    return out + _table(rows)


def _percent(share: Fraction) -> str:
    return f"{float(share):.9%}"


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    if not rows:
        return []
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
