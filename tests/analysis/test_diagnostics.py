"""Every diagnostic code fires on its cause, in every printed form of a dump made by the real
binaries (fixtures/diag-broken.*), and stays quiet once the cause is repaired (diag-repaired.*:
the same chains, each fault fixed), and on healthy kube-proxy output."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import pytest

import kubechain
from kubechain.analysis.cascade import cascade_precision, collisions, first_collision

from support.paths import ALL_VARIANTS, BACKENDS, FIXTURES, HEALTHY_RULE_SETS, fixture

#: what diag-broken must report, as (code, chain): one service per code, see fixtures/diag_rules.py
BROKEN = {
    ("orphan-chain", "KUBE-SVC-DIAGORPHANAAAAAA"),
    ("orphan-chain", "KUBE-SEP-DIAGSTALESEP0001"),
    ("unreachable-rule", "KUBE-SVC-DIAGUNREACHAAAAA"),
    ("duplicate-endpoint", "KUBE-SEP-DIAGDUPLICATEA02"),
    ("comment-mismatch", "KUBE-SEP-DIAGCOMMENTAAA01"),
    ("legacy-precision", "KUBE-SVC-DIAGLEGACYAAAAAA"),
    ("non-uniform", "KUBE-SVC-DIAGSKEWEDAAAAAA"),
    ("fall-through", "KUBE-SVC-DIAGFALLAAAAAAAA"),
    ("non-uniform", "KUBE-SVC-DIAGFALLAAAAAAAA"),  # its last endpoint gets 1/4, not 1/2
    ("no-dnat", "KUBE-SEP-DIAGNODNATAAAA01"),
    ("non-uniform", "KUBE-SVC-DIAGNODNATAAAAAA"),  # the endpoint without DNAT gets nothing
    ("session-affinity", "KUBE-SVC-DIAGAFFINITYAAAA"),
    ("unknown-match", "KUBE-SVC-DIAGUNKNOWNAAAAA"),
    ("kernel-collision", "KUBE-SVC-DIAGCOLLISIONAAA"),  # kube-proxy's 1/44,989 and 1/44,988 rules, adjacent
    ("non-uniform", "KUBE-SVC-DIAGCOLLISIONAAA"),  # ... which, in a 3-endpoint chain, is also skew
}
#: kube-proxy's filter-table rules for services without (local) endpoints; not in `-t nat` printouts
NO_ENDPOINTS = {("no-endpoints", None)}
#: counters that contradict the rules (9,000 : 500 : 500 where each should get a third); only printouts with counters
OBSERVED_SKEW = {("observed-skew", "KUBE-SVC-DIAGOBSERVEDAAAA")}
COUNTED = ("L-n-v", "L-n-v-x", "L-n-v-x-line", "L-v", "save-c")


def findings(path, **options) -> set[tuple[str, str | None]]:
    return {(d.code, d.chain) for d in kubechain.analyze(kubechain.load(path), **options).diagnostics}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_each_code_fires_on_its_cause_in_every_format(backend, variant):
    expected = (BROKEN | (NO_ENDPOINTS if variant.startswith("save") else set())
                | (OBSERVED_SKEW if variant in COUNTED else set()))
    assert findings(fixture("diag-broken", backend, variant)) == expected


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_endpoints_comes_from_the_filter_table(backend):
    analysis = kubechain.analyze(kubechain.load(FIXTURES / f"diag-broken.{backend}.filter.L-n-v.txt"))
    messages = sorted(d.message for d in analysis.diagnostics if d.code == "no-endpoints")
    assert len(messages) == 2
    assert messages[0].startswith("diag/empty:http has no endpoints") and "10.96.1.20:80" in messages[0]
    assert messages[1].startswith("diag/nolocal:http has no local endpoints") and "192.0.2.20:80" in messages[1]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_every_code_disappears_when_its_cause_is_repaired(backend, variant):
    assert findings(fixture("diag-repaired", backend, variant)) == set()


@pytest.mark.parametrize("rule_set", HEALTHY_RULE_SETS)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_healthy_kube_proxy_output_has_no_warning_or_error(rule_set, backend, variant):
    analysis = kubechain.analyze(kubechain.load(fixture(rule_set, backend, variant)))
    serious = [d for d in analysis.diagnostics if d.severity != "info" and d.code != "no-endpoints"]
    assert serious == []  # kube-proxy's own test data has services without endpoints: those are true


def test_a_partial_listing_reports_no_orphans():
    # `iptables -L KUBE-SVC-X` shows one chain: its endpoint chains are elsewhere, not orphaned or missing
    found = findings(fixture("diag-broken", "nft", "L-chain"))
    assert {code for code, _ in found} <= {"missing-chain"}
    analysis = kubechain.analyze(kubechain.load(fixture("diag-broken", "nft", "L-chain")))
    assert {d.severity for d in analysis.diagnostics} == {"info"}


def edited(text: str, drop: str = "", append_after: tuple[str, str] | None = None) -> str:
    """The save text with every line mentioning `drop` removed, or one rule inserted after a line."""
    lines = [line for line in text.splitlines() if not drop or drop not in line]
    if append_after:
        anchor, rule = append_after
        at = next(i for i, line in enumerate(lines) if line.startswith(anchor))
        lines.insert(at + 1, rule)
    return "\n".join(lines) + "\n"


REPAIRED_SAVE = fixture("diag-repaired", "nft", "save").read_text()


def test_missing_chain_from_text_and_its_repair():
    # iptables refuses a dangling jump, so the fault is made by editing a real dump
    text = edited(REPAIRED_SAVE, drop="KUBE-SEP-DIAGUNIFORMAAA01 -")  # its declaration and its rules
    text = text.replace(":KUBE-SEP-DIAGUNIFORMAAA01 - [0:0]\n", "")
    analysis = kubechain.analyze(kubechain.loads(text))
    missing = [d for d in analysis.diagnostics if d.code == "missing-chain"]
    assert [(d.severity, d.chain) for d in missing] == [("error", "KUBE-SEP-DIAGUNIFORMAAA01")]
    assert missing[0].line == next(i for i, line in enumerate(text.splitlines(), 1)
                                   if line.endswith("-j KUBE-SEP-DIAGUNIFORMAAA01"))
    assert kubechain.analyze(kubechain.loads(REPAIRED_SAVE)).diagnostics == ()


def test_jump_cycle_from_text():
    # the kernel refuses loops too (ELOOP); an edited dump is how such text reaches us
    text = edited(REPAIRED_SAVE, append_after=("-A KUBE-SEP-DIAGUNIFORMAAA01 -s",
                                               "-A KUBE-SEP-DIAGUNIFORMAAA01 -j KUBE-SVC-DIAGUNIFORMAAAAA"))
    codes = {(d.code, d.chain) for d in kubechain.analyze(kubechain.loads(text)).diagnostics}
    assert ("jump-cycle", "KUBE-SVC-DIAGUNIFORMAAAAA") in codes


def test_tolerance_decides_non_uniform():
    blog = fixture("blog", "nft", "save")  # kube-proxy's 1/3: off by 4.66e-10 relative in the kernel
    assert "non-uniform" not in {c for c, _ in findings(blog)}
    assert ("non-uniform", "KUBE-SVC-EXAMPLEAAAAAAAAAA") in findings(blog, tolerance=1e-10)
    skewed = fixture("diag-broken", "nft", "save")  # 1/2 where 1/3 is fair: 50% off
    assert ("non-uniform", "KUBE-SVC-DIAGSKEWEDAAAAAA") in findings(skewed, tolerance=0.49)
    assert ("non-uniform", "KUBE-SVC-DIAGSKEWEDAAAAAA") not in findings(skewed, tolerance=0.51)


def test_legacy_precision_states_the_deviation():
    analysis = kubechain.analyze(kubechain.load(fixture("diag-broken", "nft", "save")))
    message = next(d.message for d in analysis.diagnostics if d.code == "legacy-precision")
    # 4 endpoints at 0.25 / 0.33333 / 0.50000: the 2nd gets 3/4 · t(0.33333)/2^31, 1/4 - that is 2.1e-5 off
    shares = [e.share for s in analysis.services if s.chain == "KUBE-SVC-DIAGLEGACYAAAAAA" for e in s.endpoints]
    worst = max(abs(s * 4 - 1) for s in shares)
    assert f"{float(worst):.4%}" in message and "5 decimals" in message


def kube_proxy_threshold_by_decimal(k: int) -> int:
    """An independent route to kube-proxy's threshold: Go's %0.10f of the double 1/k, rounded
    half-even on its exact binary value, then iptables' lround(strtod(s) * 2^31)."""
    printed = Decimal(1.0 / k).quantize(Decimal("1e-10"), rounding=ROUND_HALF_EVEN)
    scaled = Decimal(float(printed)) * (1 << 31)
    return int(scaled.to_integral_value(rounding="ROUND_HALF_UP"))


