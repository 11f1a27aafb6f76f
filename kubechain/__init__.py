"""kubechain: where kube-proxy sends your traffic, exactly.

Reads a node's kube-proxy rules as `iptables -L` (any variant), `iptables -S` or `iptables-save`
print them, and gives each Service port's endpoints their exact, kernel-level share of new
connections (rationals over powers of two, as the kernel draws them), the counters when the dump
has them, and diagnostics::

    import kubechain

    ruleset = kubechain.load("fixtures/blog.nft.L-n-v.txt")   # or kubechain.loads(text)
    analysis = kubechain.analyze(ruleset)                     # an Analysis
    for service in analysis.services:                         # Service: .name .kind .cluster_ip .port
        for endpoint in service.endpoints:                    # Endpoint: .address .share .observed
            print(service.name, endpoint.address, endpoint.share)
    for d in analysis.diagnostics:                            # Diagnostic: .severity .code .line .message
        print(d.severity, d.code, d.message)
    print(kubechain.to_json(analysis))                        # the kubechain/analysis/v1 document

Entry points: :func:`load`, :func:`loads`, :func:`analyze`, :func:`sample`, :func:`fleet` (every
node's rules compared), :func:`trace` (one packet through the node's tables), :func:`document`,
:func:`to_json`, and :class:`ParseError`,
:class:`SelectionError`, :class:`RenderError`. The types they return: :class:`Analysis`,
:class:`Service`, :class:`Endpoint`, :class:`Diagnostic`, :class:`Sample`, :class:`SampledService`,
:class:`SampledEndpoint`, :class:`Packet`, :class:`Trace`, and ``kubechain.fleets.Fleet``.
Submodules, imported on first use: ``kubechain.model`` (the rule model every format parses
into), ``kubechain.render`` (print a model as iptables does), ``kubechain.testing`` (hypothesis
strategies of kube-proxy rule sets).

Heavy modules (sympy, numpy, the parsers) are imported on first use so that the CLI starts fast.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Any

from .errors import ParseError, RenderError, SelectionError

if TYPE_CHECKING:  # (fractions alone costs `kubechain --help` 4 ms)
    from fractions import Fraction

    from .analysis.diagnostics import Diagnostic
    from .analysis.results import Analysis, Endpoint, Service
    from .analysis.sampling import Sample, SampledEndpoint, SampledService
    from .fleets import Fleet, FleetProgressCallback
    from .model import Ruleset
    from .simulation import Simulation
    from .tracing import Packet, Trace

__all__ = ["Analysis", "Diagnostic", "Endpoint", "ParseError", "RenderError", "Sample", "SampledEndpoint",
           "SampledService", "SelectionError", "Service", "Packet", "Trace", "analyze", "document", "fleet", "load",
           "loads", "model", "render", "sample", "simulate", "testing", "to_json", "trace"]
__version__ = "0.1.0"
#: submodules `import kubechain` exposes on first use (kubechain.render, kubechain.model…)
_LAZY = ("model", "render", "testing", "analysis", "parse", "report", "netfilter", "kube", "selection", "simulation",
         "fleets", "tracing")
#: result types, importable from kubechain directly (`kubechain.Analysis`), also on first use
_TYPES = {"Analysis": "analysis.results", "Service": "analysis.results", "Endpoint": "analysis.results",
          "Diagnostic": "analysis.diagnostics", "Sample": "analysis.sampling",
          "SampledService": "analysis.sampling", "SampledEndpoint": "analysis.sampling",
          "Packet": "tracing", "Trace": "tracing"}
#: what load() and analyze() report progress through: (phase, done, total)
Progress = Callable[[str, int, int], None]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    if name in _TYPES:
        return getattr(importlib.import_module(f".{_TYPES[name]}", __name__), name)
    raise AttributeError(f"module 'kubechain' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_LAZY))


def load(source: str | os.PathLike[str] | IO[str] | IO[bytes], *, input_format: str | None = None,
         service: str | None = None, progress: Progress | None = None, lenient: bool = False) -> Ruleset:
    """Parse a dump from a path, `-` for stdin, or an open file (format auto-detected; see loads).

    `service="TEXT"` reads only what the service ports whose name or chain contains TEXT need
    (kubechain.selection), which on a big dump is much faster than reading it all; it raises
    SelectionError when no service port matches. `progress(phase, done, total)` is called as
    the input is read and parsed."""
    from .parse import load as _load
    return _load(source, input_format=input_format, service=service, progress=progress, lenient=lenient)


def loads(text: str, *, path: str | None = None, input_format: str | None = None,
          service: str | None = None, lenient: bool = False) -> Ruleset:
    """Parse dump text (format auto-detected unless `input_format` is given; `service` as for
    :func:`load`). A paste of several command outputs is read section by section; `lenient` repairs
    text a person or a web page edited (indentation, code fences, grep separators, notes) and skips
    lines it cannot read, each noted in `Ruleset.notes` and reported as an `input-repaired`
    diagnostic."""
    from .parse import loads as _loads
    return _loads(text, path=path, input_format=input_format, service=service, lenient=lenient)


def analyze(ruleset: Ruleset, *, tolerance: Fraction | str | float | None = None, service: str | None = None,
            progress: Progress | None = None) -> Analysis:
    """Each service port's endpoints with their exact, kernel-level selection probabilities, and
    the diagnostics. `tolerance` is the relative deviation from 1/n allowed before `non-uniform`
    (default 1/1000; text as the CLI takes it: `0.1%`, `1/1000`, `0.001`); `service="TEXT"`
    keeps the service ports whose name or chain contains TEXT (and the diagnostics of their
    chains; SelectionError when none does); `progress(phase, done, total)` is called as service
    ports are analyzed."""
    from .analysis import analyze as _analyze
    from .analysis import tolerance as _tolerance
    from .model import Ruleset as _Ruleset

    if not isinstance(ruleset, _Ruleset):
        raise TypeError(f"analyze() takes a Ruleset (from kubechain.load or loads), not {type(ruleset).__name__}")
    allowed = _tolerance(tolerance)
    if service is not None:
        ruleset = _selected(ruleset, service)
    return _analyze(ruleset, allowed, progress)


def sample(ruleset: Ruleset, connections: int, seed: int, service: str | None = None) -> Sample:
    """Send `connections` new connections through each service port chain (or those whose name or
    chain contains `service`) with the kernel's own random test; counts, intervals and fit tests."""
    from .analysis import analyze as _analyze
    from .analysis.sampling import sample as _sample
    from .model import Ruleset as _Ruleset

    if not isinstance(ruleset, _Ruleset):
        raise TypeError(f"sample() takes a Ruleset (from kubechain.load or loads), not {type(ruleset).__name__}")
    for name, value in (("connections", connections), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} is a whole number, not {type(value).__name__}")
        if value < 0:
            raise ValueError(f"{name} cannot be negative: {value}")
    if service is not None:
        ruleset = _selected(ruleset, service)
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


