"""`kubechain trace`: the exact outcomes of one packet, on every iptables format of a full
kube-proxy node (fixtures/rules/trace.rules, printed by the real binaries) and on kube-proxy's
nftables table (fixtures/nft/kube-proxy-overall.*), checked against kube-proxy's semantics and
against analyze's shares of the same dump."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

import kubechain
from kubechain import Packet
from kubechain.testing import long_cascade

from support.paths import ROOT

FIXTURES = ROOT / "fixtures"
NODE = "192.168.0.2"  # the node address of the nft fixture's nodeport-ips set
POD = "10.0.3.3"  # inside the cluster CIDR kube-proxy was given (10.0.0.0/8), no endpoint
ALL_TABLES = ["save", "save-c"]  # formats that print nat and filter
NAT_ONLY = ["L-n-v", "L-n-v-x", "L-n-line", "L-n-v-x-line", "L", "L-v", "S"]
NFT = ["list.txt", "list-a.txt", "list-n.txt", "list-s.txt", "table.txt", "json"]
THIRD = Fraction(715827883, 1 << 31)
REST = Fraction(1431655765, 1 << 32)


def iptables(variant: str, backend: str = "nft") -> Path:
    return FIXTURES / f"trace.{backend}.{variant}.txt"


def nft(variant: str) -> Path:
    return FIXTURES / "nft" / f"kube-proxy-overall.{variant}"


def outcomes(path: Path, **packet: object) -> list[tuple[str, str | None, bool, Fraction]]:
    result = kubechain.trace(kubechain.load(path), Packet(**packet))  # type: ignore[arg-type]
    assert sum(o.probability for o in result.outcomes) == 1
    return [(o.verdict, o.destination, o.masquerade, o.probability) for o in result.outcomes]


def kinds(path: Path, **packet: object) -> list[str]:
    return [a.kind for a in kubechain.trace(kubechain.load(path), Packet(**packet)).assumptions]  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", ["nft", "legacy"])
@pytest.mark.parametrize("variant", ALL_TABLES)
def test_cluster_ip_from_a_pod_takes_the_kernel_shares_without_masquerade(variant, backend):
    got = outcomes(iptables(variant, backend), dst="172.30.0.47", dport=80, src=POD)
    assert got == [("dnat", "10.180.0.7:80", False, THIRD), ("dnat", "10.180.1.8:80", False, REST),
                   ("dnat", "10.180.2.9:80", False, REST)]


@pytest.mark.parametrize("variant", ALL_TABLES + NAT_ONLY)
def test_every_format_gives_the_same_distribution(variant):
    """From outside the cluster CIDR the SVC chain marks for masquerade, on every printout."""
    got = outcomes(iptables(variant), dst="172.30.0.47", dport=80, origin="external")
    assert got == [("dnat", "10.180.0.7:80", True, THIRD), ("dnat", "10.180.1.8:80", True, REST),
                   ("dnat", "10.180.2.9:80", True, REST)]


def test_a_nat_only_listing_invents_no_reject_and_says_so():
    dump = iptables("L-n-v")
    assert outcomes(dump, dst="172.30.0.46", dport=80, src=POD) == [("accept", None, False, 1)]
    assert "missing-table" in kinds(dump, dst="172.30.0.46", dport=80, src=POD)
    assert outcomes(iptables("save"), dst="172.30.0.46", dport=80, src=POD) == [("reject", None, False, 1)]
    assert "missing-table" not in kinds(iptables("save"), dst="172.30.0.46", dport=80, src=POD)


def test_nat_and_filter_listings_pasted_together_are_one_node(tmp_path):
    paste = tmp_path / "node.txt"
    paste.write_text(iptables("L-n-v").read_text() + iptables("filter.L-n-v").read_text())
    assert outcomes(paste, dst="172.30.0.46", dport=80, src=POD) == [("reject", None, False, 1)]
    assert outcomes(paste, dst="172.30.0.47", dport=80, src=POD)[0] == ("dnat", "10.180.0.7:80", False, THIRD)


@pytest.mark.parametrize("variant", ALL_TABLES)
def test_nodeports_and_external_traffic_policy(variant):
    dump = iptables(variant)
    local = (NODE,)
    # Local policy with a local endpoint: external clients reach only it, their source kept
    assert outcomes(dump, dst=NODE, dport=3007, origin="external", local_addresses=local) == [
        ("dnat", "10.180.0.7:80", False, 1)]
    # ... while pods and the node itself are sent over every endpoint (the node's masqueraded)
    assert outcomes(dump, dst=NODE, dport=3007, src=POD, local_addresses=local)[0] == (
        "dnat", "10.180.0.7:80", False, THIRD)
    assert outcomes(dump, dst=NODE, dport=3007, origin="node", local_addresses=local) == [
        ("dnat", "10.180.0.7:80", True, THIRD), ("dnat", "10.180.1.8:80", True, REST),
        ("dnat", "10.180.2.9:80", True, REST)]
    # Local policy without local endpoints: external traffic is dropped in filter
    assert outcomes(dump, dst=NODE, dport=3001, origin="external", local_addresses=local) == [("drop", None, False, 1)]
    # Cluster policy: masqueraded to the one endpoint
    assert outcomes(dump, dst=NODE, dport=3003, origin="external", local_addresses=local) == [
        ("dnat", "10.180.0.3:80", True, 1)]
    # a port no service has: delivered to the node itself, untouched
    assert outcomes(dump, dst=NODE, dport=22, origin="external", local_addresses=local) == [("accept", None, False, 1)]


def test_without_local_addresses_a_nodeport_is_not_caught_and_the_trace_says_why():
    dump = iptables("save")
    assert outcomes(dump, dst=NODE, dport=3007, origin="external") == [("accept", None, False, 1)]
    assert "unknown-local" in kinds(dump, dst=NODE, dport=3007, origin="external")


@pytest.mark.parametrize("variant", ALL_TABLES)
def test_load_balancer_source_ranges_and_affinity(variant):
    dump = iptables(variant)
    assert outcomes(dump, dst="5.6.7.8", dport=80, origin="external", src="203.0.113.9") == [
        ("dnat", "10.180.0.3:80", True, 1)]
    assert outcomes(dump, dst="5.6.7.8", dport=80, origin="external", src="198.51.100.1") == [("drop", None, False, 1)]
    # a returning client matches its endpoint's `recent --rcheck`: the path goes through it
    result = kubechain.trace(kubechain.load(dump), Packet("172.30.0.45", 80, src=POD, returning_client="10.180.0.3:80"))
    assert [(o.destination, o.probability) for o in result.outcomes] == [("10.180.0.3:80", 1)]
    rcheck = next(r for r in kubechain.load(dump).table("nat").chains["KUBE-SVC-NUKIZ6OKUXPJNT4C"].rules  # type: ignore[union-attr]
                  if any(type(m).__name__ == "Recent" for m in r.matches))
    assert rcheck.line in [s.line for s in result.outcomes[0].path]
    new = kubechain.trace(kubechain.load(dump), Packet("172.30.0.45", 80, src=POD))
    assert rcheck.line not in [s.line for s in new.outcomes[0].path]


def test_the_path_names_table_chain_and_line_and_leaves_out_jumps_that_changed_nothing():
    dump = iptables("save")
    result = kubechain.trace(kubechain.load(dump), Packet("172.30.0.47", 80, src=POD))
    lines = dump.read_text().splitlines()
    path = result.outcomes[0].path
    assert [(s.table, s.chain) for s in path] == [
        ("nat", "PREROUTING"), ("nat", "KUBE-SERVICES"), ("nat", "KUBE-SVC-TRACE7AAAAAAAAAA"),
        ("nat", "KUBE-SEP-TRACE7EPAAAAAAAA"), ("nat", "POSTROUTING"), ("nat", "KUBE-POSTROUTING")]
    for step in path:
        assert lines[step.line - 1].startswith(f"-A {step.chain} "), step
    assert "--to-destination 10.180.0.7:80" in lines[path[3].line - 1]
    assert "! --mark 0x4000/0x4000 -j RETURN" in lines[path[-1].line - 1]


@pytest.mark.parametrize("variant", NFT)
def test_nftables_mode(variant):
    dump = nft(variant)
    assert outcomes(dump, dst="172.30.0.44", dport=80, src=POD) == [
        ("dnat", "10.180.0.4:80", False, Fraction(1, 2)), ("dnat", "10.180.0.5:80", False, Fraction(1, 2))]
    assert outcomes(dump, dst="172.30.0.44", dport=80, origin="external") == [
        ("dnat", "10.180.0.4:80", True, Fraction(1, 2)), ("dnat", "10.180.0.5:80", True, Fraction(1, 2))]
    # no-endpoint-services → reject-chain; ETP Local without local endpoints: no-endpoint-nodeports drops
    assert outcomes(dump, dst="172.30.0.46", dport=80, src=POD) == [("reject", None, False, 1)]
    assert outcomes(dump, dst=NODE, dport=3001, origin="external") == [("drop", None, False, 1)]
    assert outcomes(dump, dst=NODE, dport=3003, origin="external") == [("dnat", "10.180.0.3:80", True, 1)]
    # an unallocated cluster IP is dropped, a cluster IP's unknown port rejected
    assert outcomes(dump, dst="172.30.99.1", dport=80, src=POD) == [("drop", None, False, 1)]
    assert outcomes(dump, dst="172.30.0.44", dport=81, src=POD) == [("reject", None, False, 1)]
    # load-balancer source ranges, and the affinity set holding a returning client
    assert outcomes(dump, dst="5.6.7.8", dport=80, origin="external", src="203.0.113.9") == [
        ("dnat", "10.180.0.3:80", True, 1)]
    assert outcomes(dump, dst="5.6.7.8", dport=80, origin="external", src="198.51.100.1") == [("drop", None, False, 1)]
    result = kubechain.trace(kubechain.load(dump), Packet("172.30.0.45", 80, src=POD, returning_client="10.180.0.3:80"))
    assert any(s.chain == "service-HVFWP5L3-ns5/svc5/tcp/p80" and s.line == result.outcomes[0].path[2].line
               for s in result.outcomes[0].path)


def test_nft_proves_its_nodeport_addresses_local():
    result = kubechain.trace(kubechain.load(nft("list.txt")), Packet(NODE, 3003, origin="external"))
    assert result.local_proven == (NODE,)
    assert [a.kind for a in result.assumptions] == ["unknown-local"]
    assert NODE in result.assumptions[0].detail


def _fixture_dumps() -> list[Path]:
    found = sorted(FIXTURES.glob("trace.*.save*.txt")) + sorted(FIXTURES.glob("nft/*.list.txt"))
    return found + sorted(FIXTURES.glob("nft/*.json"))


@pytest.mark.parametrize("dump", _fixture_dumps(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_cluster_ip_outcomes_are_analyze_shares(dump):
    """The trace and analyze walk the same chains: from a pod, a cluster IP's DNAT outcomes are
    exactly analyze's endpoint shares (its unassigned share ends without DNAT)."""
    ruleset = kubechain.load(dump)
    analysis = kubechain.analyze(ruleset)
    checked = 0
    for service in analysis.services:
        if service.kind != "cluster" or service.cluster_ip is None or service.port is None:
            continue
        if service.protocol not in ("tcp", "udp", "sctp") or service.affinity_seconds:
            continue
        pod = "10.254.254.254" if ":" not in service.cluster_ip else "fd00:ffff::fe"
        result = kubechain.trace(ruleset, Packet(service.cluster_ip, service.port, proto=service.protocol, src=pod))
        got: dict[str | None, Fraction] = {}
        for o in result.outcomes:
            key = o.destination if o.verdict == "dnat" else None
            got[key] = got.get(key, Fraction(0)) + o.probability
        want: dict[str | None, Fraction] = {}
        for e in service.endpoints:
            want[e.address] = want.get(e.address, Fraction(0)) + e.share
        if service.unassigned:
            want[None] = service.unassigned
        assert got == want, (service.name, result.outcomes)
        checked += 1
    assert checked


