"""Analysis → the `kubechain/analysis/v1` JSON document, and an unusable input → the
`kubechain/error/v1` document (schemas in README.md; contracts)."""

from __future__ import annotations

from fractions import Fraction
from typing import IO, TYPE_CHECKING, Any

from ..analysis.fit import Comparison, Fit
from ..analysis.results import Analysis, Endpoint, Service
from . import json_encoding
from .exact_text import decimal_text, fraction_text

if TYPE_CHECKING:  # numpy (150 ms to import) only where a sample is drawn
    from ..analysis.sampling import Sample

SCHEMA = "kubechain/analysis/v1"
ERROR_SCHEMA = "kubechain/error/v1"


def document(analysis: Analysis) -> dict[str, Any]:
    """The `kubechain/analysis/v1` document of one analysis (README: JSON), as plain dicts and lists."""
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
        "affinity": _affinity(s),
        "endpoints": [_endpoint(e) for e in s.endpoints],
        "unassigned_probability": fraction_text(s.unassigned) if s.exact else None,
        "unassigned_interval": _interval(s.unassigned_interval),
        "frontends": [{"kind": f.kind, "address": f.address, "port": f.port, "protocol": f.protocol,
                       "chain": f.chain, "line": f.line} for f in s.frontends],
        "observed_total": s.observed_total,
        "fit": fit_document(s.fit),
    }


def _affinity(s: Service) -> dict[str, Any] | None:
    """`{"seconds": N}`, and `"clients"` where the input lists the remembered clients (nft sets)."""
    if s.affinity_seconds is None:
        return None
    found: dict[str, Any] = {"seconds": s.affinity_seconds}
    if s.affinity_clients is not None:
        found["clients"] = s.affinity_clients
    return found


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


def error_document(path: str | None, err: Exception) -> dict[str, Any]:
    """`kubechain/error/v1`: an input that could not be analyzed. `error` is "unreadable" (the
    file could not be read), "unparsable" (a ParseError: then `line`, `column`, `text` and
    `expected` locate it; they are null otherwise) or "no-service" (`--service TEXT` matched
    nothing: `text` is TEXT, and `closest` lists the names and chains most like it)."""
    from ..errors import ParseError, SelectionError

    if isinstance(err, ParseError):
        return {"schema": ERROR_SCHEMA, "path": err.path or path, "error": "unparsable", "message": err.reason,
                "line": err.line, "column": err.column, "text": err.text, "expected": err.expected}
    if isinstance(err, SelectionError):
        return {"schema": ERROR_SCHEMA, "path": err.path or path, "error": "no-service", "message": str(err),
                "line": None, "column": None, "text": err.text, "expected": None, "closest": err.closest}
    message = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
    return {"schema": ERROR_SCHEMA, "path": path, "error": "unreadable", "message": message,
            "line": None, "column": None, "text": None, "expected": None}


def dumps_value(value: Any) -> str:
    """A document (or a list of them) as the JSON kubechain prints: indented by 2, newline-terminated
    (`json.dumps(value, indent=2)`, byte for byte; report.json_encoding writes it fast)."""
    return json_encoding.dumps(value) + "\n"


def write_value(value: Any, stream: IO[str]) -> None:
    """What dumps_value returns, written to `stream` in pieces (a big document is never one string)."""
    json_encoding.write(value, stream)


def sample_dumps(samples: list[Sample]) -> str:
    docs = [sample_document(s) for s in samples]
    return dumps_value(docs[0] if len(docs) == 1 else docs)


def dumps(analyses: list[Analysis]) -> str:
    """One document for one input; a JSON array of documents for several."""
    docs = [document(a) for a in analyses]
    return dumps_value(docs[0] if len(docs) == 1 else docs)
