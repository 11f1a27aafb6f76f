"""Model → analysis: the walk (exact or sampled), kube-proxy's cascade, counters and their fit,
the registered checks, and sampling. `analyze` is the entry; results are in results."""

from .analyze import analyze
from .diagnostics import CODES, Diagnostic
from .results import Analysis, Endpoint, Service
from .tolerance import DEFAULT_TOLERANCE, tolerance, tolerance_from_text

__all__ = ["CODES", "DEFAULT_TOLERANCE", "Analysis", "Diagnostic", "Endpoint", "Service", "analyze", "tolerance",
           "tolerance_from_text"]
