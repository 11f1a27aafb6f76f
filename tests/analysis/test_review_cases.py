"""Cases a code review found in the diagnostics and fits: each is a small hand-written dump (the
shapes are ones iptables accepts) and what the analysis must say about it."""

from __future__ import annotations

import pytest

import kubechain

HEADER = """*nat
:KUBE-SERVICES - [0:0]
:KUBE-SVC-AAAA - [0:0]
:KUBE-SEP-A1 - [0:0]
:KUBE-SEP-A2 - [0:0]
:KUBE-MARK-MASQ - [0:0]
:HELPER - [0:0]
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment "n/w:p cluster IP" -m tcp --dport 80 -j KUBE-SVC-AAAA
-A KUBE-SEP-A1 -p tcp -m tcp -j DNAT --to-destination 10.0.0.1:80
-A KUBE-SEP-A2 -p tcp -m tcp -j DNAT --to-destination 10.0.0.2:80
-A KUBE-SVC-AAAA -j HELPER
-A KUBE-SVC-AAAA -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-A1
-A KUBE-SVC-AAAA -j KUBE-SEP-A2
"""


def codes(text: str) -> set[tuple[str, str | None]]:
    return {(d.code, d.chain) for d in kubechain.analyze(kubechain.loads(text)).diagnostics}


@pytest.mark.parametrize(("helper", "unreachable"), [
    ("-A HELPER -j RETURN\n-A HELPER -j DNAT --to-destination 10.9.9.9:80\n", False),  # returns first
    ("-A HELPER -g KUBE-MARK-MASQ\n", False),  # the goto'd chain falls off its end: back to KUBE-SVC-AAAA
    ("-A HELPER -s 10.1.0.0/16 -j RETURN\n-A HELPER -j DNAT --to-destination 10.9.9.9:80\n", False),
    ("-A HELPER -j KUBE-MARK-MASQ\n-A HELPER -j DNAT --to-destination 10.9.9.9:80\n", True),  # always ends
    ("-A HELPER -g KUBE-SEP-A1\n", True),  # goes to a chain that always DNATs
])
def test_unreachable_rule_follows_returns_and_gotos_in_called_chains(helper, unreachable):
    found = codes(HEADER + helper + "COMMIT\n")
    assert (("unreachable-rule", "KUBE-SVC-AAAA") in found) is unreachable


def test_kube_proxys_old_firewall_backstop_is_not_reported():
    # before v1.24 every KUBE-FW chain ended with a KUBE-MARK-DROP rule after its unconditional jump
    fw = """*nat
:KUBE-SERVICES - [0:0]
:KUBE-SVC-AAAA - [0:0]
:KUBE-FW-AAAA - [0:0]
:KUBE-SEP-A1 - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-MARK-DROP - [0:0]
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-MARK-DROP -j MARK --set-xmark 0x8000/0x8000
-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment "n/w:p cluster IP" -m tcp --dport 80 -j KUBE-SVC-AAAA
-A KUBE-SERVICES -d 1.2.3.4/32 -p tcp -m comment --comment "n/w:p loadbalancer IP" -m tcp --dport 80 -j KUBE-FW-AAAA
-A KUBE-FW-AAAA -m comment --comment "n/w:p loadbalancer IP" -j KUBE-MARK-MASQ
-A KUBE-FW-AAAA -m comment --comment "n/w:p loadbalancer IP" -j KUBE-SVC-AAAA
-A KUBE-FW-AAAA -m comment --comment "n/w:p loadbalancer IP" -j KUBE-MARK-DROP
-A KUBE-SVC-AAAA -m comment --comment "n/w:p -> 10.0.0.1:80" -j KUBE-SEP-A1
-A KUBE-SEP-A1 -p tcp -m comment --comment "n/w:p" -m tcp -j DNAT --to-destination 10.0.0.1:80
COMMIT
"""
    assert not any(code == "unreachable-rule" for code, _ in codes(fw))
    # any other rule there is dead, and reported
    other = fw.replace('"n/w:p loadbalancer IP" -j KUBE-MARK-DROP', '"n/w:p loadbalancer IP" -j KUBE-SEP-A1')
    assert ("unreachable-rule", "KUBE-FW-AAAA") in codes(other)


def test_no_endpoints_brackets_ipv6_addresses():
    text = """*filter
:KUBE-SERVICES - [0:0]
-A KUBE-SERVICES -d fd00:10:96::5/128 -p tcp -m comment --comment "n/e:p has no endpoints" -m tcp --dport 80 -j REJECT
COMMIT
"""
    (d,) = [d for d in kubechain.analyze(kubechain.loads(text)).diagnostics if d.code != "no-nat-table"]
    assert d.code == "no-endpoints" and "[fd00:10:96::5]:80" in d.message


RARE = """*nat
:KUBE-SERVICES - [0:0]
:KUBE-SVC-AAAA - [0:0]
:KUBE-SEP-A1 - [0:0]
:KUBE-SEP-A2 - [0:0]
[60000:6000] -A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-AAAA
[{a}:1] -A KUBE-SVC-AAAA -m statistic --mode random --probability 0.00000833330 -j KUBE-SEP-A1
[{b}:1] -A KUBE-SVC-AAAA -j KUBE-SEP-A2
[{a}:1] -A KUBE-SEP-A1 -p tcp -m tcp -j DNAT --to-destination 10.0.0.1:80
[{b}:1] -A KUBE-SEP-A2 -p tcp -m tcp -j DNAT --to-destination 10.0.0.2:80
COMMIT
"""


