"""What :func:`kubechain.simulate` returns: the typed object behind the `kubechain/simulation/v1`
JSON document (README.md, "Simulation JSON"). Shares are means over the Monte Carlo runs; a bucket
in which no request started has no share (None)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .parameters import Parameters
from .pods import Pod

SCHEMA = "kubechain/simulation/v1"
#: the band is the central 95% of the runs
BAND_PERCENTILES = (2.5, 97.5)
#: "reaches its fair share" means staying at or above this fraction of it to the end of the run
FAIR_FRACTION = 0.9

Share = float | None


@dataclass(frozen=True, slots=True)
class Curves:
    """Share of requests over time, one entry per bucket: each pod's (in `Simulation.pods`
    order), the new pods' combined share and its band over runs, and the first bucket start from
    which that mean share stays ≥ 0.9·fair share to the end (None if never, or no new pods)."""

    requests_share: tuple[tuple[Share, ...], ...]
    new_pods_share: tuple[Share, ...]
    new_pods_share_band: tuple[tuple[Share, Share], ...]
    time_to_fair_share_s: float | None


@dataclass(frozen=True, slots=True)
class L4Result:
    """kube-proxy picking a pod per connection, the gateway reusing connections: `curves`; the
    mean time at which the last connection open at t = 0 closed (None when one outlives a run);
    the first request on a new pod (mean; None when a run has none); new connections per run."""

    curves: Curves
    last_old_connection_closed_s: float | None
    first_new_pod_request_s: float | None
    connections_opened: float


@dataclass(frozen=True, slots=True)
class L7Result:
    """A per-request balancer (Envoy/Istio, or nginx listing the pods) over the ready pods."""

    algorithm: str
    curves: Curves


@dataclass(frozen=True, slots=True)
class WhatIf:
    """The L4 case rerun with one parameter changed (`key`, as the CLI spells it, and `value`)."""

    key: str
    value: float
    last_old_connection_closed_s: float | None
    time_to_fair_share_s: float | None
    connections_opened: float


@dataclass(frozen=True, slots=True)
class Simulation:
    """One simulated scale event: the resolved parameters, the pods with their exact shares of new
    connections after the event, the new pods' combined share (`fair_share`, None without new pods),
    bucket start times (s after the event), the L4 case, each L7 balancer, and the what-ifs."""

    parameters: Parameters
    source: dict[str, str]
    pods: tuple[Pod, ...]
    fair_share: Fraction | None
    buckets_s: tuple[float, ...]
    l4: L4Result
    l7: tuple[L7Result, ...]
    what_if: tuple[WhatIf, ...]
    notes: tuple[str, ...] = ()
    schema: str = SCHEMA

    def pod(self, name: str) -> Pod:
        return next(p for p in self.pods if p.name == name)
