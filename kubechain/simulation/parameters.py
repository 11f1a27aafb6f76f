"""The simulation's options, resolved and checked: the workload, the gateway's pool, the history
before the scale event and the run. Durations are seconds here; text such as `90m` is read by
`duration_s` (the CLI's one parser)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

from .gateway import KONG_IDLE_TIMEOUT_S, KONG_MAX_REQUESTS, KONG_POOL_SIZE, L7_ALGORITHMS

WORKLOADS = ("closed", "open")
HISTORIES = ("steady", "fresh")
PROXY_MODES = ("iptables", "nftables")
#: parameters `--what-if` may vary, with how each value is read
WHAT_IF_KEYS = ("max-requests", "pool-size", "idle-timeout", "workers", "concurrency")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|m|h)?\s*$")
_UNIT = {"s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def duration_s(text: str | float | int) -> float:
    """Seconds from `90m`, `60s`, `1.5h` or a bare number of seconds."""
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        found = _DURATION.match(text)
        if not found:
            raise ValueError(f"{text!r} is not a duration (a number with s, m or h: 60s, 90m, 1.5h)")
        value = float(found.group(1)) * _UNIT[found.group(2)]
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{text!r} is not a duration (must be finite and not negative)")
    return value


@dataclass(frozen=True, slots=True)
class Parameters:
    """Every option of a simulation, resolved (defaults: the blog post's gateway, Kong's pool).

    - workload: `closed` (C clients, each sending its next request as soon as the last ends, each
      taking `service_time_s` = 60·C/R) or `open` (Poisson arrivals at R/60 per second, exponential
      service times of that mean, so C requests in flight on average);
    - max_requests: requests per upstream connection before it is closed (0 = unlimited, as with
      Kong's 0, HTTP/2 or gRPC); idle_timeout_s (0 = never); pool_size: idle connections kept per
      worker (0 = no reuse); workers: gateway worker processes, each with its own pool;
    - history: `steady` (each connection has already served Uniform{0..M−1} requests at t = 0) or
      `fresh` (all opened just before t = 0);
    - duration_s, bucket_s, runs, seed; l7: the per-request balancers to run beside L4;
      proxy_mode: how `--replicas` pods' shares are written (iptables cascade or nftables numgen).
    """

    concurrency: int = 30
    rpm: float = 6000.0
    workload: str = "closed"
    max_requests: int = KONG_MAX_REQUESTS
    idle_timeout_s: float = KONG_IDLE_TIMEOUT_S
    pool_size: int = KONG_POOL_SIZE
    workers: int = 1
    history: str = "steady"
    duration_s: float = 5400.0
    bucket_s: float = 60.0
    runs: int = 20
    seed: int = 0
    l7: tuple[str, ...] = L7_ALGORITHMS
    proxy_mode: str = "iptables"
    what_if: tuple[tuple[str, float], ...] = field(default=())

    def __post_init__(self) -> None:
        _check(self.concurrency >= 1, "concurrency must be at least 1")
        _check(math.isfinite(self.rpm) and self.rpm > 0, "rpm must be a positive number")
        _check(self.workload in WORKLOADS, f"workload must be one of {', '.join(WORKLOADS)}")
        _check(self.history in HISTORIES, f"history must be one of {', '.join(HISTORIES)}")
        _check(self.proxy_mode in PROXY_MODES, f"proxy mode must be one of {', '.join(PROXY_MODES)}")
        _check(self.max_requests >= 0, "max requests must be 0 (unlimited) or more")
        _check(self.pool_size >= 0, "pool size must be 0 (no reuse) or more")
        _check(self.workers >= 1, "workers must be at least 1")
        _check(self.idle_timeout_s >= 0, "idle timeout must not be negative")
        _check(self.duration_s > 0, "duration must be positive")
        _check(0 < self.bucket_s <= self.duration_s, "bucket must be positive and at most the duration")
        _check(self.duration_s / self.bucket_s <= 100_000, "at most 100,000 buckets")
        _check(1 <= self.runs <= 10_000, "runs must be between 1 and 10,000")
        _check(self.seed >= 0, "seed must not be negative")
        unknown = [a for a in self.l7 if a not in L7_ALGORITHMS]
        _check(not unknown, f"unknown L7 balancer {', '.join(unknown)} (one of {', '.join(L7_ALGORITHMS)})")
        for key, _ in self.what_if:
            _check(key in WHAT_IF_KEYS, f"--what-if varies one of {', '.join(WHAT_IF_KEYS)}, not {key!r}")

    @property
    def rps(self) -> float:
        return self.rpm / 60.0

    @property
    def service_time_s(self) -> float:
        """Each request's time at the pod: C requests in flight at R per minute take 60·C/R s."""
        return 60.0 * self.concurrency / self.rpm

    @property
    def requests_per_connection(self) -> int:
        """M as the pool applies it: 0 (unlimited) stays 0; no pool means one request each."""
        return 1 if self.pool_size == 0 else self.max_requests

    @property
    def connection_lifetime_s(self) -> float | None:
        """L = M·C/R (seconds): how long one connection lives in a closed loop; None if unlimited."""
        m = self.requests_per_connection
        return m * self.service_time_s if m else None

    def varied(self, key: str, value: float) -> Parameters:
        """These parameters with one `--what-if` key changed."""
        if key == "idle-timeout":
            return replace(self, idle_timeout_s=float(value), what_if=())
        if key == "max-requests":
            return replace(self, max_requests=int(value), what_if=())
        if key == "pool-size":
            return replace(self, pool_size=int(value), what_if=())
        if key == "workers":
            return replace(self, workers=int(value), what_if=())
        return replace(self, concurrency=int(value), what_if=())


def what_if_items(text: str) -> tuple[tuple[str, float], ...]:
    """`max-requests=100,1000` → (("max-requests", 100), ("max-requests", 1000)); durations for
    idle-timeout take s/m/h."""
    key, sep, values = text.partition("=")
    key = key.strip()
    if not sep or key not in WHAT_IF_KEYS or not values.strip():
        raise ValueError(f"{text!r}: expected KEY=V1,V2,… with KEY one of {', '.join(WHAT_IF_KEYS)}")
    out = []
    for value in values.split(","):
        if key == "idle-timeout":
            out.append((key, duration_s(value)))
        else:
            try:
                out.append((key, float(int(value))))
            except ValueError:
                raise ValueError(f"{text!r}: {value!r} is not a whole number") from None
    return tuple(out)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)
