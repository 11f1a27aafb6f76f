"""The blog's numbers, and each case of issue 12, against the closed forms derived in
kubechain/simulation/theory.py (C = 30, 6,000 rpm, M = 10,000: L = 3,000 s)."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

import kubechain
from kubechain.simulation import theory

L, P, C, RPS = 3000.0, 1 / 3, 30, 100.0


def seed(**options):
    options.setdefault("l7", ())
    return kubechain.simulate(replicas="2:3", **options)


def test_the_blog_lifetime_is_fifty_minutes():
    assert theory.lifetime_s(10_000, C, RPS) == L
    assert seed(runs=1).parameters.connection_lifetime_s == pytest.approx(L)


def test_fresh_history_starves_the_new_pod_until_the_last_old_connection_closes_at_3000_s():
    sim = seed(history="fresh", runs=50)
    assert sim.l4.last_old_connection_closed_s == pytest.approx(L, abs=1e-6)
    assert sim.l4.first_new_pod_request_s == pytest.approx(L, abs=1e-6)
    before = [i for i, t in enumerate(sim.buckets_s) if t < L]
    after = [i for i, t in enumerate(sim.buckets_s) if t >= L]
    # nothing in any run before L: the band's upper end is 0
    assert all(sim.l4.curves.new_pods_share_band[i][1] == 0 for i in before)
    # after L: K/C, K ~ Binomial(30, 1/3); the mean of 50 runs has sd 0.012
    sd = math.sqrt(P * (1 - P) / C / 50)
    for i in after:
        assert abs(sim.l4.curves.new_pods_share[i] - P) < 4 * sd
    assert sim.l4.curves.time_to_fair_share_s == L


def test_steady_history_grows_linearly_to_a_third_at_fifty_minutes():
    sim = seed(runs=200)
    for i, start in enumerate(sim.buckets_s):
        middle = start + 30
        expected = theory.steady_share(middle, L, P) if start + 60 <= L or start >= L else None
        if expected is None:
            continue
        spread = math.sqrt(max(expected * (1 - expected), 0.01) / C / 200)
        assert abs(sim.l4.curves.new_pods_share[i] - expected) < 5 * spread + 0.002, (start, expected)
    assert sim.l4.last_old_connection_closed_s == pytest.approx(theory.steady_last_old_close(L, C), rel=0.01)
    assert sim.l4.first_new_pod_request_s == pytest.approx(theory.steady_first_request(L, C, P), rel=0.08)


@pytest.mark.parametrize(("max_requests", "lifetime"), [(1000, 300.0), (100, 30.0)])
def test_fewer_requests_per_connection_end_the_old_connections_sooner(max_requests, lifetime):
    fresh = seed(history="fresh", max_requests=max_requests, runs=5)
    assert fresh.l4.last_old_connection_closed_s == pytest.approx(lifetime, abs=1e-6)
    steady = seed(max_requests=max_requests, runs=100)
    assert steady.l4.last_old_connection_closed_s == pytest.approx(theory.steady_last_old_close(lifetime, C),
                                                                   rel=0.02)
    assert seed(what_if=(("max-requests", max_requests),), history="fresh", runs=5).what_if[0] \
        .last_old_connection_closed_s == pytest.approx(lifetime, abs=1e-6)


@pytest.mark.parametrize("history", ["steady", "fresh"])
def test_unlimited_requests_per_connection_starve_the_new_pod_forever(history):
    sim = seed(max_requests=0, history=history, runs=10)
    assert set(sim.l4.curves.new_pods_share) == {0.0}
    assert sim.l4.last_old_connection_closed_s is None
    assert sim.l4.first_new_pod_request_s is None
    assert sim.l4.connections_opened == 0
    assert sim.l4.curves.time_to_fair_share_s is None


@pytest.mark.parametrize("algorithm", ["round-robin", "least-request", "random"])
def test_l7_gives_the_new_pod_a_third_from_the_first_minute(algorithm):
    sim = kubechain.simulate(replicas="2:3", l7=(algorithm,), runs=5, duration_s=600)
    (l7,) = sim.l7
    assert l7.curves.time_to_fair_share_s == 0
    for share in l7.curves.new_pods_share:
        assert abs(share - P) < 0.01
    for pod_shares in l7.curves.requests_share:
        assert all(abs(s - 1 / 3) < 0.015 for s in pod_shares)


def test_least_request_sends_the_idle_new_pod_more_at_first():
    """The new pod starts with no request in flight, so it wins every pair it is in until it has
    caught up (10 of the 30 in flight): in the first service time it gets more than a third,
    and a third once its count has caught up."""
    sim = kubechain.simulate(replicas="2:3", l7=("least-request",), runs=20, duration_s=3, bucket_s=0.3)
    assert sim.l7[0].curves.new_pods_share[0] > 0.36
    assert abs(sim.l7[0].curves.new_pods_share[-1] - P) < 0.05


@pytest.mark.parametrize("history", ["steady", "fresh"])
def test_scale_down_drops_the_removed_pod_to_zero_at_once(history):
    sim = kubechain.simulate(replicas="3:2", history=history, runs=5, duration_s=600)
    removed = sim.pod("pod-3")
    assert removed.removed and not removed.new and removed.connection_probability == 0
    assert sim.fair_share is None
    index = [p.name for p in sim.pods].index("pod-3")
    for curves in (sim.l4.curves, *(r.curves for r in sim.l7)):
        assert all(row[index] == 0 for row in curves.requests_share)
        assert sum(curves.requests_share[0]) == pytest.approx(1)
    # the old connections to pods 1 and 2 live on; only pod-3's were reset and reopened
    assert 0 < sim.l4.connections_opened < C


def test_the_new_pod_gets_kube_proxys_exact_share():
    sim = seed(runs=1)
    assert [p.connection_probability for p in sim.pods] == [Fraction(715827883, 2**31), Fraction(1431655765, 2**32),
                                                            Fraction(1431655765, 2**32)]
    assert [p.before_probability for p in sim.pods] == [Fraction(1, 2), Fraction(1, 2), 0]
    assert sim.fair_share == Fraction(1431655765, 2**32)
    nft = seed(runs=1, proxy_mode="nftables")
    assert [p.connection_probability for p in nft.pods] == [Fraction(1431655766, 2**32), Fraction(1431655765, 2**32),
                                                            Fraction(1431655765, 2**32)]