def test_a_rare_endpoint_is_tested_exactly_at_any_total():
    # 60,000 connections, one endpoint expects 0.5 of them: a chi-square would call 4 a 1e-7 event;
    # the exact binomial p (mpmath: 0.00175) says it is merely unusual
    analysis = kubechain.analyze(kubechain.loads(RARE.format(a=4, b=59996)))
    (service,) = analysis.services
    assert 0.0015 < service.fit.vs_exact.p_value < 0.002
    assert "observed-skew" not in {d.code for d in analysis.diagnostics}
    skewed = kubechain.analyze(kubechain.loads(RARE.format(a=30, b=59970)))
    assert skewed.services[0].fit.vs_exact.p_value < 1e-6
    assert "observed-skew" in {d.code for d in skewed.diagnostics}


def test_verdicts_show_tiny_shares_with_enough_digits():
    from kubechain.analysis.fit_sentence import fit_sentence

    (service,) = kubechain.analyze(kubechain.loads(RARE.format(a=30, b=59970))).services
    text = fit_sentence(service, service.fit)
    assert "got 0.05% of 60,000" in text and "the rules give 0.00083%" in text


def test_a_cell_without_probability_is_named_as_such():
    text = RARE.replace("-m statistic --mode random --probability 0.00000833330 ", "").format(a=100, b=0)
    text = text.replace("[60000:6000]", "[100:6000]")
    (service,) = kubechain.analyze(kubechain.loads(text)).services
    # two endpoints, but the rules give the second nothing: one possible outcome against the rules
    assert service.fit.vs_exact.p_value is None and "under this hypothesis" in service.fit.vs_exact.note
    assert service.fit.vs_uniform.p_value < 1e-6  # 100 : 0 is no fair split


@pytest.mark.parametrize("bad", ["1e-999999999", "0.1%%", "nan", "inf", "1/0", "-1", "", "1e400"])
def test_unusable_tolerances_are_refused_quickly(bad):
    from kubechain.analysis import tolerance_from_text

    with pytest.raises((ValueError, ZeroDivisionError)):
        tolerance_from_text(bad)


def test_traffic_that_all_fell_through_is_still_tested():
    # no endpoint counted anything, but 100 connections entered a chain whose rules lose a quarter
    half = "-m statistic --mode random --probability 0.50000000000"
    text = RARE.replace("0.00000833330", "0.50000000000").replace(
        "[{b}:1] -A KUBE-SVC-AAAA -j", f"[{{b}}:1] -A KUBE-SVC-AAAA {half} -j").format(a=0, b=0)
    text = text.replace("[60000:6000]", "[100:6000]")
    analysis = kubechain.analyze(kubechain.loads(text))
    (service,) = analysis.services
    assert service.observed_total == 0 and service.fit.unassigned == 100
    assert service.fit.vs_exact.p_value < 1e-6 and "observed-skew" in {d.code for d in analysis.diagnostics}


def dual_stack_dump() -> str:
    """`iptables-save; ip6tables-save` of one node: kube-proxy names a service port's chains by a
    hash of its name and protocol, not its family, so both nat tables hold the same chain names."""
    from support.paths import fixture

    ipv6 = fixture("ipv6", "nft", "save").read_text().replace("V6WEBAAAAAAAAAAA", "EXAMPLEAAAAAAAAAA")
    return fixture("blog", "nft", "save").read_text() + ipv6


def test_dual_stack_dumps_keep_each_family_and_sample_each_table():
    analysis = kubechain.analyze(kubechain.loads(dual_stack_dump()))
    assert [(s.chain, s.family) for s in analysis.services][:2] == [
        ("KUBE-SVC-EXAMPLEAAAAAAAAAA", "ipv4"), ("KUBE-SVC-EXAMPLEAAAAAAAAAA", "ipv6")]
    sample = kubechain.sample(kubechain.loads(dual_stack_dump()), 3000, 1)
    for sampled in sample.services:  # each chain walked in its own table: every connection lands
        assert sum(e.sampled for e in sampled.endpoints) == 3000, sampled.service


def test_dual_stack_sample_json_pairs_results_with_their_own_service():
    import json

    from click.testing import CliRunner

    from kubechain.cli import main

    result = CliRunner().invoke(main, ["sample", "-", "--draws", "600", "--seed", "2", "--format", "json"],
                                input=dual_stack_dump())
    assert result.exit_code == 0, result.output
    for service in json.loads(result.output)["services"]:
        assert sum(e["sampled"] for e in service["endpoints"]) == 600
        addresses = {e["address"] for e in service["endpoints"]}
        assert all(a.startswith("[") for a in addresses) == (service["family"] == "ipv6")


def test_a_host_name_in_an_ip6tables_listing_does_not_make_it_ipv4():
    from support.paths import fixture

    text = fixture("ipv6", "nft", "L").read_text()
    named = text.replace("anywhere ", "localhost", 1)  # what /etc/hosts makes of ::1 without -n
    assert named != text and kubechain.loads(named).family == "ipv6"
