"""Analysis documents made comparable across printouts of one rule set: the one normaliser."""

from __future__ import annotations

from typing import Any

import kubechain
from kubechain.model import Ruleset
from kubechain.report.documents import document

#: codes a printout may lack for reasons of its own: `-t nat -L` has no filter table (no-endpoints),
#: and observed-skew needs exact counters
COUNTER_CODES = ("observed-skew",)


def comparable(ruleset: Ruleset, *, counters: bool = True, frontends: bool = True, addresses: bool = True,
               messages: bool = True, skip_codes: tuple[str, ...] = ()) -> dict[str, Any]:
    """The v1 document without what legitimately differs between printouts of one model: the input's
    path and format, and input lines (so diagnostics compare as a sorted list). Optionally also
    without counters (and what derives from them), frontends, frontend addresses (`-L` without -n
    prints `loopback/8`), diagnostic messages (only code and chain), or some codes."""
    doc = document(kubechain.analyze(ruleset))
    doc.pop("inputs")
    for service in doc["services"]:
        if not frontends:
            service.pop("frontends")
        for f in service.get("frontends", ()):
            f.pop("line")
            if not addresses:
                f.pop("address")
        if not counters:
            service["observed_total"] = service["fit"] = None
            for e in service["endpoints"]:
                e["observed"] = e["observed_exact"] = None
    skipped = skip_codes + (() if counters else COUNTER_CODES)
    kept = [d for d in doc["diagnostics"] if d["code"] not in skipped]
    if messages:
        for d in kept:
            d.pop("line")
        doc["diagnostics"] = sorted(kept, key=lambda d: (d["severity"], d["code"], d["chain"] or "", d["message"]))
    else:
        doc["diagnostics"] = sorted((d["code"], d["chain"] or "") for d in kept)
    return doc


def unadjusted(service: dict[str, Any]) -> dict[str, Any]:
    """A service port's JSON without what Holm's adjustment over a run's tested service ports
    decides (`p_adjusted`, `tested`): a `--service` selection is a family of its own."""
    fit = service.get("fit")
    for test in (fit.get("vs_exact"), fit.get("vs_uniform")) if fit else ():
        if test:
            test.pop("p_adjusted", None)
            test.pop("tested", None)
    return service
