"""Why a new pod starves: kube-proxy picks a pod per new connection, and a gateway that reuses
each upstream connection for M requests makes few new ones. `simulate` replays a scale event
with the exact shares of the rules, beside per-request (L7) balancing.

The package is `simulation`, not `simulate`: a subpackage `kubechain.simulate` would replace the
public function `kubechain.simulate` as an attribute of `kubechain` the moment it was imported.
"""

from __future__ import annotations

from typing import Any

from ..analysis import analyze
from ..analysis.results import Analysis
from ..model import Ruleset
from .parameters import Parameters, duration_s, what_if_items
from .pods import Pod, Pods, from_dump, from_dumps, from_replicas
from .result import SCHEMA, Curves, L4Result, L7Result, Simulation, WhatIf
from .run import simulate_pods

__all__ = ["SCHEMA", "Curves", "L4Result", "L7Result", "Parameters", "Pod", "Pods", "Simulation", "WhatIf",
           "duration_s", "pods_for", "replicas", "simulate", "simulate_pods", "what_if_items"]


def replicas(text: str | tuple[int, int]) -> tuple[int, int]:
    """`2:3` → (2, 3)."""
    if isinstance(text, tuple):
        return text
    a, sep, b = text.partition(":")
    if not sep or not a.strip().isdigit() or not b.strip().isdigit():
        raise ValueError(f"{text!r} is not A:B (pods before and after, e.g. 2:3)")
    return int(a), int(b)


def pods_for(*, replicas_ab: str | tuple[int, int] | None = None, before: Ruleset | Analysis | None = None,
             after: Ruleset | Analysis | None = None, dump: Ruleset | Analysis | None = None,
             service: str | None = None, proxy_mode: str = "iptables") -> Pods:
    """The pods from exactly one source: a replica count change, two dumps, or one dump."""
    given = [x is not None for x in (replicas_ab, before if before is not None or after is not None else None, dump)]
    if sum(given) != 1:
        raise ValueError("give exactly one of: replicas A:B, before and after dumps, or one dump")
    if replicas_ab is not None:
        return from_replicas(*replicas(replicas_ab), proxy_mode)
    if service is None:
        raise ValueError("a dump needs the service port to simulate (--service ns/name:port)")
    if dump is not None:
        return from_dump(_analysis(dump), service)
    if before is None or after is None:
        raise ValueError("a scale event from dumps needs both --before and --after")
    return from_dumps(_analysis(before), _analysis(after), service)


def simulate(*, replicas: str | tuple[int, int] | None = None, before: Ruleset | Analysis | None = None,
             after: Ruleset | Analysis | None = None, dump: Ruleset | Analysis | None = None,
             service: str | None = None, **options: Any) -> Simulation:
    """Simulate a scale event at t = 0 (see Parameters for `options` and their defaults)."""
    parameters = Parameters(**options)
    pods = pods_for(replicas_ab=replicas, before=before, after=after, dump=dump, service=service,
                    proxy_mode=parameters.proxy_mode)
    return simulate_pods(pods, parameters)


def _analysis(source: Ruleset | Analysis) -> Analysis:
    return source if isinstance(source, Analysis) else analyze(source)
