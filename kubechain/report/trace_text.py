"""Trace → the terminal report: the packet, each outcome (most likely first) with its exact
probability, masquerade flag and path, then what the trace assumed and the diagnostics met."""

from __future__ import annotations

import textwrap

from ..tracing import Outcome, Step, Trace
from .exact_text import decimal_text, short_fraction_text


def render(trace: Trace, width: int = 80) -> str:
    p = trace.packet
    lines = [f"{trace.path or '-'}: {p.proto} {p.src} → {p.dst}:{p.dport} from {p.origin} ({p.hook})"]
    local = list(dict.fromkeys((*p.local_addresses, *trace.local_proven)))
    if local:
        lines.append(f"  local addresses: {', '.join(local)}"
                     + ("" if p.local_addresses else " (proven by the dump)"))
    if p.returning_client:
        lines.append(f"  returning client of {p.returning_client}")
    count = len(trace.outcomes)
    lines.append(f"  {count} outcome{'s' * (count != 1)}, tables: {', '.join(trace.tables) or 'none'}")
    for k, outcome in enumerate(trace.outcomes, 1):
        lines += ["", *_outcome(k, outcome, width)]
    if trace.assumptions:
        lines += ["", "assumptions:"]
        for a in trace.assumptions:
            where = f" (line {a.line})" if a.line else ""
            lines += textwrap.wrap(f"{a.kind}: {a.detail}{where}", width, initial_indent="  ",
                                   subsequent_indent="    ", break_on_hyphens=False)
    if trace.diagnostics:
        lines += ["", "diagnostics on the chains traced:"]
        for d in trace.diagnostics:
            where = f" line {d.line}" if d.line else ""
            lines += textwrap.wrap(f"{d.severity} {d.code}{where}: {d.message}", width, initial_indent="  ",
                                   subsequent_indent="    ", break_on_hyphens=False)
    return "\n".join(lines) + "\n"


def _outcome(k: int, o: Outcome, width: int) -> list[str]:
    what = {"dnat": f"DNAT {o.destination or '(destination unknown)'}", "accept": "ACCEPT (no DNAT)",
            "reject": "REJECT", "drop": "DROP"}[o.verdict]
    share = f"{decimal_text(o.probability * 100)[:12]}%"
    head = f"{k}  {what}  {short_fraction_text(o.probability)} ({share})  masquerade: {'yes' if o.masquerade else 'no'}"
    out = textwrap.wrap(head, width, subsequent_indent="   ", break_on_hyphens=False)
    if o.paths > 1:
        out.append(f"   the most likely of {o.paths} paths:")
    out += _wrapped(path_parts(o.path), width, "   ") or ["   (no rule matched)"]
    return out


def _wrapped(parts: list[str], width: int, indent: str) -> list[str]:
    """The parts joined by ` → `, broken between parts only."""
    lines: list[str] = []
    line = ""
    for k, part in enumerate(parts):
        piece = part + (" →" if k + 1 < len(parts) else "")
        if line and len(indent) + len(line) + 1 + len(piece) > width:
            lines.append(indent + line)
            line = piece
        else:
            line = f"{line} {piece}" if line else piece
    if line:
        lines.append(indent + line)
    return lines


def path_text(path: tuple[Step, ...]) -> str:
    """`nat PREROUTING:67 → KUBE-SERVICES:123 → … → filter FORWARD:18`: the table where it changes."""
    return " → ".join(path_parts(path))


def path_parts(path: tuple[Step, ...]) -> list[str]:
    parts = []
    table = None
    for step in path:
        parts.append(f"{step.table} {step.chain}:{step.line}" if step.table != table else f"{step.chain}:{step.line}")
        table = step.table
    return parts


def render_outcomes(trace: Trace) -> str:
    """One line per outcome (`--quiet`): verdict, destination, exact probability, masquerade."""
    return "".join(f"{o.verdict} {o.destination or '-'} {short_fraction_text(o.probability)} "
                   f"masquerade={'yes' if o.masquerade else 'no'}\n" for o in trace.outcomes)
