"""The closed workload, simulated per connection (L4) and per request in numpy (L7).

The closed loop. C clients each send their next request the moment the last one ends, and each
request takes S = 60·C/R seconds at the pod, so client c's requests start at ψ_c + k·S
(k = 0, 1, …), ψ_c ∈ (−S, 0] being the start of the request it has in flight at t = 0.

Why per connection is exact here. At most C requests are ever in flight, and a request only opens
a connection when every pooled one is busy. When client c's response comes back, its connection
is returned to the head of the worker's idle queue and c's next request, sent at that same
instant, takes the head: the same connection (nginx picks the most recently returned, MRU). So each
client keeps one upstream connection until that connection is closed, after its M-th request,
and its next request opens the replacement, which kube-proxy's rules send to a pod at random
with the exact shares. No connection is ever idle, so the idle timeout and the LRU eviction of a
full pool never act, and the workers only split the clients. (A pool size of 0 means no reuse:
one connection per request.) A client's timeline is therefore a sequence of connections covering
request indices [k0, k1): the one in use at t = 0 with r requests left (fresh: r = M; steady:
r = M − U, U uniform on {0..M−1}), then one per M requests. The bucket counts follow from
N_c(t) = #{k ≥ 0 : ψ_c + k·S < t} = ⌈(t − ψ_c)/S⌉ at each bucket edge, without visiting requests.

L7 (Envoy, or nginx listing the pods) picks a pod per request from the ready pods, so the
connections do not matter: round robin takes the pods in turn in the order requests start,
random draws each request uniformly (a multinomial per bucket), and least request samples two
pods with replacement and keeps the one with fewer requests in flight, the first on a tie
(Envoy's `unweightedHostPick`). Least request is sequential, one Python step per request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .gateway import LEAST_REQUEST, RANDOM, ROUND_ROBIN
from .parameters import Parameters
from .pods import Pods

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
#: slack, in service times, so that a request starting exactly on a bucket edge falls after it
EDGE_SLACK = 1e-7


@dataclass(frozen=True, slots=True)
class L4Run:
    """One run of the L4 case: requests started per bucket and pod (`counts`), and their expected
    value given when the run's connections opened and closed (`expected`: each new connection's
    requests spread over the pods by the after-shares it was drawn with, a Rao-Blackwell average
    of that draw, which changes nothing else in the run); when the last connection open at t = 0
    closed (inf: it outlives the run); new connections opened; the first request a new pod got
    (inf: none)."""

    counts: IntArray
    expected: FloatArray
    last_old_closed_s: float
    connections_opened: int
    first_new_request_s: float


@dataclass(frozen=True, slots=True)
class Grid:
    """The run's bucket edges: 0, B, 2B, …, duration."""

    edges: FloatArray

    @classmethod
    def of(cls, p: Parameters) -> Grid:
        n = math.ceil(p.duration_s / p.bucket_s - 1e-9)
        return cls(np.minimum(np.arange(n + 1, dtype=np.float64) * p.bucket_s, p.duration_s))

    @property
    def buckets(self) -> int:
        return len(self.edges) - 1


def phases(p: Parameters, rng: np.random.Generator) -> FloatArray:
    """ψ_c: when each client's in-flight request started (fresh: all at 0; steady: uniform)."""
    if p.history == "fresh":
        return np.zeros(p.concurrency)
    return -p.service_time_s * rng.random(p.concurrency)


def requests_before(psi: FloatArray, t: FloatArray, service_s: float) -> IntArray:
    """N_c(t): requests of each client (rows) started before each time t (columns)."""
    n = np.ceil((t[None, :] - psi[:, None]) / service_s - EDGE_SLACK)
    return np.maximum(n, 0).astype(np.int64)


