"""Hand-checked exact values of the kernel-level walk (see shared/FACTS.md for the numbers)."""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy

import kubechain
from kubechain.netfilter import statistic_threshold

from support.paths import BACKENDS, fixture


@pytest.mark.parametrize(("printed", "threshold"), [
    ("0.3333333333", 715827883), ("0.33333333349", 715827883), ("0.1000000000", 214748365),
    ("0.10000000009", 214748365), ("0.2000000000", 429496730), ("0.1666666667", 357913941),
    ("0.33333", 715820724), ("0.5", 1 << 30), ("1", 1 << 31), ("0", 0),
])
def test_thresholds_are_what_iptables_stores(printed, threshold):
    assert statistic_threshold(printed) == threshold


def services(path):
    return {s.chain: s for s in kubechain.analyze(kubechain.load(path)).services}


@pytest.mark.parametrize("backend", BACKENDS)
def test_three_endpoints_blog_example(backend):
    svc = services(fixture("blog", backend, "L-n-v"))["KUBE-SVC-EXAMPLEAAAAAAAAAA"]
    assert [e.probability for e in svc.endpoints] == [
        sympy.Rational(715827883, 2147483648), sympy.Rational(1431655765, 4294967296),
        sympy.Rational(1431655765, 4294967296)]
    assert all(isinstance(e.probability, sympy.Rational) for e in svc.endpoints)
    assert [e.address for e in svc.endpoints] == ["10.128.60.10:8080", "10.128.60.11:8080", "10.128.60.12:8080"]
    assert svc.unassigned == 0
    assert (svc.name, svc.cluster_ip, svc.port, svc.protocol) == (
        "namespace/example-service:http", "10.128.50.100", 8080, "tcp")


def test_all_half_chain_halves_each_time():
    svc = services(fixture("odd", "nft", "save"))["KUBE-SVC-SKEWED5AAAAAAAAAA"]
    assert [e.share for e in svc.endpoints] == [Fraction(1, 2), Fraction(1, 4), Fraction(1, 8),
                                                Fraction(1, 16), Fraction(1, 16)]


def test_sep_without_dnat_passes_its_share_to_the_next_rule():
    svc = services(fixture("odd", "nft", "L-n-v"))["KUBE-SVC-NODNATAAAAAAAAAAA"]
    first, broken, last = svc.endpoints
    t = Fraction(715827883, 1 << 31)
    assert first.share == t and broken.share == 0 and broken.address is None
    assert last.share == 1 - t  # the second rule's 1/2 of the rest plus the rest itself
    assert svc.unassigned == 0


def test_statistic_on_the_last_rule_leaves_mass_unassigned():
    svc = services(fixture("odd", "nft", "L-n-v"))["KUBE-SVC-FALLTHRUAAAAAAAAA"]
    assert [e.share for e in svc.endpoints] == [Fraction(1, 2), Fraction(1, 4)]
    assert svc.unassigned == Fraction(1, 4) and svc.unassigned_probability == sympy.Rational(1, 4)


def test_inversion_nth_goto_and_legacy_precision():
    found = services(fixture("odd", "legacy", "L-n-v-x"))
    assert [e.share for e in found["KUBE-SVC-INVERTAAAAAAAAAAA"].endpoints] == [Fraction(3, 4), Fraction(1, 4)]
    assert [e.share for e in found["KUBE-SVC-NTHAAAAAAAAAAAAAA"].endpoints] == [Fraction(1, 3)] * 3
    assert [e.share for e in found["KUBE-SVC-GOTOAAAAAAAAAAAAA"].endpoints] == [Fraction(1, 2)] * 2
    legacy = [e.share for e in found["KUBE-SVC-LEGACY5AAAAAAAAAA"].endpoints]
    t1, t2 = Fraction(715820724, 1 << 31), Fraction(1 << 30, 1 << 31)
    assert legacy == [t1, (1 - t1) * t2, (1 - t1) * (1 - t2)]


def test_affinity_rcheck_does_not_match_a_new_client():
    found = services(fixture("ipv6", "nft", "save"))
    svc = found["KUBE-SVC-V6WEBAAAAAAAAAAA"]
    assert svc.affinity_seconds == 10800
    assert [e.address for e in svc.endpoints] == ["[fd00:10:244:1::5]:8443", "[fd00:10:244:1::6]:8443",
                                                  "[fd00:10:244:2::7]:8443"]
    assert sum(e.share for e in svc.endpoints) == 1
    # an external client is neither a pod nor local: KUBE-EXT sends it to KUBE-SVL (two local endpoints)
    ext = found["KUBE-EXT-V6WEBAAAAAAAAAAA"]
    assert ext.kind == "external" and [e.share for e in ext.endpoints] == [Fraction(1, 2)] * 2


def test_single_chain_listing_reports_endpoints_by_chain_with_comment_addresses():
    svc = services(fixture("blog", "nft", "L-chain"))["KUBE-SVC-EXAMPLEAAAAAAAAAA"]
    assert [e.chain for e in svc.endpoints] == [f"KUBE-SEP-{c * 16}" for c in "ABC"]
    assert [e.address for e in svc.endpoints] == ["10.128.60.10:8080", "10.128.60.11:8080", "10.128.60.12:8080"]
    assert [e.share for e in svc.endpoints] == [Fraction(715827883, 1 << 31), Fraction(1431655765, 1 << 32),
                                                Fraction(1431655765, 1 << 32)]
    assert [e.observed for e in svc.endpoints] == [33412, 33201, 33387]  # the jump rules' counters


def test_conservation_on_every_fixture_service():
    for path in sorted(fixture("x", "y", "z").parent.glob("*.txt")):
        for svc in kubechain.analyze(kubechain.load(path)).services:
            assert sum(e.share for e in svc.endpoints) + svc.unassigned == 1, (path, svc.chain)


def test_jump_cycle_is_detected_not_recursed():
    text = """*nat
:KUBE-SVC-LOOPAAAAAAAAAAAA - [0:0]
:KUBE-LOOP-B - [0:0]
-A KUBE-SVC-LOOPAAAAAAAAAAAA -m statistic --mode random --probability 0.5 -j KUBE-LOOP-B
-A KUBE-SVC-LOOPAAAAAAAAAAAA -j KUBE-SEP-MISSINGAAAAAAAAAA
-A KUBE-LOOP-B -j KUBE-SVC-LOOPAAAAAAAAAAAA
COMMIT
"""
    analysis = kubechain.analyze(kubechain.loads(text))
    (svc,) = analysis.services
    assert svc.unassigned == Fraction(1, 2)
    assert [e.share for e in svc.endpoints] == [Fraction(1, 2)]
    codes = {d.code for d in analysis.diagnostics}
    assert {"jump-cycle", "missing-chain"} <= codes


def test_observed_counters_come_from_the_dnat_rules():
    svc = services(fixture("blog", "legacy", "save-c"))["KUBE-SVC-EXAMPLEAAAAAAAAAA"]
    assert [(e.observed, e.observed_exact) for e in svc.endpoints] == [(33412, True), (33201, True), (33387, True)]
    plain = services(fixture("blog", "legacy", "save"))["KUBE-SVC-EXAMPLEAAAAAAAAAA"]
    assert [e.observed for e in plain.endpoints] == [None] * 3
    dns = services(fixture("odd", "nft", "L-v"))["KUBE-SVC-UDPDNSAAAAAAAAAAA"]
    assert [(e.observed, e.observed_exact) for e in dns.endpoints] == [(123_000_000, False), (123_000, False)]
