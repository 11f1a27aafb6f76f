"""Analysis → the `kubechain/analysis/v1` JSON document (schema in README.md; a contract)."""

from __future__ import annotations

import json
from typing import Any

from .analysis import Analysis, Endpoint, Service
from .numbers import decimal_text, fraction_text

SCHEMA = "kubechain/analysis/v1"


def document(analysis: Analysis) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "inputs": [{"path": analysis.path, "format": analysis.format, "family": analysis.family}],
        "services": [_service(s) for s in analysis.services],
        "diagnostics": [{"code": d.code, "severity": d.severity, "chain": d.chain, "line": d.line,
                         "message": d.message} for d in analysis.diagnostics],
    }


def _service(s: Service) -> dict[str, Any]:
    return {
        "name": s.name,
        "chain": s.chain,
        "kind": s.kind,
        "family": s.family,
        "cluster_ip": s.cluster_ip,
        "port": s.port,
        "protocol": s.protocol,
        "affinity": {"seconds": s.affinity_seconds} if s.affinity_seconds is not None else None,
        "endpoints": [_endpoint(e) for e in s.endpoints],
        "unassigned_probability": fraction_text(s.unassigned),
        "frontends": [{"kind": f.kind, "address": f.address, "port": f.port, "protocol": f.protocol,
                       "chain": f.chain, "line": f.line} for f in s.frontends],
    }


def _endpoint(e: Endpoint) -> dict[str, Any]:
    return {
        "chain": e.chain,
        "address": e.address,
        "probability": fraction_text(e.share),
        "probability_decimal": decimal_text(e.share),
        "observed": e.observed,
        "observed_exact": e.observed_exact,
    }


def dumps(analyses: list[Analysis]) -> str:
    """One document for one input; a JSON array of documents for several."""
    docs = [document(a) for a in analyses]
    return json.dumps(docs[0] if len(docs) == 1 else docs, indent=2) + "\n"
