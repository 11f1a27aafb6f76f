"""Properties over generated nftables-mode kube-proxy output (kubechain.testing.nft_rulesets):
every printout parses back to the model, analyses the same, raises nothing on healthy rules,
conserves probability, gives numgen's exact shares (within 2^-32 of 1/n), and the sampler's
counts fit them."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from hypothesis import given, note
from hypothesis import strategies as st

import kubechain
from kubechain import testing
from kubechain.model import SetLookup
from kubechain.netfilter import numgen_probability
from kubechain.render import render

ALLOWED = {"no-endpoints"}


def serious(ruleset) -> list:
    return [(d.code, d.message) for d in kubechain.analyze(ruleset).diagnostics
            if d.severity != "info" and d.code not in ALLOWED]


@given(testing.nft_renderings())
def test_every_nft_printout_parses_back_to_the_model(dump):
    note(f"{dump.options}\n{dump.text}")
    parsed = kubechain.loads(dump.text)
    assert parsed.format == "nft"
    chain = dump.options.get("chain")
    if chain is None:
        assert parsed.tables == dump.model.tables
        assert not parsed.partial
        return
    (table,) = parsed.tables
    expected = next(t for t in dump.model.tables if chain in t.chains).chains[chain]
    # printed alone, a chain comes without the sets whose timeouts its lookups would know
    assert table.chains[chain] == dataclasses.replace(expected, rules=tuple(
        dataclasses.replace(r, matches=tuple(dataclasses.replace(m, timeout_ms=None) if type(m) is SetLookup else m
                                             for m in r.matches)) for r in expected.rules))


@given(testing.nft_rulesets(), st.data())
def test_any_two_nft_printouts_analyze_the_same(model, data):
    def view(text):
        a = kubechain.analyze(kubechain.loads(text))
        return ([(s.name, s.chain, s.kind, s.cluster_ip, s.port, s.protocol, s.affinity_seconds,
                  tuple((e.chain, e.address, e.share) for e in s.endpoints), s.unassigned) for s in a.services],
                sorted((d.code, d.message) for d in a.diagnostics))
    options = [data.draw(st.fixed_dictionaries({"numeric": st.booleans(), "stateless": st.booleans()}))
               for _ in range(2)]
    a, b = (view(render(model, "nft", **o)) for o in options)
    assert a == b


@given(testing.nft_renderings(models=testing.nft_rulesets()).filter(lambda d: "chain" not in d.options))
def test_healthy_nftables_mode_output_raises_no_warning(dump):
    assert serious(kubechain.loads(dump.text)) == []


@given(testing.nft_rulesets(max_endpoints=40))
def test_numgen_shares_are_the_kernels_and_conserve_probability(model):
    for s in kubechain.analyze(model).services:
        n = len(s.endpoints)
        assert sum((e.share for e in s.endpoints), Fraction(0)) + s.unassigned == 1
        if n and not s.unassigned:
            assert sorted(e.share for e in s.endpoints) == sorted(numgen_probability(k, n) for k in range(n))
            assert all(abs(e.share - Fraction(1, n)) <= Fraction(1, 1 << 32) for e in s.endpoints)


@given(testing.nft_rulesets(max_services=2, max_endpoints=12), st.integers(0, 2**32 - 1))
def test_sampled_nft_connections_fit_the_exact_shares(model, seed):
    """The sampler's `(r · N) >> 32` buckets against the exact numgen shares: p >= 1e-6."""
    result = kubechain.sample(model, 20_000, seed)
    for sampled in result.services:
        exact = sampled.fit.vs_exact
        note(f"{sampled.service.chain}: {sampled.fit}")
        if exact is not None and exact.p_value is not None:
            assert exact.p_value >= 1e-6


@given(testing.nft_renderings())
def test_the_fast_line_reader_changes_no_parse(dump):
    """Generated kube-proxy lines read with and without RuleReader._fast's regexes: the same model."""
    from unittest import mock

    from kubechain.parse.nft_statements import RuleReader

    with mock.patch.object(RuleReader, "_fast", lambda _self, _text: None):
        general = kubechain.loads(dump.text)
    assert kubechain.loads(dump.text).tables == general.tables
