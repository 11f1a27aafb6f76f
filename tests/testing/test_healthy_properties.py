"""Properties over generated kube-proxy output (kubechain.testing): healthy rules raise no warning
or error in any printed form, and the kernel-faithful sampler agrees with the exact shares."""

from __future__ import annotations

from hypothesis import given, note
from hypothesis import strategies as st

import kubechain
from kubechain import testing

#: true findings about healthy rules: services that have no (local) endpoints at the moment
ALLOWED = {"no-endpoints"}


def serious(ruleset) -> list:
    return [(d.code, d.message) for d in kubechain.analyze(ruleset).diagnostics
            if d.severity != "info" and d.code not in ALLOWED]


@given(testing.rulesets(counters=False))
def test_healthy_kube_proxy_rulesets_raise_no_warning_or_error(ruleset):
    assert serious(ruleset) == []


@given(testing.renderings(models=testing.rulesets(counters=False)))
def test_healthy_kube_proxy_output_raises_no_warning_in_any_printed_form(dump):
    note(f"{dump.fmt} {dump.options}")
    assert serious(kubechain.loads(dump.text)) == []


@given(testing.services(max_endpoints=60))
def test_healthy_services_of_up_to_60_endpoints_raise_no_warning(service):
    # 5-decimal kube-proxy (before v1.17) stays within the 0.1% tolerance below 213 endpoints
    assert serious(service.ruleset()) == []


@given(testing.services(max_endpoints=30), st.integers(0, 2**32 - 1))
def test_sampled_connections_fit_the_exact_shares(service, seed):
    """The sampler (u32 draws, `(r & 0x7FFFFFFF) < t`) against the exact walk: p >= 1e-6 for every
    service port chain; deterministic under the ci profile's derandomized seeds."""
    result = kubechain.sample(service.ruleset(), 20_000, seed)
    assert result.services
    for sampled in result.services:
        exact = sampled.fit.vs_exact
        note(f"{sampled.service.chain}: {sampled.fit}")
        if exact is not None and exact.p_value is not None:
            assert exact.p_value >= 1e-6
        else:  # nothing to test: one possible endpoint
            assert sum(1 for e in sampled.endpoints if e.share) + (sampled.service.unassigned > 0) <= 1
