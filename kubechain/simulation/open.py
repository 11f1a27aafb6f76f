"""The open workload, simulated per request with nginx's upstream keep-alive cache as it is.

Requests arrive as a Poisson process at R/60 per second and take exponential service times of
mean S = 60·C/R (C in flight on average, peaks above). Each worker process has its own cache, and
an arrival goes to one of W workers at random, so each worker sees an independent Poisson stream
at R/(60·W) and is simulated on its own. Per worker, as `ngx_http_upstream_keepalive_module.c`
does it (ClusterIP upstream: one peer, so every cached connection matches):

- a request takes the most recently returned idle connection (MRU), or opens a new one when none
  is idle; kube-proxy's rules pick that connection's pod (the before-rules before t = 0);
- a connection is closed after its M-th response (M = 0: never; pool size 0: after each), else it
  returns to the head of the cache; a full cache (P idle already) first closes the least recently
  returned idle connection (LRU); an idle connection closes `idle_timeout` after its return.

This is where the closed loop's picture breaks, as the research measured: the pool grows to the
recent peak concurrency, not the mean, and MRU keeps the deep connections idle until the idle
timeout closes them, so connections are opened (and land on the new pod) more often than M alone
implies.

History: the run starts W_up = max(idle timeout, 20·S) before the event, with an empty pool, so
that the pool reaches its working size; connections opened then count as opened before the
event, with a served count uniform on {0..M−1} (steady) or 0 (fresh, i.e. opened within the
last W_up). At t = 0 connections to a removed pod are reset and their in-flight requests retried
on other connections at once.

L7 picks a pod per request (round robin in arrival order, random, or least request on the
requests in flight), so connections do not matter and are not modelled there.
"""

from __future__ import annotations

import heapq
import math
from collections import deque

import numpy as np

from .closed import Grid, IntArray, L4Run
from .gateway import LEAST_REQUEST, RANDOM, ROUND_ROBIN
from .parameters import Parameters
from .pods import Pods


class _Connection:
    """One upstream connection: its pod, requests served, when it was last returned to the cache
    and when it was opened (< 0: before the event), and whether it is still open."""

    __slots__ = ("alive", "idle_since", "opened", "pod", "served")

    def __init__(self, pod: int, served: int, opened: float) -> None:
        self.pod, self.served, self.idle_since, self.opened, self.alive = pod, served, 0.0, opened, True


def warm_up_s(p: Parameters) -> float:
    """How long before the event the run starts (the pool's working size builds up meanwhile)."""
    return max(p.idle_timeout_s, 20 * p.service_time_s)


def _arrivals(p: Parameters, rng: np.random.Generator, rate: float) -> tuple[list[float], list[float]]:
    """Poisson arrival times on [−W_up, duration) and their service times."""
    start, end = -warm_up_s(p), p.duration_s
    expected = rate * (end - start)
    n = int(expected + 6 * math.sqrt(expected) + 20)
    times = start + np.cumsum(rng.exponential(1 / rate, size=n))
    while times[-1] < end:  # practically never: the margin is six standard deviations
        times = np.concatenate([times, times[-1] + np.cumsum(rng.exponential(1 / rate, size=n))])
    times = times[times < end]
    return times.tolist(), rng.exponential(p.service_time_s, size=len(times)).tolist()


class _Worker:
    """What one worker's run produced: requests per bucket and pod on connections opened before
    the event (`old`) and after it (`new`); the last close of an old connection (inf: one outlived
    the run); connections opened after the event; the first request on a new pod."""

    def __init__(self, buckets: int, npods: int) -> None:
        self.old = np.zeros((buckets, npods), dtype=np.int64)
        self.new = np.zeros((buckets, npods), dtype=np.int64)
        self.last_old, self.opened, self.first_new = 0.0, 0, math.inf


def open_l4_run(pods: Pods, p: Parameters, grid: Grid, rng: np.random.Generator) -> L4Run:
    """One run of the L4 case under the open workload, worker by worker. The expected counts
    keep the old connections' pods as drawn and spread the requests of connections opened after
    the event over the pods by the after-shares (their pod changes nothing else in the run)."""
    npods = len(pods.pods)
    old = np.zeros((grid.buckets, npods), dtype=np.int64)
    new = np.zeros((grid.buckets, npods), dtype=np.int64)
    last_old, opened, first_new = 0.0, 0, math.inf
    for _ in range(p.workers):
        w = _l4_worker(pods, p, grid, rng)
        old += w.old
        new += w.new
        last_old, opened, first_new = max(last_old, w.last_old), opened + w.opened, min(first_new, w.first_new)
    expected = np.asarray(old + np.outer(new.sum(axis=1), pods.after_weights()), dtype=np.float64)
    return L4Run(old + new, expected, last_old if last_old <= p.duration_s else math.inf, opened, first_new)


