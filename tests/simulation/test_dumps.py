"""Pods and shares from dumps: kubechain's own analysis gives each endpoint's exact share, and the
simulated long-run share of requests must equal it."""

from __future__ import annotations

from fractions import Fraction

import pytest
from click.testing import CliRunner

import kubechain
from kubechain.cli import main

from support.paths import FIXTURES, fixture


def test_a_skewed_dumps_long_run_request_shares_are_its_exact_connection_probabilities():
    """With M = 100 every client reopens its connection 180 times in 90 minutes, each time drawing
    a pod with the exact shares, so each pod's long-run share of requests is its probability: the
    per-run average over 30 × 180 draws has sd ≤ 0.007, the mean of 20 runs ≤ 0.0015."""
    dump = kubechain.load(fixture("odd", "nft", "save"))
    sim = kubechain.simulate(dump=dump, service="odd/skewed:web", max_requests=100, l7=())
    service = next(s for s in kubechain.analyze(dump).services if s.name == "odd/skewed:web")
    exact = {e.address: e.share for e in service.endpoints}
    assert {p.name: p.connection_probability for p in sim.pods} == exact
    assert sorted(exact.values()) == [Fraction(1, 16), Fraction(1, 16), Fraction(1, 8), Fraction(1, 4), Fraction(1, 2)]
    assert sim.fair_share is None and not any(p.new or p.removed for p in sim.pods)
    rows = sim.l4.curves.requests_share
    for i, pod in enumerate(sim.pods):
        long_run = sum(row[i] for row in rows) / len(rows)
        assert long_run == pytest.approx(float(pod.connection_probability), abs=0.006), pod.name


def test_before_and_after_dumps_match_pods_by_address():
    before = kubechain.load(fixture("blog-before", "nft", "save"))
    after = kubechain.load(fixture("blog", "nft", "L-n-v"))
    sim = kubechain.simulate(before=before, after=after, service="namespace/example-service:http",
                             history="fresh", runs=3, l7=())
    assert [(p.name, p.new, p.removed) for p in sim.pods] == [
        ("10.128.60.10:8080", False, False), ("10.128.60.11:8080", False, False), ("10.128.60.12:8080", True, False)]
    assert sim.fair_share == Fraction(1431655765, 2**32)
    assert [p.before_probability for p in sim.pods] == [Fraction(1, 2), Fraction(1, 2), 0]
    assert sim.l4.last_old_connection_closed_s == pytest.approx(3000, abs=1e-6)
    # the same event from --replicas: the same shares, so the same numbers with the same seed
    same = kubechain.simulate(replicas="2:3", history="fresh", runs=3, l7=())
    assert same.l4.curves == sim.l4.curves


def test_reversed_dumps_are_a_scale_down():
    after = kubechain.load(fixture("blog-before", "nft", "save"))
    before = kubechain.load(fixture("blog", "legacy", "save"))
    sim = kubechain.simulate(before=before, after=after, service="namespace/example-service:http", runs=2,
                             duration_s=300, l7=("round-robin",))
    gone = sim.pod("10.128.60.12:8080")
    assert gone.removed and gone.connection_probability == 0
    index = [p.name for p in sim.pods].index(gone.name)
    assert all(row[index] == 0 for row in sim.l4.curves.requests_share)


def test_an_unknown_service_is_a_clear_error():
    dump = kubechain.load(fixture("blog", "nft", "save"))
    with pytest.raises(ValueError, match="has no service port 'nope'.*namespace/example-service:http"):
        kubechain.simulate(dump=dump, service="nope")


def test_exactly_one_source_of_pods():
    dump = kubechain.load(fixture("blog", "nft", "save"))
    with pytest.raises(ValueError, match="exactly one"):
        kubechain.simulate(replicas="2:3", dump=dump, service="namespace/example-service:http")
    with pytest.raises(ValueError, match="exactly one"):
        kubechain.simulate()


def test_client_ip_affinity_is_said_not_hidden():
    """A gateway is one client: with ClientIP affinity kube-proxy sends all its connections to one
    pod, which the connection shares do not model; the result says so."""
    dump = kubechain.load(fixture("ipv6", "nft", "save"))
    sim = kubechain.simulate(dump=dump, service="v6/web:https", runs=1, duration_s=60, l7=())
    assert any("ClientIP session affinity (10800 s)" in note for note in sim.notes)
    result = CliRunner().invoke(main, ["simulate", str(fixture("ipv6", "nft", "save")), "--service", "v6/web:https",
                                       "--runs", "1", "--duration", "1m", "--l7", "none"])
    assert "note: v6/web:https has ClientIP session affinity" in result.output


def test_nftables_dumps_give_the_same_pods():
    """The before dump from iptables-save, the after dump from `nft list ruleset`: pods are
    matched by address whatever printed them."""
    before = kubechain.load(fixture("blog-before", "nft", "save"))
    after = kubechain.load(FIXTURES / "nft" / "blog.list.txt")
    sim = kubechain.simulate(before=before, after=after, service="namespace/example-service:http", runs=2,
                             duration_s=300, l7=())
    same = kubechain.simulate(replicas="2:3", runs=2, duration_s=300, l7=())
    assert [(p.new, p.connection_probability) for p in sim.pods] == [(p.new, p.connection_probability)
                                                                     for p in same.pods]
    result = CliRunner().invoke(main, ["simulate", "--before", str(fixture("blog-before", "nft", "save")), "--after",
                                       str(FIXTURES / "nft" / "blog.list.txt"), "--input-format", "nft",
                                       "--service", "namespace/example-service:http", "--runs", "1", "--l7", "none"])
    assert result.exit_code == 2  # --input-format applies to every dump, and the before dump is not nft
