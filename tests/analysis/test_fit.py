"""Goodness of fit (kubechain.fit) and the observed-counter fit of `analyze`, checked against
values computed here by other means (closed forms, hand enumeration)."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import pytest
from click.testing import CliRunner

import kubechain
from kubechain.analysis.fit import Z_999, chi_square_tail, goodness_of_fit, wilson_interval
from kubechain.cli import main

from support.paths import fixture

HALF = Fraction(1, 2)


@pytest.mark.parametrize("x", [0.0, 0.5, 3.0, 13.8, 40.0])
def test_chi_square_tail_matches_closed_forms(x):
    assert chi_square_tail(x, 2) == pytest.approx(math.exp(-x / 2), rel=1e-12)  # dof 2: exp(-x/2)
    assert chi_square_tail(x, 1) == pytest.approx(math.erfc(math.sqrt(x / 2)), rel=1e-12)  # dof 1: erfc


@pytest.mark.parametrize("dof", [1, 2, 3, 4, 7, 10, 33, 100, 401])
def test_chi_square_tail_is_the_regularized_upper_incomplete_gamma(dof):
    import mpmath

    for x in (0.0, 0.2, dof / 2, dof, 2.5 * dof, 300.0, 2_000.0, 1e6):
        want = float(mpmath.gammainc(mpmath.mpf(dof) / 2, mpmath.mpf(x) / 2, regularized=True))
        assert chi_square_tail(x, dof) == pytest.approx(want, rel=1e-12, abs=0), (dof, x)


def test_large_samples_use_pearson_chi_square():
    fit = goodness_of_fit([5_100, 4_900], [HALF, HALF], None, Fraction(0), "sampled")
    assert fit.test == "chi-square" and fit.total == 10_000
    assert fit.vs_exact.statistic == pytest.approx(4.0) and fit.vs_exact.dof == 1
    assert fit.vs_exact.p_value == pytest.approx(math.erfc(math.sqrt(2.0)))


def test_small_samples_use_the_exact_multinomial_test():
    # outcomes of 3 fair coin flips: (3,0) has probability 1/8, as does (0,3): p = 1/4
    fit = goodness_of_fit([3, 0], [HALF, HALF], None, Fraction(0), "sampled")
    assert fit.test == "exact-multinomial"
    assert fit.vs_exact.p_value == pytest.approx(0.25) and fit.vs_exact.statistic == pytest.approx(math.log(8))
    balanced = goodness_of_fit([2, 2], [HALF, HALF], None, Fraction(0), "sampled")
    assert balanced.vs_exact.p_value == pytest.approx(1.0)


def test_cells_expecting_fewer_than_five_are_pooled_when_enumeration_is_too_big():
    exact = [Fraction(4990, 10_000), Fraction(4998, 10_000), Fraction(2, 10_000), Fraction(10, 10_000)]
    fit = goodness_of_fit([5_000, 4_990, 1, 9], exact, None, Fraction(0), "sampled")
    assert fit.test == "chi-square-pooled"
    assert fit.vs_exact.pooled == 1 and fit.vs_exact.dof == 2  # cells 3 and 4 (2 + 10 expected) merged
    o, e = [5_000, 4_990, 10], [4_990, 4_998, 12]
    statistic = sum((a - b) ** 2 / b for a, b in zip(o, e, strict=True))
    assert fit.vs_exact.statistic == pytest.approx(statistic)
    assert fit.vs_exact.p_value == pytest.approx(math.exp(-statistic / 2))


def test_counts_where_the_rules_give_nothing_are_impossible():
    fit = goodness_of_fit([10, 10, 3], [HALF, HALF, Fraction(0)], None, Fraction(0), "dnat")
    assert fit.vs_exact.p_value == 0.0 and fit.vs_exact.statistic is None and "probability 0" in fit.vs_exact.note
    # an endpoint the rules never pick, with no count, is no cell at all
    fit = goodness_of_fit([600, 0, 400], [Fraction(3, 5), Fraction(0), Fraction(2, 5)], None, Fraction(0), "dnat")
    assert fit.vs_exact.dof == 1 and fit.vs_exact.statistic == pytest.approx(0.0)
    assert fit.vs_uniform.p_value < 1e-6


def test_a_single_endpoint_has_nothing_to_test():
    fit = goodness_of_fit([1_000], [Fraction(1)], None, Fraction(0), "dnat")
    assert fit.test == "none" and fit.vs_exact.dof == 0 and fit.vs_exact.p_value is None
    assert "only one outcome is possible" in fit.reason
    assert goodness_of_fit([0], [Fraction(1)], None, Fraction(0), "dnat").reason == "no connections counted"


def test_the_unassigned_cell_or_a_fit_conditional_on_reaching_an_endpoint():
    exact = [HALF, Fraction(1, 4)]
    with_cell = goodness_of_fit([500, 250], exact, 250, Fraction(1, 4), "dnat")
    assert with_cell.total == 1_000 and with_cell.vs_exact.dof == 2
    assert with_cell.vs_exact.statistic == pytest.approx(0, abs=1e-9)
    assert with_cell.vs_uniform.p_value == 0.0  # uniform gives the unassigned cell nothing
    conditional = goodness_of_fit([500, 250], exact, None, Fraction(1, 4), "dnat")
    assert conditional.total == 750 and conditional.vs_exact.dof == 1
    assert conditional.vs_exact.statistic == pytest.approx(0, abs=1e-9)


def test_wilson_interval():
    low, high = wilson_interval(0, 100)
    assert low == 0 and high == pytest.approx(Z_999**2 / (100 + Z_999**2))
    low, high = wilson_interval(50, 100)
    assert low + high == pytest.approx(1.0) and low < 0.5 < high
    assert pytest.approx(3.290526731491893, rel=1e-12) == Z_999


def services(path):
    return {s.chain: s for s in kubechain.analyze(kubechain.load(path)).services}


def test_observed_fit_on_dnat_counters():
    svc = services(fixture("blog", "legacy", "save-c"))["KUBE-SVC-EXAMPLEAAAAAAAAAA"]
    counts = [33_412, 33_201, 33_387]
    assert svc.observed_total == sum(counts) == svc.fit.total and svc.fit.counters == "dnat"
    expected = [float(e.share) * sum(counts) for e in svc.endpoints]
    statistic = sum((o - e) ** 2 / e for o, e in zip(counts, expected, strict=True))
    assert svc.fit.test == "chi-square" and svc.fit.vs_exact.dof == 2
    assert svc.fit.vs_exact.statistic == pytest.approx(statistic)
    assert svc.fit.vs_exact.p_value == pytest.approx(math.exp(-statistic / 2))


def test_no_counters_zero_counters_and_rounded_counters():
    assert services(fixture("blog", "legacy", "save"))["KUBE-SVC-EXAMPLEAAAAAAAAAA"].fit is None
    odd = services(fixture("odd", "nft", "L-n-v"))
    assert odd["KUBE-SVC-NODNATAAAAAAAAAAA"].observed_total == 0 and odd["KUBE-SVC-NODNATAAAAAAAAAAA"].fit is None
    rounded = odd["KUBE-SVC-UDPDNSAAAAAAAAAAA"].fit  # 123M against 123K on a 50/50 service: rounding can't hide it
    assert rounded.test == "chi-square-interval" and rounded.count_ranges == ((122_499_500, 123_499_499),
                                                                                (122_500, 123_499))
    assert rounded.vs_exact.consistent is False and rounded.vs_exact.p_range[1] < 1e-6
    exact = services(fixture("odd", "nft", "L-n-v-x"))["KUBE-SVC-UDPDNSAAAAAAAAAAA"].fit
    assert exact.vs_exact.p_value == 0.0  # 123456789 vs 123456 is no fair coin
    text = CliRunner().invoke(main, ["analyze", "-o", "wide", str(fixture("odd", "nft", "L-n-v-x"))]).output
    assert "10.244.0.3:53 got 99.9% of 123,580,245 new connections; the rules give 50.0% — NOT consistent" in text


AFFINITY = """*nat
:KUBE-SERVICES - [0:0]
:KUBE-SVC-STICKY - [0:0]
:KUBE-SEP-S0 - [0:0]
:KUBE-SEP-S1 - [0:0]
[5000:300000] -A KUBE-SERVICES -d 10.96.0.20/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-STICKY
[3900:0] -A KUBE-SVC-STICKY -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-S0 -j KUBE-SEP-S0
[10:0] -A KUBE-SVC-STICKY -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-S1 -j KUBE-SEP-S1
[560:0] -A KUBE-SVC-STICKY -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-S0
[530:0] -A KUBE-SVC-STICKY -j KUBE-SEP-S1
[4460:0] -A KUBE-SEP-S0 -p tcp -m recent --set --name KUBE-SEP-S0 -m tcp -j DNAT --to-destination 10.1.0.1:80
[540:0] -A KUBE-SEP-S1 -p tcp -m recent --set --name KUBE-SEP-S1 -m tcp -j DNAT --to-destination 10.1.0.2:80
COMMIT
"""


def test_affinity_fits_the_first_choices_of_new_clients():
    """One busy returning client makes the DNAT counters 4460 : 540, which no fair coin gives;
    the probability rules (new clients) say 560 : 530, which one does."""
    (svc,) = kubechain.analyze(kubechain.loads(AFFINITY)).services
    assert [e.observed for e in svc.endpoints] == [4_460, 540] and svc.observed_total == 5_000
    assert svc.fit.counters == "jump-rules" and svc.fit.total == 1_090 and svc.fit.unassigned is None
    assert svc.fit.counts == (560, 530)
    assert svc.fit.vs_exact.p_value > 0.1
    text = CliRunner().invoke(main, ["analyze", "-o", "wide", "-"], input=AFFINITY).output
    assert "first choices of new clients" in text and "consistent with the rules" in text


def test_json_keys_of_analyze_and_sample():
    path = str(fixture("odd", "nft", "save-c"))
    doc = json.loads(CliRunner().invoke(main, ["analyze", "--format", "json", path]).output)
    assert doc["schema"] == "kubechain/analysis/v1"
    skewed = next(s for s in doc["services"] if s["chain"] == "KUBE-SVC-SKEWED5AAAAAAAAAA")
    assert skewed["observed_total"] == 80_000
    assert set(skewed["fit"]) == {"test", "vs_exact", "vs_uniform", "total", "unassigned", "counters", "reason",
                                 "counts", "count_ranges"}
    assert set(skewed["fit"]["vs_exact"]) == {"statistic", "dof", "p_value", "pooled", "note", "p_adjusted",
                                             "tested", "p_range"}
    assert skewed["fit"]["vs_uniform"]["p_value"] < 1e-6 <= skewed["fit"]["vs_exact"]["p_value"]
    result = CliRunner().invoke(main, ["sample", "--draws", "5000", "--seed", "3", "--service", "skewed",
                                       "--format", "json", path])
    doc = json.loads(result.output)
    assert (doc["draws"], doc["seed"], doc["schema"]) == (5000, 3, "kubechain/analysis/v1")
    (svc,) = doc["services"]
    assert sum(e["sampled"] for e in svc["endpoints"]) + svc["sampled_unassigned"] == 5000
    assert svc["sample_fit"]["test"] == "chi-square" and svc["sample_fit"]["counters"] == "sampled"
    assert all(lo <= e["sampled"] / 5000 <= hi for e in svc["endpoints"] for lo, hi in [e["sampled_interval"]])


def test_sample_text_and_bad_input():
    path = str(fixture("blog", "nft", "L-n-v"))
    runner = CliRunner()
    out = runner.invoke(main, ["sample", "--draws", "3000", "--seed", "1", path]).output
    assert "99.9% interval (Wilson)" in out and "verdict: " in out and "consistent with the rules" in out
    assert out == runner.invoke(main, ["sample", "--draws", "3000", "--seed", "1", path]).output
    bad = runner.invoke(main, ["sample", "-"], input="*nat\n-A X -j\nCOMMIT\n")
    assert bad.exit_code == 2 and "Traceback" not in bad.output


@pytest.mark.parametrize(("count", "total", "q"), [(1, 10, 0.3), (7, 10, 0.3), (3, 200, 0.01), (0, 300, 0.02),
                                                  (25, 400, 0.03), (12, 900, 0.004)])
def test_exact_binomial_matches_a_full_enumeration_in_mpmath(count, total, q):
    import mpmath

    from kubechain.analysis.fit import exact_binomial

    with mpmath.workdps(40):
        probs = [mpmath.binomial(total, y) * mpmath.mpf(q) ** y * (1 - mpmath.mpf(q)) ** (total - y)
                 for y in range(total + 1)]
        seen = probs[count]
        reference = float(sum(p for p in probs if p <= seen * (1 + mpmath.mpf("1e-7"))))
    statistic, p_value = exact_binomial(count, total, q)
    assert p_value == pytest.approx(reference, rel=1e-9, abs=1e-15)
    assert statistic == pytest.approx(-float(mpmath.log(seen)), rel=1e-9)
