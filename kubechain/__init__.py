"""kubechain: where kube-proxy sends your traffic, exactly.

    ruleset = kubechain.load("dump.txt")        # or kubechain.loads(text)
    analysis = kubechain.analyze(ruleset)
    for service in analysis.services:
        for endpoint in service.endpoints:
            print(service.name, endpoint.address, endpoint.probability)

Heavy modules (sympy, numpy, the parsers) are imported on first use so that the CLI starts fast.
"""

from __future__ import annotations

import importlib
import os
from fractions import Fraction
from types import ModuleType
from typing import IO, TYPE_CHECKING, Any

from .errors import ParseError, RenderError

if TYPE_CHECKING:
    from .analysis.results import Analysis
    from .analysis.sampling import Sample
    from .model import Ruleset
    from .simulation import Simulation

__all__ = ["ParseError", "RenderError", "analyze", "load", "loads", "model", "render", "sample", "simulate",
           "testing"]
__version__ = "0.1.0"
#: submodules `import kubechain` exposes on first use (kubechain.render, kubechain.model…)
_LAZY = ("model", "render", "testing", "analysis", "parse", "report", "netfilter", "kube", "simulation")


def __getattr__(name: str) -> ModuleType:
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'kubechain' has no attribute {name!r}")


def load(source: str | os.PathLike[str] | IO[str] | IO[bytes], *, input_format: str | None = None) -> Ruleset:
    """Parse a dump from a path, `-` for stdin, or an open file (format auto-detected)."""
    from .parse import load as _load
    return _load(source, input_format=input_format)


def loads(text: str, *, path: str | None = None, input_format: str | None = None) -> Ruleset:
    """Parse dump text (format auto-detected unless `input_format` is given)."""
    from .parse import loads as _loads
    return _loads(text, path=path, input_format=input_format)


def analyze(ruleset: Ruleset, *, tolerance: Fraction | str | float | None = None) -> Analysis:
    """Each service port's endpoints with their exact, kernel-level selection probabilities, and
    the diagnostics; `tolerance` is the relative deviation from 1/n allowed before `non-uniform`
    (default 1/1000; also text as the CLI takes it: `0.1%`, `1/1000`)."""
    from .analysis import analyze as _analyze
    from .analysis import tolerance as _tolerance
    return _analyze(ruleset, _tolerance(tolerance))


def sample(ruleset: Ruleset, connections: int, seed: int, service: str | None = None) -> Sample:
    """Send `connections` new connections through each service port chain (or those whose name or
    chain contains `service`) with the kernel's own random test; counts, intervals and fit tests."""
    from .analysis import analyze as _analyze
    from .analysis.sampling import sample as _sample
    return _sample(_analyze(ruleset), connections, seed, service)


def simulate(*, replicas: str | tuple[int, int] | None = None, before: Ruleset | None = None,
             after: Ruleset | None = None, dump: Ruleset | None = None, service: str | None = None,
             **options: Any) -> Simulation:
    """Why a new pod starves: replay a scale event at t = 0 through kube-proxy's exact shares of
    new connections and a gateway that reuses each connection, beside per-request (L7) balancing.

    The pods come from exactly one of `replicas="2:3"` (kube-proxy's own cascade), `before` and
    `after` dumps with `service`, or one `dump` with `service` (no event). `options` are the fields
    of :class:`kubechain.simulation.Parameters` (concurrency=30, rpm=6000, max_requests=10000,
    idle_timeout_s=60, history="steady", duration_s=5400, runs=20, seed=0, l7=(...), …). Returns
    the typed object behind the `kubechain/simulation/v1` JSON document."""
    from .simulation import simulate as _simulate
    return _simulate(replicas=replicas, before=before, after=after, dump=dump, service=service, **options)
