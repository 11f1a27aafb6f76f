"""Simulation → the `kubechain/simulation/v1` JSON document (schema in README.md; a contract).
Shares are rounded to 6 decimals and times to milliseconds, so that the document stays small;
exact shares of new connections are reduced fractions as in `kubechain/analysis/v1`."""

from __future__ import annotations

import json
from typing import Any

from ..simulation.result import Curves, L4Result, Share, Simulation
from .exact_text import fraction_text


def document(sim: Simulation) -> dict[str, Any]:
    p = sim.parameters
    return {
        "schema": sim.schema,
        "parameters": {
            "source": dict(sim.source),
            "concurrency": p.concurrency, "rpm": p.rpm, "workload": p.workload, "max_requests": p.max_requests,
            "idle_timeout_s": p.idle_timeout_s, "pool_size": p.pool_size, "workers": p.workers,
            "history": p.history, "duration_s": p.duration_s, "bucket_s": p.bucket_s, "runs": p.runs,
            "seed": p.seed, "l7": list(p.l7), "proxy_mode": p.proxy_mode,
            "what_if": [{"key": k, "value": v if k == "idle-timeout" else int(v)} for k, v in p.what_if],
            "service_time_s": _time(p.service_time_s),
            "connection_lifetime_s": _time(p.connection_lifetime_s),
        },
        "pods": [{"name": q.name, "new": q.new, "removed": q.removed,
                  "connection_probability": fraction_text(q.connection_probability),
                  "before_probability": fraction_text(q.before_probability)} for q in sim.pods],
        "fair_share": fraction_text(sim.fair_share) if sim.fair_share is not None else None,
        "buckets_s": [_time(t) for t in sim.buckets_s],
        "l4": _l4(sim.l4),
        "l7": {r.algorithm: _curves(r.curves) for r in sim.l7},
        "what_if": [{_key(w.key): w.value if w.key == "idle-timeout" else int(w.value),
                     "last_old_connection_closed_s": _time(w.last_old_connection_closed_s),
                     "time_to_fair_share_s": _time(w.time_to_fair_share_s),
                     "connections_opened": round(w.connections_opened, 3)} for w in sim.what_if],
        "notes": list(sim.notes),
    }


def dumps(sim: Simulation) -> str:
    return json.dumps(document(sim), indent=1) + "\n"


def _l4(r: L4Result) -> dict[str, Any]:
    return {**_curves(r.curves),
            "last_old_connection_closed_s": _time(r.last_old_connection_closed_s),
            "first_new_pod_request_s": _time(r.first_new_pod_request_s),
            "connections_opened": round(r.connections_opened, 3)}


def _curves(c: Curves) -> dict[str, Any]:
    return {"requests_share": [[_share(v) for v in row] for row in c.requests_share],
            "new_pods_share": [_share(v) for v in c.new_pods_share],
            "new_pods_share_band": [[_share(lo), _share(hi)] for lo, hi in c.new_pods_share_band],
            "time_to_fair_share_s": _time(c.time_to_fair_share_s)}


def _key(what_if_key: str) -> str:
    """The parameter's JSON key: `max-requests` → max_requests, `idle-timeout` → idle_timeout_s."""
    return "idle_timeout_s" if what_if_key == "idle-timeout" else what_if_key.replace("-", "_")


def _share(value: Share) -> float | None:
    return None if value is None else round(value, 6)


def _time(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
