"""kubechain: where kube-proxy sends your traffic, exactly.

    ruleset = kubechain.load("dump.txt")        # or kubechain.loads(text)
    analysis = kubechain.analyze(ruleset)
    for service in analysis.services:
        for endpoint in service.endpoints:
            print(service.name, endpoint.address, endpoint.probability)

Heavy modules (sympy, the parsers) are imported on first use so that the CLI starts fast.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any

from .errors import ParseError

if TYPE_CHECKING:
    from .analysis import Analysis
    from .model import Ruleset
    from .sampler import Sample

__all__ = ["ParseError", "analyze", "load", "loads", "sample"]
__version__ = "0.1.0"


def load(source: Any, *, input_format: str | None = None) -> Ruleset:
    """Parse a dump from a path, `-` for stdin, or an open file (format auto-detected)."""
    from .loader import load as _load
    return _load(source, input_format=input_format)


def loads(text: str, *, path: str | None = None, input_format: str | None = None) -> Ruleset:
    """Parse dump text (format auto-detected unless `input_format` is given)."""
    from .loader import loads as _loads
    return _loads(text, path=path, input_format=input_format)


def analyze(ruleset: Ruleset, *, tolerance: Fraction | None = None) -> Analysis:
    """Each service port's endpoints with their exact, kernel-level selection probabilities, and
    the diagnostics; `tolerance` is the relative deviation from 1/n allowed before `non-uniform`
    (default 1/1000)."""
    from .analysis import DEFAULT_TOLERANCE
    from .analysis import analyze as _analyze
    return _analyze(ruleset, DEFAULT_TOLERANCE if tolerance is None else Fraction(tolerance))


def sample(ruleset: Ruleset, connections: int, seed: int, service: str | None = None) -> Sample:
    """Send `connections` new connections through each service port chain (or those whose name or
    chain contains `service`) with the kernel's own random test; counts, intervals and fit tests."""
    from .sampler import sample as _sample
    return _sample(ruleset, connections, seed, service)