def fleet(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *, jobs: int | None = None,
          dask: Any = None, tolerance: Fraction | str | float | None = None, input_format: str | None = None,
          progress: FleetProgressCallback | None = None) -> Fleet:
    """Compare every node's rules: one dump per node under `paths` (directories whose files are
    named after their nodes, files, tar archives; gzip allowed; any format `load` reads). Each
    node is analyzed on its own by `jobs` processes (default: the CPU count) or on the Dask cluster
    `dask` (a scheduler address or a `distributed.Client`); the result is the typed object behind
    the `kubechain/fleet/v1` document: each service port's variants, and the findings."""
    from .analysis import tolerance as _tolerance
    from .fleets import fleet as _fleet
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    return _fleet(paths, jobs=jobs, dask=dask, tolerance=_tolerance(tolerance), input_format=input_format,
                  progress=progress)


def trace(ruleset: Ruleset, packet: Packet, *, diagnostics: bool = True) -> Trace:
    """Follow one new packet (a :class:`Packet`: destination, port, protocol, where it comes from,
    the node's local addresses…) through the ruleset's tables in the kernel's hook order, and
    return every outcome with its exact probability, DNAT destination, masquerade flag and most
    likely path, what was assumed, and the dump's diagnostics on the chains it went through: the
    typed object behind the `kubechain/trace/v1` document. ValueError when the packet needs a
    source the dump cannot supply (a pod's). The diagnostics come from analyzing the whole dump,
    which on a big one costs far more than the trace itself: `diagnostics=False` leaves them out
    (to trace many packets through one dump)."""
    from .analysis import analyze as _analyze
    from .analysis import tolerance as _tolerance
    from .model import Ruleset as _Ruleset
    from .tracing import Packet as _Packet
    from .tracing import trace as _trace

    if not isinstance(ruleset, _Ruleset):
        raise TypeError(f"trace() takes a Ruleset (from kubechain.load or loads), not {type(ruleset).__name__}")
    if not isinstance(packet, _Packet):
        raise TypeError(f"trace() takes a kubechain.Packet, not {type(packet).__name__}")
    found = tuple(_analyze(ruleset, _tolerance(None), None).diagnostics) if diagnostics else ()
    return _trace(ruleset, packet, found)


def document(analysis: Analysis | Sample | Fleet | Trace) -> dict[str, Any]:
    """The versioned JSON document of an analysis (`kubechain/analysis/v1`), of a sample (the
    same, with the sample's keys), of a fleet (`kubechain/fleet/v1`) or of a trace
    (`kubechain/trace/v1`), as dicts and lists (README: JSON)."""
    from .analysis.results import Analysis as _Analysis
    from .report.documents import document as _document

    if isinstance(analysis, _Analysis):  # first: the other kinds' modules cost imports (a Sample's, numpy's)
        return _document(analysis)
    from .analysis.sampling import Sample as _Sample
    from .fleets import Fleet as _Fleet
    from .report.documents import sample_document
    from .tracing import Trace as _Trace

    if isinstance(analysis, _Trace):
        from .report.trace_json import document as trace_document
        return trace_document(analysis)
    if isinstance(analysis, _Sample):
        return sample_document(analysis)
    if isinstance(analysis, _Fleet):
        from .report.fleet_json import document as fleet_document
        return fleet_document(analysis)
    raise TypeError(f"document() takes an Analysis, a Sample, a Fleet or a Trace, not {type(analysis).__name__}")


def to_json(analysis: Analysis | Sample | Fleet | Trace) -> str:
    """:func:`document` as the JSON text `kubechain analyze -o json` prints."""
    from .report.documents import dumps_value
    return dumps_value(document(analysis))


def _selected(ruleset: Ruleset, service: str) -> Ruleset:
    from .selection import candidates, closest, select

    sliced = select(ruleset, service)
    if not sliced.tables:
        raise SelectionError(service, ruleset.path, closest(service, candidates(ruleset)))
    return sliced
