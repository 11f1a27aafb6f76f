"""The generated models are what real iptables 1.8.9 prints back (root; skips without it, fails in CI).

Each generated ruleset is loaded with the real `iptables-restore -c` into a fresh namespace; then
(1) the real `iptables-save -c`, parsed, equals the model field for field, and (2) every real
printout (each `-L` variant, `-S`, save with and without -c) equals kubechain.render's text for
the model (timestamps aside): the issue's differential test, on generated rule sets.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, note, settings

import kubechain
from kubechain.model import Ruleset
from kubechain.render import render
from kubechain.testing import cascades, rulesets, services

from support.differential import DROPS_RULE_COUNTERS, real_printouts
from support.kernel import require_kernel
from support.model_compare import save_form
from support.render_variants import VARIANTS, without_timestamps

pytestmark = pytest.mark.kernel
EXAMPLES = max(5, settings.default.max_examples // 10)  # dev 5, ci 30, nightly 500 per strategy and backend
MODELS = {
    "rulesets": rulesets(counters=True),
    "services": services(max_endpoints=40).map(lambda s: s.ruleset(counters=False)),
    "cascades": cascades(),
}


def _without_rule_counters(tables):
    return [dataclasses.replace(t, chains={n: dataclasses.replace(c, rules=tuple(
        dataclasses.replace(r, counters=None) for r in c.rules)) for n, c in t.chains.items()}) for t in tables]


def _check(model: Ruleset, backend: str) -> None:
    printed = real_printouts(model, backend, prefix="kcp-real-")
    # (1) the real iptables-save -c, parsed, is the model (tables by name: backends order them differently)
    real = {t.name: t for t in save_form(kubechain.loads(printed["save-c"]))}
    ours = {t.name: t for t in save_form(model)}
    if (model.family, backend) in DROPS_RULE_COUNTERS or not model.has_counters:
        real = {t.name: t for t in _without_rule_counters(real.values())}
        ours = {t.name: t for t in _without_rule_counters(ours.values())}
    assert real == ours
    # (2) every printout is what render() prints for the model
    order = [line[1:] for line in printed["save-c"].splitlines() if line.startswith("*")]
    loaded = dataclasses.replace(model, tables=tuple(sorted(model.tables, key=lambda t: order.index(t.name))))
    if (model.family, backend) in DROPS_RULE_COUNTERS:
        loaded = dataclasses.replace(loaded, tables=tuple(_without_rule_counters(loaded.tables)))
    for key, text in printed.items():
        table, _, variant = key.rpartition(".")
        fmt, options, _ = VARIANTS[variant]
        options = {**options, "table": table} if table else dict(options)
        assert without_timestamps(render(loaded, fmt, **options)) == without_timestamps(text), key


@pytest.mark.parametrize("backend", ["nft", "legacy"])
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_generated_models_are_what_real_iptables_prints(kind, backend):
    require_kernel()

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(MODELS[kind])
    def check(model):
        note(render(model, "iptables-save", counters=True))
        _check(model, backend)

    check()
