"""The comparison on hand-made digests: majorities, ties, nameless service ports, modes, what a
printout without a table cannot say, and the digest as a picklable public type."""

from __future__ import annotations

import pickle
from fractions import Fraction

import pytest

from kubechain.fleets import (
    DiagnosticCount,
    Distribution,
    NodeDigest,
    ServicePortDigest,
    compare,
)
from kubechain.fleets.digest import SHOWS_NO_ENDPOINTS, SHOWS_SERVICES

HALF = Fraction(1, 2)
TWO = Distribution((("10.244.1.1:80", HALF), ("10.244.1.2:80", HALF)), Fraction(0))
ONE = Distribution((("10.244.1.1:80", Fraction(1)),), Fraction(0))
WHOLE = frozenset({("ipv4", SHOWS_SERVICES), ("ipv4", SHOWS_NO_ENDPOINTS)})
NAT_ONLY = frozenset({("ipv4", SHOWS_SERVICES)})


def port(name="ns/web:http", cluster=TWO, **kw):
    return ServicePortDigest("ipv4", name, "10.96.0.5", 80, "tcp", kw.pop("group", "WEBHASH"), cluster, **kw)


def node(name, *services, shown=WHOLE, mode="iptables", **kw):
    return NodeDigest(name, f"/d/{name}.txt", "iptables-save", "ipv4", mode, ("nat", "filter"), shown,
                      tuple(services), **kw)


def codes(fleet):
    return sorted((f.code, f.service, f.nodes) for f in fleet.findings)


def test_the_majority_wins_and_the_others_are_named():
    fleet = compare([node("a", port()), node("b", port()), node("c", port(cluster=ONE))])
    assert codes(fleet) == [("stale-endpoints", "ns/web:http", ("c",))]
    (web,) = fleet.services
    assert [v.nodes for v in web.variants] == [("a", "b"), ("c",)] and web.nodes == 3 and not web.consistent


def test_a_tie_is_said_and_resolved_the_same_way_whatever_the_order():
    one = compare([node("a", port()), node("b", port(cluster=ONE))])
    other = compare([node("b", port(cluster=ONE)), node("a", port())])
    assert one == other
    (f,) = one.findings
    assert "(a tie)" in f.message


def test_missing_and_extra_service():
    old = port("ns/old:http", group="OLDHASH")
    fleet = compare([node("a", port()), node("b", port()), node("c", port(), old), node("d")])
    assert codes(fleet) == [("extra-service", "ns/old:http", ("c",)),
                            ("missing-service", "ns/web:http", ("d",))]


def test_nat_only_printouts_agree_with_no_endpoints_but_miss_a_service_with_endpoints():
    rejected = ServicePortDigest("ipv4", "ns/empty:http", "10.96.0.9", 80, "tcp", no_endpoints=True)
    fleet = compare([node("a", port(), rejected), node("b", port(), rejected), node("c", shown=NAT_ONLY)])
    assert codes(fleet) == [("missing-service", "ns/web:http", ("c",))]
    empty = next(s for s in fleet.services if s.name == "ns/empty:http")
    assert [(v.nodes, v.state) for v in empty.variants] == [(("a", "b"), "no-endpoints")]


def test_a_node_that_shows_no_nat_table_says_nothing():
    fleet = compare([node("a", port()), node("b", port()), node("c", shown=frozenset())])
    assert codes(fleet) == []
    assert fleet.consistent


def test_endpoints_where_the_others_reject_and_the_other_way_round():
    rejected = port(cluster=None, group=None, no_endpoints=True)
    fleet = compare([node("a", rejected), node("b", rejected), node("c", port())])
    assert codes(fleet) == [("stale-endpoints", "ns/web:http", ("c",))]
    assert "reject new connections for want of endpoints" in fleet.findings[0].message


def test_nameless_entries_are_matched_by_cluster_ip_then_by_chain_hash():
    nameless = port(name=None)
    chain_only = ServicePortDigest("ipv4", None, None, None, None, "WEBHASH", ONE)
    fleet = compare([node("a", port()), node("b", nameless), node("c", nameless),
                     node("d", chain_only, shown=frozenset())])
    assert codes(fleet) == [("stale-endpoints", "ns/web:http", ("d",))]
    (web,) = fleet.services
    assert web.nodes == 4


def test_probability_mismatch_needs_the_same_endpoints():
    skewed = Distribution((("10.244.1.1:80", Fraction(3, 4)), ("10.244.1.2:80", Fraction(1, 4))), Fraction(0))
    fleet = compare([node("a", port()), node("b", port()), node("c", port(cluster=skewed))])
    assert codes(fleet) == [("probability-mismatch", "ns/web:http", ("c",))]
    assert "than 2 of 3 nodes in iptables mode: 75.0000000000% instead of 50.0000000000%" in fleet.findings[0].message


