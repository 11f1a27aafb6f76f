"""Analysis → the `kubechain/analysis/v1` JSON document (schema in README.md; a contract)."""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

from ..analysis.fit import Comparison, Fit
from ..analysis.results import Analysis, Endpoint, Service
from ..analysis.sampling import Sample
from .exact_text import decimal_text, fraction_text

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
        "unassigned_probability": fraction_text(s.unassigned) if s.exact else None,
        "unassigned_interval": _interval(s.unassigned_interval),
        "frontends": [{"kind": f.kind, "address": f.address, "port": f.port, "protocol": f.protocol,
                       "chain": f.chain, "line": f.line} for f in s.frontends],
        "observed_total": s.observed_total,
        "fit": fit_document(s.fit),
    }


def _endpoint(e: Endpoint) -> dict[str, Any]:
    return {
        "chain": e.chain,
        "address": e.address,
        "probability": fraction_text(e.share) if e.share_interval is None else None,
        "probability_decimal": decimal_text(e.share),
        "probability_interval": _interval(e.share_interval),
        "observed": e.observed,
        "observed_exact": e.observed_exact,
    }


def fit_document(fit: Fit | None) -> dict[str, Any] | None:
    """`services[].fit` and `services[].sample_fit`."""
    if fit is None:
        return None
    return {"test": fit.test, "vs_exact": _comparison(fit.vs_exact), "vs_uniform": _comparison(fit.vs_uniform),
            "total": fit.total, "unassigned": fit.unassigned, "counters": fit.counters, "reason": fit.reason,
            "counts": list(fit.counts),
            "count_ranges": [list(r) for r in fit.count_ranges] if fit.count_ranges is not None else None}


def _comparison(c: Comparison | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {"statistic": c.statistic, "dof": c.dof, "p_value": c.p_value, "pooled": c.pooled, "note": c.note,
            "p_adjusted": c.p_adjusted, "tested": c.tested,
            "p_range": list(c.p_range) if c.p_range is not None else None}


def _interval(bounds: tuple[Fraction, Fraction] | None) -> list[str] | None:
    """A certified [low, high] as 20-digit decimals, rounded outwards (precision-limit)."""
    if bounds is None:
        return None
    return [decimal_text(bounds[0], down=True), decimal_text(bounds[1], down=False)]


def sample_document(sample: Sample) -> dict[str, Any]:
    """The analysis document with the sample added: `draws`, `seed`, and per service
    `endpoints[].sampled`, `endpoints[].sampled_interval`, `sampled_unassigned`, `sample_fit`.
    Only the sampled service ports are listed."""
    doc = document(sample.analysis)
    doc["draws"], doc["seed"] = sample.connections, sample.seed
    # by identity, not chain name: a dual-stack dump has an IPv4 and an IPv6 chain of one name
    by_service = {id(s.service): s for s in sample.services}
    services = []
    for service, entry in zip(sample.analysis.services, doc["services"], strict=True):
        sampled = by_service.get(id(service))
        if sampled is None:
            continue
        for e, got in zip(entry["endpoints"], sampled.endpoints, strict=True):
            e["sampled"], e["sampled_interval"] = got.sampled, list(got.interval)
        entry["sampled_unassigned"] = sampled.unassigned
        entry["sample_fit"] = fit_document(sampled.fit)
        services.append(entry)
    doc["services"] = services
    return doc


def sample_dumps(samples: list[Sample]) -> str:
    docs = [sample_document(s) for s in samples]
    return json.dumps(docs[0] if len(docs) == 1 else docs, indent=2) + "\n"


def dumps(analyses: list[Analysis]) -> str:
    """One document for one input; a JSON array of documents for several."""
    docs = [document(a) for a in analyses]
    return json.dumps(docs[0] if len(docs) == 1 else docs, indent=2) + "\n"
