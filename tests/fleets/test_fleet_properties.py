"""Property: any fleet made of printouts of one generated ruleset (every format and option
kubechain.testing.renderings draws: -L with or without -n/-v/-x/--line-numbers, one chain or
all, -S, iptables-save with or without -c, either backend's header; in nftables mode the nft
printouts nft_renderings draws) is consistent: no service port differs, none is missing or extra,
and every node runs the same mode."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

import kubechain
from kubechain.fleets import compare, digest
from kubechain.testing import nft_renderings, nft_rulesets, renderings, rulesets


@st.composite
def fleets(draw: st.DrawFn) -> list[str]:
    model = draw(rulesets(max_services=4, max_endpoints=8))
    return [draw(renderings(models=st.just(model))).text for _ in range(draw(st.integers(2, 5)))]


@st.composite
def nft_fleets(draw: st.DrawFn) -> list[str]:
    """The same in nftables mode: `nft [-n] [-s] list ruleset` or `list chain` of one table."""
    model = draw(nft_rulesets(max_services=4, max_endpoints=8))
    return [draw(nft_renderings(models=st.just(model))).text for _ in range(draw(st.integers(2, 5)))]


@given(st.one_of(fleets(), nft_fleets()))
def test_printouts_of_one_ruleset_make_a_consistent_fleet(texts):
    digests = []
    for i, text in enumerate(texts):
        ruleset = kubechain.loads(text, path=f"node-{i}.txt")
        digests.append(digest(ruleset, kubechain.analyze(ruleset), f"node-{i}", f"node-{i}.txt"))
    fleet = compare(digests)
    assert fleet.consistent, [f.message for f in fleet.findings]
    assert all(s.consistent for s in fleet.services)
