"""The open workload, per request through nginx's cache: where it departs from the closed loop's
picture (research note, "Where nginx's real MRU / LRU behaviour breaks the naive picture")."""

from __future__ import annotations

import pytest

import kubechain
from kubechain.simulation import theory


def open_sim(**options):
    options.setdefault("l7", ())
    options.setdefault("runs", 3)
    return kubechain.simulate(replicas="2:3", workload="open", **options)


def test_no_pool_means_a_new_connection_per_request_and_fair_shares_at_once():
    sim = open_sim(pool_size=0, duration_s=120)
    requests = 100 * 120  # 6,000 rpm
    assert sim.l4.connections_opened == pytest.approx(requests, rel=0.05)
    assert all(abs(s - 1 / 3) < 0.03 for s in sim.l4.curves.new_pods_share)
    closed = kubechain.simulate(replicas="2:3", pool_size=0, duration_s=120, runs=3, l7=())
    assert closed.l4.connections_opened == pytest.approx(requests, rel=0.01)


def test_the_pool_holds_the_peak_concurrency_so_old_connections_outlive_m_c_over_r():
    """Poisson arrivals with C = 30 in flight on average: the cache keeps about as many
    connections as the recent peak (well above 30), so each serves fewer than R/C requests per
    second and the last old one closes later than L = M·C/R."""
    sim = open_sim(max_requests=1000, duration_s=900)
    lifetime = theory.lifetime_s(1000, 30, 100.0)
    assert sim.l4.last_old_connection_closed_s > 1.2 * lifetime
    closed = kubechain.simulate(replicas="2:3", max_requests=1000, duration_s=900, runs=3, l7=())
    assert closed.l4.last_old_connection_closed_s < lifetime


def test_unlimited_requests_still_rebalance_slowly_through_peaks_and_idle_timeouts():
    """Closed loop with M = 0: nothing, ever. Open: a peak finds every cached connection busy and
    opens one (on the new pod a third of the time), and idle ones time out."""
    sim = open_sim(max_requests=0, duration_s=1800)
    assert sim.l4.connections_opened > 0
    assert sim.l4.curves.new_pods_share[-1] > 0.02


def test_a_short_idle_timeout_turns_a_quiet_gateway_into_per_request_balancing():
    quiet = {"concurrency": 1, "rpm": 6, "duration_s": 3600, "max_requests": 10_000, "runs": 10}
    short = open_sim(idle_timeout_s=5, **quiet)
    long = open_sim(idle_timeout_s=3600, **quiet)
    assert short.l4.connections_opened > 10 * max(long.l4.connections_opened, 1)
    assert abs(sum(short.l4.curves.new_pods_share) / len(short.l4.curves.new_pods_share) - 1 / 3) < 0.05
    assert sum(long.l4.curves.new_pods_share) / len(long.l4.curves.new_pods_share) < 0.25


def test_a_tiny_pool_churns():
    """More idle connections than the pool holds: each return past P closes the least recently
    used one, so connections are opened far more often than M alone would need."""
    tiny, big = open_sim(pool_size=2, duration_s=300), open_sim(pool_size=512, duration_s=300)
    assert tiny.l4.connections_opened > 20 * big.l4.connections_opened
    assert tiny.l4.curves.time_to_fair_share_s == 0


def test_workers_each_keep_their_own_pool():
    one, four = open_sim(max_requests=1000, duration_s=1200), open_sim(max_requests=1000, duration_s=1200, workers=4)
    # four pools of a quarter of the load each are burstier and hold more connections in all, so
    # each connection serves fewer requests per second and lives longer
    assert one.l4.last_old_connection_closed_s is not None
    assert four.l4.last_old_connection_closed_s is None or \
        four.l4.last_old_connection_closed_s > one.l4.last_old_connection_closed_s
    assert four.l4.connections_opened > one.l4.connections_opened


def test_scale_down_resets_the_removed_pods_connections():
    sim = kubechain.simulate(replicas="3:2", workload="open", runs=2, duration_s=300, l7=("least-request",))
    for curves in (sim.l4.curves, sim.l7[0].curves):
        assert all(row[2] == 0 for row in curves.requests_share)


@pytest.mark.parametrize("algorithm", ["round-robin", "least-request", "random"])
def test_l7_under_open_load_gives_the_new_pod_a_third_at_once(algorithm):
    sim = open_sim(l7=(algorithm,), duration_s=300)
    assert sim.l7[0].curves.time_to_fair_share_s == 0
    assert all(abs(s - 1 / 3) < 0.03 for s in sim.l7[0].curves.new_pods_share)


def test_a_closed_loop_with_a_pool_below_the_concurrency_says_what_it_leaves_out():
    sim = kubechain.simulate(replicas="2:3", pool_size=2, concurrency=10, runs=1, duration_s=60, l7=())
    assert any("smaller than the concurrency" in note for note in sim.notes)
    assert not kubechain.simulate(replicas="2:3", runs=1, duration_s=60, l7=()).notes
