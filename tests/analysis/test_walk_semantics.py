"""Deterministic shares that tell the walk's rules apart, on real-binary printouts of
fixtures/rules/walk.rules: a goto that falls off its chain, a RETURN in a goto'd chain, `! -s` and
`-s`. Each expectation is worked out by hand in the rule file's header; treating -g as -j, or
`! -s X` as never matching, gives other numbers (listed there too)."""

from __future__ import annotations

from fractions import Fraction

import pytest

import kubechain

from support.naive_walk import shares as naive_shares
from support.paths import ALL_VARIANTS, BACKENDS, fixture

Q, H = Fraction(1, 4), Fraction(1, 2)
SEP = "KUBE-SEP-WALK{}".format
EXPECTED = {  # service chain → ({endpoint chain: share}, unassigned)
    "KUBE-SVC-WALKGOTOAAAAAAAAA": ({SEP("A" * 13): Q, SEP("B" * 13): H}, Q),
    "KUBE-SVC-WALKGORETURNAAAAA": ({SEP("C" * 13): H, SEP("D" * 13): Fraction(0)}, H),
    "KUBE-SVC-WALKNOTSRCAAAAAAA": ({SEP("E" * 13): Fraction(1), SEP("F" * 13): Fraction(0)}, Fraction(0)),
    "KUBE-SVC-WALKSOURCEAAAAAAA": ({SEP("G" * 13): Fraction(0), SEP("H" * 13): Fraction(1)}, Fraction(0)),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_goto_return_and_source_matches_give_their_own_shares(backend, variant):
    ruleset = kubechain.load(fixture("walk", backend, variant))
    found = {s.chain: ({e.chain: e.share for e in s.endpoints}, s.unassigned)
             for s in kubechain.analyze(ruleset).services}
    assert found == EXPECTED
    chains = ruleset.table("nat").chains
    for chain, (endpoints, unassigned) in EXPECTED.items():  # an independent walk agrees
        naive, naive_unassigned = naive_shares(chains, chain)
        assert {k: v for k, v in naive.items() if v} == {k: v for k, v in endpoints.items() if v}
        assert naive_unassigned == unassigned


def test_a_goto_that_falls_off_its_chain_is_reported_as_fall_through():
    analysis = kubechain.analyze(kubechain.load(fixture("walk", "nft", "save")))
    falls = {d.chain for d in analysis.diagnostics if d.code == "fall-through"}
    assert falls == {"KUBE-SVC-WALKGOTOAAAAAAAAA", "KUBE-SVC-WALKGORETURNAAAAA"}


def test_sampled_connections_follow_the_same_rules():
    sample = kubechain.sample(kubechain.load(fixture("walk", "legacy", "save")), 40_000, 11)
    for sampled in sample.services:
        endpoints, _ = EXPECTED[sampled.service.chain]
        for e in sampled.endpoints:
            if endpoints[e.chain] in (0, 1):  # deterministic: exactly none, or all
                assert e.sampled == endpoints[e.chain] * 40_000, e.chain
        assert sampled.fit.vs_exact is None or sampled.fit.vs_exact.p_value is None or \
            sampled.fit.vs_exact.p_value >= 1e-6
