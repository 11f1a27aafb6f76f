"""One rule set, every printed form: the analysis (JSON minus input metadata) must not change."""

from __future__ import annotations

import pytest

import kubechain
from kubechain.report.documents import document

from support.paths import ALL_VARIANTS, BACKENDS, NAMED_VARIANTS, RULE_SETS, fixture


def comparable(path, keep_counters, named=False):
    doc = document(kubechain.analyze(kubechain.load(path)))
    for service in doc["services"]:
        for f in service["frontends"]:
            f.pop("line")
            if named:  # without -n, iptables prints 127.0.0.0/8 as `loopback/8`: names, not addresses
                f.pop("address")
        if not keep_counters:  # the counter-derived keys too
            service["observed_total"] = service["fit"] = None
        for e in service["endpoints"]:
            if not keep_counters:
                e["observed"] = e["observed_exact"] = None
    # -L listings here print the nat table only; no-endpoints comes from the filter table
    # and observed-skew needs exact counters
    ignored = ("unknown-match", "no-endpoints") + (() if keep_counters else ("observed-skew",))
    diagnostics = sorted((d["code"], d["chain"]) for d in doc["diagnostics"] if d["code"] not in ignored)
    return doc["services"], diagnostics


@pytest.mark.parametrize("rule_set", RULE_SETS)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_every_format_gives_the_same_analysis(rule_set, backend, variant):
    exact_counters = variant in ("L-n-v-x", "L-n-v-x-line", "save-c")
    named = variant in NAMED_VARIANTS
    reference = comparable(fixture(rule_set, "nft", "save-c"), exact_counters, named)
    assert comparable(fixture(rule_set, backend, variant), exact_counters, named) == reference


def test_kube_proxy_overall_services_and_frontends():
    analysis = kubechain.analyze(kubechain.load(fixture("kube-proxy-overall", "nft", "save")))
    by_chain = {s.chain: s for s in analysis.services}
    assert {s.name for s in analysis.services} == {f"ns{i}/svc{i}:p80" for i in range(1, 6)}
    svc2 = by_chain["KUBE-SVC-GNZBNJ2PO5MGZ6GT"]
    assert [f.kind for f in svc2.frontends] == ["cluster IP", "external IP", "loadbalancer IP", "nodeport",
                                                "nodeport"]
    # eTP=Local with no local endpoint: an external client reaches no endpoint through KUBE-EXT
    ext2 = by_chain["KUBE-EXT-GNZBNJ2PO5MGZ6GT"]
    assert ext2.endpoints == () and ext2.unassigned == 1
    # healthy kube-proxy output; its test data has one service without endpoints and one without local ones
    assert sorted(d.message.split()[0] for d in analysis.diagnostics if d.severity != "info") == [
        "ns2/svc2:p80", "ns6/svc6:p80"]
    assert {d.code for d in analysis.diagnostics if d.severity != "info"} == {"no-endpoints"}
