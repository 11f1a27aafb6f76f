"""The generated nftables-mode models are what the real nft 1.0.6 prints back (root; skips without
it, fails in CI): each generated table, printed by kubechain.render, is loaded with the real
`nft -f` into a fresh namespace, and the real `nft list ruleset` and `nft -j list ruleset`, parsed,
are the model (the kernel keeps the elements of a hashed set in its own order, so elements are
compared as sets; JSON lacks the table and chain comments and the `dynamic` flag)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, note, settings

import kubechain
from kubechain.model import Table
from kubechain.render import render
from kubechain.testing import nft_rulesets

from support.kernel import Namespace, require_kernel

pytestmark = pytest.mark.kernel
EXAMPLES = max(5, settings.default.max_examples // 10)


def unordered(table: Table, json: bool = False) -> Table:
    sets = {n: dataclasses.replace(s, elements=tuple(sorted(s.elements, key=lambda e: (e.key, repr(e.value)))),
                                   flags=tuple(f for f in s.flags if not json or f != "dynamic"))
            for n, s in table.sets.items()}
    chains = {n: dataclasses.replace(c, comment=None) for n, c in table.chains.items()} if json else table.chains
    return dataclasses.replace(table, sets=sets, chains=chains, comment=None if json else table.comment)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nft_rulesets(max_services=3, max_endpoints=8))
def test_generated_nft_models_are_what_nft_prints_back(model):
    require_kernel(("ip", "nft"))
    text = render(model, "nft")
    note(text)
    with Namespace("kcnft-real-") as ns:
        ns.run("nft", "-f", "-", stdin=text)
        listed = kubechain.loads(ns.run("nft", "list", "ruleset"))
        dumped = kubechain.loads(ns.run("nft", "-j", "list", "ruleset"))
    for json, printed in ((False, listed), (True, dumped)):
        got, want = ([unordered(t, json) for t in tables] for tables in (printed.tables, model.tables))
        for g, w in zip(got, want, strict=False):
            note(f"json={json}: " + "; ".join(
                [f"set {n}: {g.sets.get(n)} != {s}" for n, s in w.sets.items() if g.sets.get(n) != s]
                + [f"chain {n}: {g.chains.get(n)} != {c}" for n, c in w.chains.items() if g.chains.get(n) != c]))
        assert got == want
