"""`--service TEXT` reads only the selected service ports' chains (kubechain.parse.sliced), and
that slice is the one kubechain.selection.select cuts from the whole parsed rule set: same
chains in the same order, same rules at the same lines, same analysis. The selected service
ports are analysed exactly as in the whole rule set, but for the counters' p-values adjusted for
multiple testing: Holm adjusts over the service ports a run tests, so a selection is its own family."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import kubechain
from kubechain.parse import sliced
from kubechain.selection import select

from support.documents import unadjusted
from support.paths import FIXTURES

ALL = sorted(p.name for p in FIXTURES.glob("*.txt"))


def texts(path: Path) -> list[str]:
    """Texts to select by: every name and chain, a namespace, a chain prefix, a hash fragment."""
    analysis = kubechain.analyze(kubechain.load(path))
    found = {s.name for s in analysis.services if s.name} | {s.chain for s in analysis.services}
    found |= {s.name.split("/")[0] + "/" for s in analysis.services if s.name}
    found |= {s.chain[9:15] for s in analysis.services} | {"KUBE-SVC-", "KUBE-EXT-", "dns", "http"}
    found |= {d.message.split(" has no ")[0] for d in analysis.diagnostics if d.code == "no-endpoints"}
    return sorted(found)


def shape(ruleset):
    return [(t.name, t.line, [(c.name, c.line, c.policy, c.counters, c.references,
                               [(r.line, r) for r in c.rules]) for c in t.chains.values()])
            for t in ruleset.tables]


@pytest.mark.parametrize("name", ALL)
def test_the_fast_slice_is_the_slice_of_the_whole(name, monkeypatch):
    path = FIXTURES / name
    whole = kubechain.load(path)
    used = []
    original = sliced.load_slice

    def spy(*args, **kwargs):
        got = original(*args, **kwargs)
        used.append(got is not None)
        return got
    monkeypatch.setattr(sliced, "load_slice", spy)
    for text in texts(path):
        slow = select(whole, text)
        try:
            fast = kubechain.load(path, service=text)
        except kubechain.SelectionError:
            assert not slow.tables, text
            continue
        assert shape(fast) == shape(slow), text
        assert (fast.format, fast.has_counters, fast.partial, fast.selection) == \
               (slow.format, slow.has_counters, slow.partial, slow.selection), text
        a_fast, a_slow = kubechain.analyze(fast), kubechain.analyze(slow)
        assert kubechain.to_json(a_fast) == kubechain.to_json(a_slow), text
        full = json.loads(kubechain.to_json(kubechain.analyze(whole)))
        by_chain = {(s["chain"], s["family"]): s for s in full["services"]}
        for s in json.loads(kubechain.to_json(a_fast))["services"]:
            assert unadjusted(s) == unadjusted(by_chain[s["chain"], s["family"]]), (text, s["chain"])
    if ".S." not in name and "L-chain" not in name:
        assert used and all(used), "the byte index was not used"


def test_a_service_that_matches_nothing_names_the_closest():
    path = FIXTURES / "odd.nft.save-c.txt"
    with pytest.raises(kubechain.SelectionError) as info:
        kubechain.load(path, service="odd/skewd")
    assert "odd/skewed:web" in info.value.closest and "odd/skewed:web" in str(info.value)
    with pytest.raises(kubechain.SelectionError):
        kubechain.analyze(kubechain.load(path), service="nothing-like-it")