def test_diagnostics_are_those_on_the_path_and_can_be_left_out():
    ruleset = kubechain.load(iptables("save"))
    packet = Packet("172.30.0.46", 80, src=POD)
    with_them = kubechain.trace(ruleset, packet)
    assert [d.code for d in with_them.diagnostics] == ["no-endpoints"]
    assert with_them.diagnostics[0].line == with_them.outcomes[0].path[-1].line
    assert kubechain.trace(ruleset, packet, diagnostics=False).diagnostics == ()
    assert kubechain.trace(ruleset, Packet("172.30.0.47", 80, src=POD)).diagnostics == ()


def test_library_rejects_what_is_not_a_ruleset_or_packet():
    with pytest.raises(TypeError):
        kubechain.trace("fixtures/trace.nft.save.txt", Packet("10.0.0.1", 80, src=POD))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        kubechain.trace(kubechain.load(iptables("save")), {"dst": "10.0.0.1"})  # type: ignore[arg-type]
    for bad in ({"dst": "10.0.0.1", "dport": 0}, {"dst": "nope", "dport": 80}, {"dst": "10.0.0.1", "dport": 80,
                "origin": "moon"}, {"dst": "10.0.0.1", "dport": 80, "src": "fd00::1"}):
        with pytest.raises(ValueError):
            Packet(**bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs --src"):
        kubechain.trace(kubechain.load(iptables("save")), Packet("172.30.0.47", 80))


HOOK_ORDER = """table ip t {
	chain pre-dnat {
		type filter hook output priority -110; policy accept;
		ip daddr 10.96.0.3 drop
	}
	chain nat-out {
		type nat hook output priority -100; policy accept;
		ip daddr 10.96.0.1 dnat to 10.244.0.5:80
		ip daddr 10.96.0.3 dnat to 10.244.0.6:80
		ip daddr 10.96.0.4 dnat to 10.244.0.7:80
	}
	chain out {
		type filter hook output priority 0; policy accept;
		ct status dnat ip daddr 10.244.0.5 drop
		ip daddr 10.244.0.7 tcp dport 80 reject
	}
}
"""


def test_nft_base_chains_run_by_priority_and_filter_sees_the_dnat():
    ruleset = kubechain.loads(HOOK_ORDER)

    def run(dst: str) -> list[tuple[str, str | None]]:
        traced = kubechain.trace(ruleset, Packet(dst, 80, origin="node", src="192.168.0.2"))
        return [(o.verdict, o.destination) for o in traced.outcomes]
    assert run("10.96.0.1") == [("drop", "10.244.0.5:80")]  # DNATed, then `ct status dnat` in the later chain
    assert run("10.96.0.3") == [("drop", None)]  # the filter chain before nat sees the cluster IP
    assert run("10.96.0.4") == [("reject", "10.244.0.7:80")]  # filter matches the DNATed address and port
    assert run("10.96.0.2") == [("accept", None)]


ASSUMED = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -i eth1 -j DROP
-A FORWARD -p tcp -m limit --limit 5/sec -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -j KUBE-NOT-HERE
-A PREROUTING -d 10.96.0.1/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.244.0.9:8080
COMMIT
"""


def test_interfaces_unknown_matches_and_missing_chains_are_assumed_and_listed():
    ruleset = kubechain.loads(ASSUMED)

    def run(**packet: object) -> tuple[list[tuple[str, str | None]], list[tuple[str, str]]]:
        traced = kubechain.trace(ruleset, Packet("10.96.0.1", 80, src=POD, **packet), diagnostics=False)  # type: ignore[arg-type]
        return ([(o.verdict, o.destination) for o in traced.outcomes],
                [(a.kind, a.detail) for a in traced.assumptions if a.kind != "unknown-local"])

    outcomes_eth1, assumed_eth1 = run(in_iface="eth1")
    assert outcomes_eth1 == [("drop", "10.244.0.9:8080")]
    assert [kind for kind, _ in assumed_eth1] == ["missing-chain"]
    assert "KUBE-NOT-HERE" in assumed_eth1[0][1]
    outcomes_eth0, assumed_eth0 = run(in_iface="eth0")
    assert outcomes_eth0 == [("dnat", "10.244.0.9:8080")]
    assert any(kind == "unknown-match" and "limit" in detail for kind, detail in assumed_eth0)
    outcomes_none, assumed_none = run()  # no --in-iface: `-i eth1` is assumed to match, and said
    assert outcomes_none == [("drop", "10.244.0.9:8080")]
    assert any(kind == "unknown-match" and "--in-iface" in detail for kind, detail in assumed_none)


def test_hairpin_an_endpoint_sent_to_itself_is_masqueraded_and_only_then():
    """Each path carries its own mark: the SEP chain's `-s <endpoint> -j KUBE-MARK-MASQ` marks
    only the connection an endpoint makes to itself."""
    got = outcomes(iptables("save"), dst="172.30.0.47", dport=80, src="10.180.1.8")
    assert got == [("dnat", "10.180.0.7:80", False, THIRD), ("dnat", "10.180.1.8:80", True, REST),
                   ("dnat", "10.180.2.9:80", False, REST)]


#: kube-proxy's own packet-flow expectations for this rule set (pkg/proxy/iptables/proxier_test.go,
#: the runPacketFlowTests of the overall rules: its tracer returns the reachable endpoints, or
#: DROP/REJECT/ACCEPT, and whether the packet is masqueraded). Node addresses are its testNodeIPs;
#: a source among them starts at OUTPUT, as its tracer does.
KUBE_PROXY_NODE_IPS = ("192.168.0.2", "192.168.1.2", "192.168.99.11")
KUBE_PROXY_FLOWS = [  # (name, source, destination, port, expected outcomes, masquerade)
    ("no match", "10.0.0.2", "10.0.0.3", 80, {("accept", None)}, False),
    ("single endpoint", "10.0.0.2", "172.30.0.41", 80, {("dnat", "10.180.0.1:80")}, False),
    ("multiple endpoints", "10.0.0.2", "172.30.0.44", 80, {("dnat", "10.180.0.4:80"), ("dnat", "10.180.0.5:80")},
     False),
    ("LOCAL, KUBE-MARK-MASQ", "192.168.0.2", "192.168.99.22", 80, {("dnat", "10.180.0.2:80")}, True),
    ("DROP", "203.0.113.2", "192.168.99.22", 80, {("drop", None)}, False),
    ("ACCEPT (NodePortHealthCheck)", "192.168.0.2", "192.168.0.2", 30000, {("accept", None)}, False),
    ("REJECT", "10.0.0.2", "172.30.0.46", 80, {("reject", None)}, False),
]


@pytest.mark.parametrize("dump", [iptables(v) for v in ALL_TABLES] + [nft("list.txt"), nft("json")],
                         ids=lambda p: p.name)
@pytest.mark.parametrize(("name", "src", "dst", "port", "expected", "masquerade"), KUBE_PROXY_FLOWS,
                         ids=[f[0] for f in KUBE_PROXY_FLOWS])
def test_kube_proxys_own_packet_flow_expectations(dump, name, src, dst, port, expected, masquerade):
    """Its iptables expectations hold in nftables mode too (the same services, as kube-proxy's
    nftables proxier writes them)."""
    origin = "node" if src in KUBE_PROXY_NODE_IPS else "pod" if src.startswith("10.") else "external"
    got = outcomes(dump, dst=dst, dport=port, src=src, origin=origin, local_addresses=KUBE_PROXY_NODE_IPS)
    assert {(verdict, destination) for verdict, destination, _, _ in got} == expected, name
    assert {masq for _, _, masq, _ in got} == {masquerade}, name


def test_a_long_cascade_traces_exactly():
    """1,000 endpoints (shares of up to 31,000 bits): every outcome exact and equal to analyze's
    share. (At 3,000 endpoints two quadratic passes, an int added to a huge Fraction and a sort by
    exact comparison, made a trace take 54 s where analyze takes 4.)"""
    n = 1000
    ruleset = kubechain.loads(long_cascade(n))
    traced = kubechain.trace(ruleset, Packet("10.96.0.1", 80, src=POD), diagnostics=False)
    shares = {e.address: e.share for e in kubechain.analyze(ruleset).services[0].endpoints}
    assert {o.destination: o.probability for o in traced.outcomes} == shares
    assert len(traced.outcomes) == n
