"""The closed loop on paper: what the simulator must reproduce, derived (tests check it against
these formulas; README, "Why the new pod starves", tells the same story).

Notation: C clients in a closed loop, R requests per second in all, so each request takes
S = C/R and each client's connection serves 1/S requests per second. A connection is closed after
M requests, so it lives L = M·S = M·C/R (the blog: 10,000 · 30 / 100 s⁻¹ = 3,000 s = 50 min).
p is the new pods' combined share of new connections after the event (1/3 for 2 → 3).

Fresh history (every connection opened just before t = 0). All C connections close together at
exactly t = L, and until then no request can reach a new pod: share(t) = 0 for t < L. At L every
client opens a replacement, each landing on a new pod with probability p independently, so the
new pods then carry K/C of the requests with K ~ Binomial(C, p): mean p, standard deviation
√(p(1−p)/C), and P(K = 0) = (1−p)^C. The replacements are again synchronised, so the share is a
step redrawn every L.

Steady history (each connection has already served U ~ Uniform{0..M−1} requests, and the
in-flight request started at a uniform phase in the last S). A connection's remaining life is
then uniform on (0, L], independently per client, so by t ≤ L each old connection has closed with
probability t/L; its replacement lives L, so it is not replaced again before L. Each closed one
was replaced on a new pod with probability p, hence E[share(t)] = p·t/L for 0 ≤ t ≤ L, and p
afterwards: with the blog's numbers 1/6 at 25 min and the full 1/3 only at 50 min. The last old
connection closes at the maximum of C uniforms on (0, L]: mean L·C/(C+1). The first request on a
new pod comes at the first closed connection that lands there: P(none by t) = (1 − p·t/L)^C, so
E[T_first] = ∫₀ᴸ (1 − p·t/L)^C dt = L·(1 − (1−p)^(C+1)) / (p·(C+1)) ≈ 290 s for the blog.

Unlimited (M = 0: Kong's 0, HTTP/2, gRPC). No connection ever closes in a closed loop, so no new
connection is made and the new pods get nothing, ever.

L7 (a balancer per request). A new pod is in the rotation from the first request after the
endpoint update: round robin gives each of n pods exactly 1/n from the first minute, random
1/n per request, least request 1/n once the new pod's in-flight count has caught up, within
about one service time.
"""

from __future__ import annotations

import math


def lifetime_s(max_requests: int, concurrency: int, rps: float) -> float:
    """L = M·C/R: how long one connection lives in a closed loop (inf when M = 0, unlimited)."""
    return max_requests * concurrency / rps if max_requests else math.inf


def fresh_share(t: float, lifetime: float, p: float) -> float:
    """Expected new-pod share at t after a fresh start: 0 before L, p from L on."""
    return 0.0 if t < lifetime else p


def steady_share(t: float, lifetime: float, p: float) -> float:
    """Expected new-pod share at t in a steady history: p·t/L up to L, then p."""
    return p * min(1.0, max(0.0, t) / lifetime) if math.isfinite(lifetime) else 0.0


def steady_last_old_close(lifetime: float, concurrency: int) -> float:
    """E[max of C uniforms on (0, L]] = L·C/(C+1)."""
    return lifetime * concurrency / (concurrency + 1)


def steady_first_request(lifetime: float, concurrency: int, p: float) -> float:
    """E[first request on a new pod] = L·(1 − (1−p)^(C+1)) / (p·(C+1))."""
    return lifetime * (1 - (1 - p) ** (concurrency + 1)) / (p * (concurrency + 1))


def no_new_connection(concurrency: int, p: float) -> float:
    """(1−p)^C: the chance that none of a fresh generation's C connections lands on a new pod."""
    return (1 - p) ** concurrency
