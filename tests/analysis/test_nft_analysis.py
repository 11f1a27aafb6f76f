"""Analysis of nft printouts (fixtures/nft/): exact numgen shares, the fall-through of a value
without an element, the one-rule DNAT map, affinity sets, the kube view from the maps and chain
names, and iptables-nft rules read through nft giving the shares of the same rules read through
iptables-save."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import kubechain
from kubechain.netfilter import numgen_bucket

from support.paths import FIXTURES, NFT, NFT_IPTABLES_RULE_SETS, NFT_RULE_SETS, NFT_VARIANTS, nft_fixture

TWO_32 = 1 << 32


def bucket_sizes(modulus: int) -> list[int]:
    """The u32s the kernel's reciprocal_scale maps to each bucket, found by bisection on the
    function itself (not on the ceil formula the library uses)."""
    def first_of(bucket: int) -> int:
        lo, hi = 0, TWO_32
        while lo < hi:
            mid = (lo + hi) // 2
            if int(numgen_bucket(np.array([mid], dtype=np.uint64), modulus)[0]) >= bucket:
                hi = mid
            else:
                lo = mid + 1
        return lo
    edges = [first_of(k) for k in range(modulus)] + [TWO_32]
    return [b - a for a, b in zip(edges, edges[1:], strict=False)]


def analysis(path):
    return kubechain.analyze(kubechain.load(path))


def service(a, name, kind="cluster"):
    return next(s for s in a.services if s.name == name and s.kind == kind)


def codes(a):
    return [d.code for d in a.diagnostics]


def test_seven_endpoints_get_the_kernels_bucket_sizes():
    s = service(analysis(NFT / "mixed.list.txt"), "mixed/seven:http")
    sizes = bucket_sizes(7)
    assert sorted(set(sizes)) == [613566756, 613566757]
    assert [e.share for e in s.endpoints] == [Fraction(n, TWO_32) for n in sizes]
    # kube-proxy sorts endpoints as strings: 10.244.1.10 takes value 0
    assert [e.address for e in s.endpoints][:2] == ["10.244.1.10:8080", "10.244.1.4:8080"]
    assert s.unassigned == 0 and s.cluster_ip == "10.96.0.70" and s.port == 80 and s.protocol == "tcp"


def test_three_endpoints_of_the_blog():
    s = service(analysis(NFT / "blog.list.txt"), "namespace/example-service:http")
    assert [e.share * TWO_32 for e in s.endpoints] == [1431655766, 1431655765, 1431655765]
    assert [e.address for e in s.endpoints] == ["10.128.60.10:8080", "10.128.60.11:8080", "10.128.60.12:8080"]
    assert (s.cluster_ip, s.port) == ("10.128.50.100", 8080)


@pytest.mark.parametrize("rule_set", ["mixed", "ipv6"])
def test_a_value_without_an_element_falls_through_to_the_next_rule(rule_set):
    a = analysis(NFT / f"{rule_set}.list.txt")
    s = next(s for s in a.services if s.name and s.name.endswith("/gap:http"))
    sizes = bucket_sizes(3)
    assert [e.share for e in s.endpoints] == [Fraction(sizes[0], TWO_32), Fraction(sizes[1], TWO_32)]
    assert s.unassigned == Fraction(sizes[2], TWO_32)
    assert {"fall-through", "numgen-modulus"} <= set(codes(a))
    found = next(d for d in a.diagnostics if d.code == "numgen-modulus")
    assert "value 2 (33.333333% of what reaches it) has no element" in found.message


def test_round_robin_offset_jump_and_the_one_rule_dnat_map():
    a = analysis(NFT / "mixed.list.txt")
    assert [e.share for e in service(a, "mixed/rr:http").endpoints] == [Fraction(1, 2)] * 2  # numgen inc
    offset = service(a, "mixed/offset:http")  # mod 2 offset 1, keys 1 and 2, jump
    assert [e.share for e in offset.endpoints] == [Fraction(1, 2)] * 2 and offset.unassigned == 0
    single = service(a, "mixed/single:http")
    assert [(e.address, e.chain) for e in single.endpoints] == [
        (f"10.244.{x}:8080", "service-XJUTIZ7K-mixed/single/tcp/http") for x in ("0.9", "1.7", "1.8")]
    assert [e.share * TWO_32 for e in single.endpoints] == bucket_sizes(3)
    dns = service(a, "kube-system/dns-single:dns")
    assert dns.protocol == "udp" and [e.share for e in dns.endpoints] == [Fraction(1, 2)] * 2
    # one counter for all of a DNAT map's endpoints: not per endpoint, so no fit on it
    assert all(e.observed is None for e in dns.endpoints) and dns.fit is None


def test_affinity_from_the_sets():
    a = analysis(NFT / "mixed.list.txt")
    sticky = service(a, "mixed/sticky:http")
    assert sticky.affinity_seconds == 10800 and sticky.affinity_clients == 3
    assert [e.share * TWO_32 for e in sticky.endpoints] == bucket_sizes(3)
    message = next(d.message for d in a.diagnostics if d.code == "session-affinity")
    assert "the affinity sets remember 3 clients" in message


def test_counters_on_some_rules_only_give_no_fit():
    s = service(analysis(NFT / "mixed.list.txt"), "mixed/seven:http")
    assert [e.observed for e in s.endpoints] == [10012, 9987, None, None, None, None, 10001]
    assert s.fit is not None and s.fit.test == "none" and "counter of its own" in s.fit.reason


def test_the_kube_view_of_kube_proxys_own_test_rules():
    a = analysis(NFT / "kube-proxy-overall.list.txt")
    assert a.format == "nft"
    seen = {(s.name, s.kind): s for s in a.services}
    assert set(seen) == {("ns1/svc1:p80", "cluster"), ("ns2/svc2:p80", "cluster"), ("ns2/svc2:p80", "external"),
                         ("ns3/svc3:p80", "cluster"), ("ns3/svc3:p80", "external"), ("ns4/svc4:p80", "cluster"),
                         ("ns4/svc4:p80", "external"), ("ns5/svc5:p80", "cluster"), ("ns5/svc5:p80", "external")}
    svc2 = seen["ns2/svc2:p80", "external"]
    assert svc2.endpoints == () and svc2.unassigned == 1  # eTP Local with no local endpoint
    kinds = sorted((f.kind, f.address, f.port) for f in svc2.frontends)
    assert kinds == [("cluster IP", "172.30.0.42", 80), ("external IP", "1.2.3.4", 80),
                     ("external IP", "192.168.99.22", 80), ("nodeport", None, 3001)]
    svc5 = seen["ns5/svc5:p80", "external"]
    assert ("loadbalancer IP", "5.6.7.8", 80) in [(f.kind, f.address, f.port) for f in svc5.frontends]
    assert seen["ns5/svc5:p80", "cluster"].affinity_seconds == 10800
    messages = [d.message for d in a.diagnostics if d.code == "no-endpoints"]
    assert messages == [
        "ns2/svc2:p80 has no local endpoints on this node (externalTrafficPolicy: Local): kube-proxy drops external "
        "traffic to 1.2.3.4:80, 192.168.99.22:80, any local address:3001 here; the load balancer's health check "
        "should keep it away",
        "ns6/svc6:p80 has no endpoints: kube-proxy rejects every new connection to 172.30.0.46:80"]


def test_nftables_mode_and_iptables_mode_of_the_same_services_agree():
    """kube-proxy's TestOverallNFTablesRules and its iptables test hold the same services; with one
    or two endpoints, numgen and the cascade give the same exact shares."""
    def view(a):
        return sorted((s.name, s.kind, s.cluster_ip, s.port, s.protocol,
                       tuple((e.address, e.share) for e in s.endpoints), s.unassigned, s.affinity_seconds)
                      for s in a.services)
    assert view(analysis(NFT / "kube-proxy-overall.list.txt")) == view(
        analysis(FIXTURES / "kube-proxy-overall.nft.save.txt"))


@pytest.mark.parametrize("rule_set", NFT_RULE_SETS)
@pytest.mark.parametrize("variant", NFT_VARIANTS)
def test_every_printout_gives_the_same_analysis(rule_set, variant):
    def view(a):
        return ([(s.name, s.chain, s.kind, s.cluster_ip, s.port, s.protocol, s.affinity_seconds,
                  tuple((e.chain, e.address, e.share) for e in s.endpoints), s.unassigned) for s in a.services],
                sorted((d.code, d.chain) for d in a.diagnostics))
    assert view(analysis(nft_fixture(rule_set, variant))) == view(analysis(nft_fixture(rule_set, "list.txt")))


@pytest.mark.parametrize("rule_set", NFT_RULE_SETS)
def test_one_chain_printouts_take_endpoints_from_chain_names(rule_set):
    whole = analysis(nft_fixture(rule_set, "list.txt"))
    one = kubechain.load(nft_fixture(rule_set, "chain.txt"))
    a = kubechain.analyze(one)
    (s,) = a.services
    expected = next(x for x in whole.services if x.chain == s.chain)
    assert [(e.address, e.share) for e in s.endpoints] == [(e.address, e.share) for e in expected.endpoints]
    assert all(d.severity == "info" for d in a.diagnostics), a.diagnostics  # missing chains are expected here


def test_healthy_nft_output_raises_no_warning():
    for rule_set in ("blog", "kube-proxy-overall", "kube-proxy-v1.29"):
        for variant in NFT_VARIANTS:
            found = [d for d in analysis(nft_fixture(rule_set, variant)).diagnostics
                     if d.severity != "info" and d.code != "no-endpoints"]
            assert not found, (rule_set, variant, found)


@pytest.mark.parametrize("rule_set", NFT_IPTABLES_RULE_SETS)
def test_iptables_nft_rules_through_nft_give_the_iptables_shares(rule_set):
    """The same rules printed by iptables-save and by nft: the same shares and counters (nft
    prints no comments, so no names; `xt match recent` carries no timeout)."""
    def view(a):
        return [(s.chain, s.kind, s.cluster_ip, s.port, s.protocol,
                 tuple((e.chain, e.address, e.share, e.observed) for e in s.endpoints), s.unassigned)
                for s in a.services]
    through_nft = analysis(NFT / "iptables-nft" / f"{rule_set}.list.txt")
    assert view(through_nft) == view(analysis(FIXTURES / f"{rule_set}.nft.save-c.txt"))
    assert "xt-match" in codes(through_nft)


def test_iptables_nft_meta_random_thresholds_keep_their_diagnostics():
    a = analysis(NFT / "iptables-nft" / "odd.list.txt")
    assert {"legacy-precision", "fall-through", "no-dnat", "observed-skew", "unknown-match"} <= set(codes(a))


def test_iptables_nft_json_is_flagged_as_opaque():
    a = analysis(NFT / "iptables-nft" / "odd.json")
    opaque = [d for d in a.diagnostics if d.code == "xt-opaque"]
    assert len(opaque) == 2 and all(d.severity == "error" for d in opaque)


def test_json_inputs_format():
    from kubechain.report.documents import document
    assert document(analysis(NFT / "mixed.json"))["inputs"][0]["format"] == "nft-json"
    sticky = next(s for s in document(analysis(NFT / "mixed.list.txt"))["services"] if s["name"] == "mixed/sticky:http")
    assert sticky["affinity"] == {"seconds": 10800, "clients": 3}


def test_the_cli_offers_every_input_format_the_parser_reads():
    from kubechain.cli.common import INPUT_FORMATS
    from kubechain.parse import FORMATS
    assert INPUT_FORMATS == FORMATS


@pytest.mark.parametrize("rule_set", NFT_RULE_SETS)
def test_service_selection_gives_the_services_what_the_whole_table_gives(rule_set):
    """`--service TEXT` on kube-proxy's nftables table: the slice analyses each selected service port
    exactly as the whole table does, and raises nothing the whole table does not."""
    whole = analysis(nft_fixture(rule_set, "list.txt"))
    for s in whole.services:
        text = s.chain
        sliced = kubechain.analyze(kubechain.load(nft_fixture(rule_set, "list.txt"), service=text), service=text)
        (got,) = [x for x in sliced.services if x.chain == s.chain]
        assert (got.name, got.kind, got.cluster_ip, got.port, got.frontends, got.endpoints, got.unassigned,
                got.affinity_seconds, got.affinity_clients) == (
            s.name, s.kind, s.cluster_ip, s.port, s.frontends, s.endpoints, s.unassigned, s.affinity_seconds,
            s.affinity_clients)
        extra = {(d.code, d.message) for d in sliced.diagnostics} - {(d.code, d.message) for d in whole.diagnostics}
        assert not extra, (text, extra)