def l4_run(pods: Pods, p: Parameters, grid: Grid, rng: np.random.Generator) -> L4Run:
    """One Monte Carlo run of the L4 case (see the module docstring)."""
    c, s, npods = p.concurrency, p.service_time_s, len(pods.pods)
    psi = phases(p, rng)
    removed = np.array([q.removed for q in pods.pods])
    before = pods.before_weights()
    if sum(before):
        old_pod = rng.choice(npods, size=c, p=before)
        reset = removed[old_pod]  # conntrack entries to a deleted pod die: the request is retried
    else:  # no pod before the event: every client connects at t = 0
        old_pod, reset = np.zeros(c, dtype=np.int64), np.ones(c, dtype=bool)
    psi = np.where(reset, 0.0, psi)
    k_end = requests_before(psi, grid.edges[-1:], s)[:, 0]
    m = p.requests_per_connection
    per_connection = m if m else int(k_end.max()) + 1  # unlimited: the first one lasts the run
    if not m:
        left = np.full(c, per_connection, dtype=np.int64)
    elif p.history == "fresh":
        left = np.full(c, m, dtype=np.int64)
    else:
        left = m - rng.integers(0, m, size=c)
    left = np.where(reset, 0, left)
    closes = psi + left * s if m else np.where(reset, 0.0, np.inf)
    last_old = float(closes.max())
    if last_old > p.duration_s:
        last_old = math.inf

    # every connection as (client, k0, k1, pod): the one in use at t = 0, then one per M requests
    fresh_count = np.where(left < k_end, -(-(k_end - left) // per_connection), 0)
    client = np.repeat(np.arange(c), fresh_count)
    nth = np.arange(len(client)) - np.repeat(np.cumsum(fresh_count) - fresh_count, fresh_count)
    k0 = left[client] + nth * per_connection
    new_pod = rng.choice(npods, size=len(client), p=pods.after_weights())
    clients = np.concatenate([np.arange(c), client])
    starts = np.concatenate([np.zeros(c, dtype=np.int64), k0])
    ends = np.concatenate([np.minimum(left, k_end), np.minimum(k0 + per_connection, k_end[client])])
    pod = np.concatenate([np.where(reset, 0, old_pod), new_pod])

    n_at_edges = requests_before(psi, grid.edges, s)
    counts = _counts(clients, starts, ends, _one_hot(pod, npods), n_at_edges)
    # the old connections' pods decided the timeline (a removed pod's are reset): keep them drawn
    kept = np.where(reset, 0.0, 1.0)[:, None] * _one_hot(old_pod, npods)
    weights = np.concatenate([kept, np.tile(pods.after_weights(), (len(client), 1))])
    expected = _counts(clients, starts, ends, weights, n_at_edges)
    is_new = np.array([q.new for q in pods.pods])[new_pod]
    first = psi[client] + k0 * s
    first_new = float(first[is_new].min()) if is_new.any() else math.inf
    return L4Run(counts.astype(np.int64), expected, last_old, len(client), first_new)


def _one_hot(pod: IntArray, npods: int) -> FloatArray:
    out = np.zeros((len(pod), npods))
    out[np.arange(len(pod)), pod] = 1.0
    return out


def _counts(clients: IntArray, starts: IntArray, ends: IntArray, weights: FloatArray,
            n_at_edges: IntArray) -> FloatArray:
    """Requests started per bucket and pod, each connection's requests going to the pods by its
    row of `weights` (one-hot: the pod it drew). Each client's connections cover consecutive
    request indices, so a per-pod running total over (client, k0)-sorted connections, looked up at
    each N_c(edge), counts them without visiting single requests."""
    npods = weights.shape[1]
    stride = int(max(ends.max(initial=0), n_at_edges.max(initial=0))) + 1
    order = np.lexsort((np.arange(len(starts)), starts, clients))  # ties: the later (replacement) one wins
    clients, starts, ends, weights = clients[order], starts[order], ends[order], weights[order]
    lengths = np.maximum(ends - starts, 0)
    before = np.zeros((len(starts) + 1, npods))
    np.cumsum(weights * lengths[:, None], axis=0, out=before[1:])
    c, e = n_at_edges.shape
    k = n_at_edges.reshape(-1)
    keys = np.repeat(np.arange(c), e) * stride + k
    at = np.searchsorted(clients * stride + starts, keys, side="right") - 1
    inside = np.clip(k - starts[at], 0, lengths[at])
    total = before[at] + weights[at] * inside[:, None]
    return np.asarray(np.diff(total.reshape(c, e, npods), axis=1).sum(axis=0), dtype=np.float64)


def l7_run(pods: Pods, p: Parameters, grid: Grid, algorithm: str, rng: np.random.Generator) -> IntArray:
    """One run of a per-request balancer: requests started per bucket and pod."""
    s, npods = p.service_time_s, len(pods.pods)
    ready = np.array([i for i, q in enumerate(pods.pods) if not q.removed])
    serving = [i for i, q in enumerate(pods.pods) if q.before_probability > 0]
    psi = np.sort(phases(p, rng))
    # in flight at t = 0 (ψ < 0), spread evenly over the pods that served before (a balanced pool);
    # a request on a removed pod is reset and retried at t = 0, like every client of a fresh start
    inflight = np.array([serving[i % len(serving)] if serving else -1 for i in range(p.concurrency)])
    removed = np.array([q.removed for q in pods.pods])
    inflight = np.where((psi < 0) & (inflight >= 0), inflight, -1)
    inflight = np.where((inflight >= 0) & removed[np.maximum(inflight, 0)], -1, inflight)
    psi = np.where(inflight < 0, 0.0, psi)
    order = np.argsort(psi, kind="stable")
    psi, inflight = psi[order], inflight[order]
    n_at_edges = requests_before(psi, grid.edges, s)
    if algorithm == RANDOM:
        totals = np.diff(n_at_edges, axis=1).sum(axis=0)
        weights = np.zeros(npods)
        weights[ready] = 1.0 / len(ready)
        return rng.multinomial(totals, weights).astype(np.int64)
    # events run in start order (k-major over the ψ-sorted clients), so bucket b holds the events
    # [E_b, E_b+1) with E_b = Σ_c N_c(edge b): no per-request times are needed
    edges_events = n_at_edges.sum(axis=0)
    pending = int(np.count_nonzero(inflight >= 0))  # started before t = 0: the first `pending` events
    count = int(edges_events[-1]) - pending
    bucket = np.repeat(np.arange(grid.buckets), np.diff(edges_events))
    if algorithm == ROUND_ROBIN:
        chosen = ready[(int(rng.integers(len(ready))) + np.arange(count)) % len(ready)]
    elif algorithm == LEAST_REQUEST:
        chosen = _least_request(inflight[:pending].tolist(), p.concurrency, count, ready, npods, rng)
    else:
        raise ValueError(f"unknown L7 balancer {algorithm!r}")
    flat = np.bincount(bucket * npods + chosen, minlength=grid.buckets * npods)
    return flat.reshape(grid.buckets, npods).astype(np.int64)


def _least_request(inflight: list[int], clients: int, count: int, ready: IntArray, npods: int,
                   rng: np.random.Generator) -> IntArray:
    """Envoy's least request (two picks with replacement, the first kept on a tie) for `count`
    requests in start order, after the `inflight` ones started before t = 0.

    Events run k-major over the clients sorted by ψ, so event g frees the pod of event g − C, its
    client's previous request; clients that start at t = 0 free nothing (a dummy slot, index
    `npods`, that is never picked). `frees[i]` is what event `pending + i` frees, and each pick is
    appended to it, C places later."""
    pending = len(inflight)
    active = [0] * (npods + 1)
    for x in inflight:
        active[x] += 1
    picks = ready[rng.integers(0, len(ready), size=(2, count))]
    first, second = picks[0].tolist(), picks[1].tolist()
    frees = [npods] * (clients - pending) + inflight
    append = frees.append
    for freed, a, b in zip(frees, first, second, strict=False):  # frees grows as it is read
        active[freed] -= 1
        if active[b] < active[a]:
            a = b
        active[a] += 1
        append(a)
    return np.array(frees[clients:], dtype=np.int64)