def _l4_worker(pods: Pods, p: Parameters, grid: Grid, rng: np.random.Generator) -> _Worker:  # noqa: C901
    npods, bucket_s, duration = len(pods.pods), p.bucket_s, p.duration_s
    out = _Worker(grid.buckets, npods)
    arrivals, services = _arrivals(p, rng, p.rps / p.workers)
    m, pool, idle = p.max_requests, p.pool_size, p.idle_timeout_s
    is_new = [q.new for q in pods.pods]
    removed = [q.removed for q in pods.pods]
    draws = max(len(arrivals), 1)
    before_pods: list[int | None] = (rng.choice(npods, size=draws, p=pods.before_weights()).tolist()
                                     if sum(pods.before_weights()) else [None] * draws)
    after_pods = iter(rng.choice(npods, size=draws + p.concurrency * 8 + 64, p=pods.after_weights()).tolist())
    before_iter = iter(before_pods)
    ages = iter(rng.integers(0, m, size=draws).tolist() if m and p.history == "steady" else [0] * draws)
    retry_services = iter(rng.exponential(p.service_time_s, size=draws).tolist())
    stack: deque[_Connection] = deque()  # idle connections; the right end is the most recently returned
    busy: list[tuple[float, int, _Connection]] = []  # (completion, sequence, connection)
    old_open: set[int] = set()
    old_counts, new_counts = out.old, out.new
    sequence = 0
    crossed = False

    def close(conn: _Connection, t: float) -> None:
        conn.alive = False
        if conn.opened < 0:
            old_open.discard(id(conn))
            out.last_old = max(out.last_old, t)

    def expire(t: float) -> None:
        while idle and stack and stack[0].idle_since + idle <= t:
            conn = stack.popleft()
            close(conn, conn.idle_since + idle)

    def complete_until(t: float) -> None:
        while busy and busy[0][0] <= t:
            done, _, conn = heapq.heappop(busy)
            if not conn.alive:
                continue  # reset at the event; its request was retried
            conn.served += 1
            if (m and conn.served >= m) or not pool:
                close(conn, done)
                continue
            expire(done)
            if len(stack) >= pool:
                close(stack.popleft(), done)
            conn.idle_since = done
            stack.append(conn)

    def start(t: float, service: float) -> None:
        nonlocal sequence
        expire(t)
        if stack:
            conn = stack.pop()
        elif t < 0:
            pod = next(before_iter)
            if pod is None:  # no pod before the event: the request waits for it
                return
            conn = _Connection(pod, next(ages), t)
            old_open.add(id(conn))
        else:
            conn = _Connection(next(after_pods), 0, t)
            out.opened += 1
        if t >= 0:
            (old_counts if conn.opened < 0 else new_counts)[int(t // bucket_s), conn.pod] += 1
            if is_new[conn.pod] and t < out.first_new:
                out.first_new = t
        sequence += 1
        heapq.heappush(busy, (t + service, sequence, conn))

    def scale_event() -> None:
        """t = 0: a removed pod's connections are reset; their in-flight requests retried."""
        for conn in [c for c in stack if removed[c.pod]]:
            stack.remove(conn)
            close(conn, 0.0)
        retried = [c for _, _, c in busy if c.alive and removed[c.pod]]
        for conn in retried:
            close(conn, 0.0)
        for _ in retried:
            start(0.0, next(retry_services))

    for t, service in zip(arrivals, services, strict=True):
        if not crossed and t >= 0:
            complete_until(0.0)
            scale_event()
            crossed = True
        complete_until(t)
        start(t, service)
    if not crossed:
        scale_event()
    complete_until(duration)
    expire(duration)
    if old_open:
        out.last_old = math.inf
    return out


def open_l7_run(pods: Pods, p: Parameters, grid: Grid, algorithm: str, rng: np.random.Generator) -> IntArray:
    """One run of a per-request balancer under the open workload: requests per bucket and pod."""
    npods = len(pods.pods)
    ready = [i for i, q in enumerate(pods.pods) if not q.removed]
    counts = np.zeros((grid.buckets, npods), dtype=np.int64)
    for _ in range(p.workers):
        arrivals, services = _arrivals(p, rng, p.rps / p.workers)
        first = int(np.searchsorted(np.asarray(arrivals), 0.0))
        times = np.asarray(arrivals[first:])
        bucket = np.minimum((times // p.bucket_s).astype(np.int64), grid.buckets - 1)
        if algorithm == ROUND_ROBIN:
            chosen = np.asarray(ready)[(int(rng.integers(len(ready))) + np.arange(len(times))) % len(ready)]
        elif algorithm == RANDOM:
            chosen = np.asarray(ready)[rng.integers(0, len(ready), size=len(times))]
        elif algorithm == LEAST_REQUEST:
            chosen = _least_request_open(pods, arrivals, services, first, ready, rng)
        else:
            raise ValueError(f"unknown L7 balancer {algorithm!r}")
        counts += np.bincount(bucket * npods + chosen, minlength=grid.buckets * npods).reshape(grid.buckets, npods)
    return counts


def _least_request_open(pods: Pods, arrivals: list[float], services: list[float], first: int, ready: list[int],
                        rng: np.random.Generator) -> IntArray:
    """Least request over the requests in flight; before t = 0 over the pods that served then. At
    t = 0 the requests in flight on a removed pod stop counting (they were reset)."""
    npods = len(pods.pods)
    serving = [i for i, q in enumerate(pods.pods) if q.before_probability > 0] or ready
    active = [0] * npods
    busy: list[tuple[float, int]] = []
    chosen: list[int] = []
    picks_before = rng.integers(0, len(serving), size=(2, max(first, 1))).tolist()
    picks_after = rng.integers(0, len(ready), size=(2, max(len(arrivals) - first, 1))).tolist()
    for k, (t, service) in enumerate(zip(arrivals, services, strict=True)):
        if k == first:
            busy = [(end, pod) for end, pod in busy if not pods.pods[pod].removed]
            heapq.heapify(busy)
            active = [0] * npods
            for _, pod in busy:
                active[pod] += 1
        while busy and busy[0][0] <= t:
            active[heapq.heappop(busy)[1]] -= 1
        if k < first:
            a, b = serving[picks_before[0][k]], serving[picks_before[1][k]]
        else:
            a, b = ready[picks_after[0][k - first]], ready[picks_after[1][k - first]]
        if active[b] < active[a]:
            a = b
        active[a] += 1
        heapq.heappush(busy, (t + service, a))
        if k >= first:
            chosen.append(a)
    return np.asarray(chosen, dtype=np.int64)