def test_kube_proxy_thresholds_first_collide_at_44989_endpoints():
    assert first_collision(10) == 44_989
    assert kube_proxy_threshold_by_decimal(44_989) == kube_proxy_threshold_by_decimal(44_988) == 47_734
    assert all(kube_proxy_threshold_by_decimal(k) != kube_proxy_threshold_by_decimal(k - 1)
               for k in range(3, 44_989))
    assert first_collision(5) == 320  # the old 5 decimals: 0.00313 for both 1/320 and 1/319


def kube_proxy_thresholds(n: int) -> list[int | None]:
    """The thresholds kube-proxy's n-endpoint cascade leaves in the kernel (10 decimals)."""
    return [kube_proxy_threshold_by_decimal(n - i) for i in range(n - 1)] + [None]


def test_kube_proxy_cascades_collide_exactly_from_44989_endpoints():
    # whole cascades, not just their first pair: below 44,989 no two neighbours coincide
    assert collisions(kube_proxy_thresholds(44_988)) == []
    assert collisions(kube_proxy_thresholds(44_989)) == [(0, 44_989, 10)]
    assert cascade_precision(kube_proxy_thresholds(44_989)) == 10


def test_equal_thresholds_kube_proxy_never_writes_side_by_side_are_not_collisions():
    half = kube_proxy_threshold_by_decimal(2)
    assert collisions([half, half, half, None]) == []  # hand-made skew: non-uniform's business


