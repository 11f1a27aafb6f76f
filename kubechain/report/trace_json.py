"""Trace → the `kubechain/trace/v1` JSON document (schema in README.md; a contract: additions only
add keys)."""

from __future__ import annotations

from typing import Any

from ..tracing import SCHEMA, Outcome, Trace
from .documents import dumps_value
from .exact_text import fraction_text


def document(trace: Trace) -> dict[str, Any]:
    p = trace.packet
    return {
        "schema": SCHEMA,
        "path": trace.path,
        "packet": {"src": p.src, "dst": p.dst, "dport": p.dport, "proto": p.proto, "from": p.origin, "hook": p.hook,
                   "local_addresses": list(dict.fromkeys((*p.local_addresses, *trace.local_proven))),
                   "returning_client": p.returning_client, "sport": p.sport, "in_iface": p.in_iface,
                   "out_iface": p.out_iface},
        "tables": list(trace.tables),
        "outcomes": [_outcome(o) for o in trace.outcomes],
        "assumptions": [{"kind": a.kind, "detail": a.detail, "line": a.line} for a in trace.assumptions],
        "diagnostics": [{"code": d.code, "severity": d.severity, "chain": d.chain, "line": d.line,
                         "message": d.message} for d in trace.diagnostics],
    }


def _outcome(o: Outcome) -> dict[str, Any]:
    return {"verdict": o.verdict, "destination": o.destination, "masquerade": o.masquerade,
            "probability": fraction_text(o.probability), "paths": o.paths,
            "path": [{"table": s.table, "chain": s.chain, "line": s.line} for s in o.path]}


def dumps(trace: Trace) -> str:
    return dumps_value(document(trace))
