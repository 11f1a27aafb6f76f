"""Fleet → the `kubechain/fleet/v1` JSON document (schema in README.md; a contract: additions
only add keys)."""

from __future__ import annotations

from typing import Any

from ..fleets import SCHEMA, Fleet, FleetNode, ServiceComparison, Variant
from .documents import dumps_value
from .exact_text import fraction_text


def document(fleet: Fleet) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "consistent": fleet.consistent,
        "nodes": [_node(n) for n in fleet.nodes],
        "services": [_service(s) for s in fleet.services],
        "findings": [{"code": f.code, "severity": f.severity, "service": f.service, "nodes": list(f.nodes),
                      "message": f.message} for f in fleet.findings],
    }


def _node(n: FleetNode) -> dict[str, Any]:
    return {"node": n.node, "path": n.path, "format": n.format, "family": n.family, "mode": n.mode,
            "tables": list(n.tables), "services": n.services,
            "diagnostics": {d.code: d.count for d in n.diagnostics}, "error": n.error}


def _service(s: ServiceComparison) -> dict[str, Any]:
    return {"name": s.name, "family": s.family, "cluster_ip": s.cluster_ip, "port": s.port, "protocol": s.protocol,
            "kind": s.kind, "consistent": s.consistent, "nodes": s.nodes, "variants": [_variant(v) for v in s.variants]}


def _variant(v: Variant) -> dict[str, Any]:
    dist = v.distribution
    return {"nodes": list(v.nodes), "state": v.state,
            "endpoints": [{"address": a, "probability": fraction_text(p)} for a, p in dist.endpoints] if dist else [],
            "unassigned": fraction_text(dist.unassigned) if dist else None}


def dumps(fleet: Fleet) -> str:
    return dumps_value(document(fleet))