def test_kernel_collision_message_in_a_real_dump():
    analysis = kubechain.analyze(kubechain.load(fixture("diag-broken", "legacy", "L-n-v")))
    message = next(d.message for d in analysis.diagnostics if d.code == "kernel-collision")
    assert "1/44989 and 1/44988" in message and "47734/2^31" in message and "44,989 endpoints" in message


@pytest.mark.parametrize(("rule_set", "fail_on", "status"), [
    ("diag-broken", "error", 1), ("diag-broken", "warning", 1), ("diag-broken", "never", 0),
    ("diag-repaired", "info", 0), ("blog", "warning", 0), ("ipv6", "warning", 0), ("ipv6", "info", 1),
])
def test_fail_on_gates_a_ci_job_on_the_rules(rule_set, fail_on, status):
    from click.testing import CliRunner

    from kubechain.cli import main

    result = CliRunner().invoke(main, ["analyze", "--fail-on", fail_on, str(fixture(rule_set, "nft", "save-c"))])
    assert result.exit_code == status, result.output


def test_endpoint_chains_shared_by_svc_and_svl_are_fitted_on_their_own_jumps():
    # externalTrafficPolicy: Local: the local endpoint's DNAT counter (6,000) counts the KUBE-SVC and
    # the KUBE-SVL path; healthy rules, healthy traffic, no observed-skew
    from kubechain.analysis.counters import fit_counts

    ruleset = kubechain.load(fixture("diag-repaired", "legacy", "save-c"))
    service = next(s for s in kubechain.analyze(ruleset).services if s.chain == "KUBE-SVC-DIAGLOCALAAAAAAA")
    assert [e.observed for e in service.endpoints] == [6000, 1000, 1000]
    assert service.fit.counters == "jump-rules" and service.fit.counts == (1000, 1000, 1000)
    assert service.fit.vs_exact.p_value > 0.5
    # the DNAT counters themselves would have looked like a 75% skew
    naive = fit_counts([e.observed for e in service.endpoints], True, [e.share for e in service.endpoints],
                       service.unassigned, None, "dnat")
    assert naive.counters == "dnat" and naive.vs_exact.p_value < 1e-6


def test_unreachable_rule_behind_an_affinity_services_last_jump():
    # the endpoint chains DNAT on a rule that also does `recent --set`: still unconditional
    text = fixture("ipv6", "nft", "save").read_text()
    last = [line for line in text.splitlines() if line.startswith("-A KUBE-SVC-V6WEBAAAAAAAAAAA")][-1]
    broken = edited(text, append_after=(last, "-A KUBE-SVC-V6WEBAAAAAAAAAAA -j KUBE-SEP-V6A0AAAAAAAAAAAA"))
    assert ("unreachable-rule", "KUBE-SVC-V6WEBAAAAAAAAAAA") in {
        (d.code, d.chain) for d in kubechain.analyze(kubechain.loads(broken)).diagnostics}
    assert "unreachable-rule" not in {d.code for d in kubechain.analyze(kubechain.loads(text)).diagnostics}


def test_missing_chain_is_reported_even_where_no_new_connection_goes():
    # `-s X` never matches the walk's client, but the dangling jump is still a broken rule set
    text = edited(REPAIRED_SAVE, append_after=("-A KUBE-SVC-DIAGUNIFORMAAAAA -m comment",
                                               "-A KUBE-SVC-DIAGUNIFORMAAAAA -s 10.9.9.9/32 -j KUBE-MARK-GONE"))
    missing = [d for d in kubechain.analyze(kubechain.loads(text)).diagnostics if d.code == "missing-chain"]
    assert [(d.severity, d.chain) for d in missing] == [("error", "KUBE-MARK-GONE")]
