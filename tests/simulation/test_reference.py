"""The per-connection closed loop against a per-request reference of nginx's cache
(tests/support/naive_gateway.py): the same distribution of shares over time and of the last
old connection's close."""

from __future__ import annotations

import statistics

import kubechain

from support.naive_gateway import closed_loop

C, S, M, RUNS = 6, 0.5, 40, 200          # L = M·S = 20 s
RPM = 60 * C / S


def reference_shares(history: str) -> tuple[list[float], list[float]]:
    per_bucket: list[list[float]] = [[] for _ in range(10)]
    last = []
    for seed in range(RUNS):
        got = closed_loop(clients=C, service_s=S, max_requests=M, pool=512, duration_s=40.0, before=[0.5, 0.5, 0],
                          after=[1 / 3, 1 / 3, 1 / 3], history=history, seed=seed)
        buckets: list[list[int]] = [[] for _ in range(10)]
        for t, pod in got["requests"]:
            buckets[int(t // 4)].append(pod)
        for i, b in enumerate(buckets):
            per_bucket[i].append(sum(p == 2 for p in b) / len(b))
        last.append(got["last_old"])
    return [statistics.mean(b) for b in per_bucket], last


def test_steady_history_agrees_with_the_per_request_reference():
    sim = kubechain.simulate(replicas="2:3", concurrency=C, rpm=RPM, max_requests=M, duration_s=40, bucket_s=4,
                             runs=RUNS, l7=())
    reference, last = reference_shares("steady")
    for mine, theirs in zip(sim.l4.curves.new_pods_share, reference, strict=True):
        assert abs(mine - theirs) < 0.035, (sim.l4.curves.new_pods_share, reference)
    assert abs(sim.l4.last_old_connection_closed_s - statistics.mean(last)) < 0.6  # both ≈ L·C/(C+1) = 17.1 s


def test_fresh_history_agrees_with_the_per_request_reference():
    sim = kubechain.simulate(replicas="2:3", concurrency=C, rpm=RPM, max_requests=M, duration_s=40, bucket_s=4,
                             runs=RUNS, l7=(), history="fresh")
    reference, last = reference_shares("fresh")
    assert set(last) == {20.0} and sim.l4.last_old_connection_closed_s == 20.0
    for mine, theirs in zip(sim.l4.curves.new_pods_share, reference, strict=True):
        assert abs(mine - theirs) < 0.035