def test_shares_compare_within_a_proxy_mode():
    """numgen buckets and the statistic cascade round 1/n differently: not a probability-mismatch
    between modes (mode-mismatch says the rest), but one inside a mode."""
    near = Distribution((("10.244.1.1:80", Fraction(2**31 + 1, 2**32)), ("10.244.1.2:80", Fraction(2**31 - 1, 2**32))),
                        Fraction(0))
    skewed = Distribution((("10.244.1.1:80", Fraction(3, 4)), ("10.244.1.2:80", Fraction(1, 4))), Fraction(0))
    fleet = compare([node("a", port()), node("b", port()), node("c", port(cluster=near), mode="nftables"),
                     node("d", port(cluster=near), mode="nftables"), node("e", port(cluster=skewed), mode="nftables")])
    assert codes(fleet) == [("mode-mismatch", None, ("a", "b")), ("probability-mismatch", "ns/web:http", ("e",))]
    assert "than 2 of 3 nodes in nftables mode" in fleet.findings[-1].message


def test_local_chains_are_checked_against_the_cluster_wide_set_and_equal_counts():
    here = Distribution((("10.244.1.1:80", Fraction(1)),), Fraction(0))
    there = Distribution((("10.244.1.2:80", Fraction(1)),), Fraction(0))
    gone = Distribution((("10.244.9.9:80", Fraction(1)),), Fraction(0))
    fleet = compare([node("a", port(local=here)), node("b", port(local=there)), node("c", port(local=gone))])
    assert codes(fleet) == [("stale-endpoints", "ns/web:http", ("c",))]
    assert "10.244.9.9:80, not among the service's 2 endpoints" in fleet.findings[0].message


def test_mode_mismatch_and_a_dump_without_kube_proxy_rules():
    fleet = compare([node("a", port()), node("b", port()), node("c", port(), mode="nftables"),
                     node("d", mode="none", shown=frozenset()), node("e", mode=None, shown=frozenset())])
    assert codes(fleet) == [("mode-mismatch", None, ("c",)), ("mode-mismatch", None, ("d",))]
    messages = sorted(f.message for f in fleet.findings)
    assert messages == ["c runs nftables mode where 2 of 4 nodes run iptables mode",
                        "d holds no kube-proxy rules where 2 of 4 nodes run iptables mode"]


def test_unreadable_nodes_and_node_diagnostics_are_summarised():
    warn = DiagnosticCount("non-uniform", "warning", 2, "ns/web:http: skewed")
    fleet = compare([node("a", port(), diagnostics=(warn,)), node("b", port()),
                     NodeDigest("c", "/d/c.txt", error="/d/c.txt:1:1: junk\n  expected more")])
    assert sorted((f.code, f.severity, f.nodes) for f in fleet.findings) == [
        ("non-uniform", "warning", ("a",)), ("unreadable-node", "error", ("c",))]
    assert next(f for f in fleet.findings if f.code == "non-uniform").message == (
        "2 non-uniform diagnostics on a; on a: ns/web:http: skewed")
    assert fleet.findings[0].code == "unreadable-node"  # most severe first


def test_digests_are_picklable_and_equal_after_the_trip():
    d = node("a", port(local=ONE, external=ONE, affinity_seconds=10800),
             diagnostics=(DiagnosticCount("x", "info", 1, "m"),))
    assert pickle.loads(pickle.dumps(d)) == d


def test_a_missing_digest_is_an_error():
    from kubechain.fleets import FleetBuilder
    builder = FleetBuilder(["a", "b"])
    builder.add(node("a", port()))
    with pytest.raises(ValueError, match="no digest for b"):
        builder.result()


def test_a_one_chain_printout_without_addresses_agrees_with_the_addresses_it_could_have():
    """`-L KUBE-SVC-…` of a node whose kube-proxy drops comments shows shares, not addresses."""
    unshown = Distribution((("?KUBE-SEP-A", HALF), ("?KUBE-SEP-B", HALF)), Fraction(0))
    other = Distribution((("?KUBE-SEP-A", Fraction(3, 4)), ("?KUBE-SEP-B", Fraction(1, 4))), Fraction(0))
    fleet = compare([node("a", port()), node("b", port()), node("c", port(cluster=unshown), shown=frozenset()),
                     node("d", port(cluster=other), shown=frozenset())])
    assert codes(fleet) == [("stale-endpoints", "ns/web:http", ("d",))]
    (web,) = fleet.services
    assert web.variants[0].nodes == ("a", "b", "c")
