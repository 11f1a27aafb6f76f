"""An independent, per-request reference for the closed loop: C clients, nginx's cache as the C
source does it (MRU pick, close after M, LRU eviction of a full cache, idle timeout), one event
at a time. The simulator computes the closed loop per connection instead; the tests compare
the two in distribution."""

from __future__ import annotations

import heapq
import random


def closed_loop(*, clients: int, service_s: float, max_requests: int, pool: int, duration_s: float,
                before: list[float], after: list[float], history: str, seed: int) -> dict[str, object]:
    """Requests started in [0, duration) as (time, pod), and when the last connection open at
    t = 0 closed (None if one outlives the run)."""
    rng = random.Random(seed)
    pods = range(len(after))
    idle: list[list[float]] = []   # [pod, served, returned_at, old]; the end is the most recently returned
    events: list[tuple[float, int, int, list[float] | None]] = []
    open_old = 0
    last_old = 0.0
    requests: list[tuple[float, int]] = []
    for client in range(clients):
        phase = 0.0 if history == "fresh" else -service_s * rng.random()
        served = 0 if history == "fresh" else rng.randrange(max_requests)
        conn = [rng.choices(pods, before)[0], served, 0.0, 1.0]
        open_old += 1
        heapq.heappush(events, (phase + service_s, client, 0, conn))  # its in-flight request ends
    sequence = 1
    while events:
        t, client, _, conn = heapq.heappop(events)
        if t >= duration_s:
            break
        assert conn is not None
        conn[1] += 1
        if conn[1] >= max_requests:
            if conn[3]:
                open_old -= 1
                last_old = max(last_old, t)
        else:
            if len(idle) >= pool:
                evicted = idle.pop(0)
                if evicted[3]:
                    open_old -= 1
                    last_old = max(last_old, t)
            conn[2] = t
            idle.append(conn)
        # the client's next request, at once: the most recently returned idle connection, or a new one
        nxt = idle.pop() if idle else [rng.choices(pods, after)[0], 0, 0.0, 0.0]
        requests.append((t, int(nxt[0])))
        sequence += 1
        heapq.heappush(events, (t + service_s, client, sequence, nxt))
    return {"requests": requests, "last_old": None if open_old else last_old}
