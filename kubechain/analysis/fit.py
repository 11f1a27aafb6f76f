"""Goodness of fit: do counted connections (sampled, or a dump's counters) follow the exact
probabilities the rules give, and would they pass for a fair 1/n?

Cells are the endpoints plus an `unassigned` cell (connections that found no endpoint) when it is
known. Method, chosen once per fit from the counts (the `test` field says which):

- `chi-square`: Pearson's X^2 = sum (O - E)^2 / E with k - 1 degrees of freedom, when every
  cell the hypothesis makes possible expects at least 5 connections;
- `exact-multinomial`: otherwise, when the outcomes can be enumerated (at most
  :data:`EXACT_LIMIT` of them): the p-value is the total probability of all outcomes no more
  likely than the one observed; the `statistic` is then the observed outcome's -log probability;
- `chi-square-pooled`: otherwise, cells expecting < 5 are pooled (smallest first) until the
  pooled cell expects >= 5; `pooled` says how many cells were merged away;
- `none`: nothing to test (fewer than two possible cells).

A count in a cell the hypothesis gives probability 0 makes it impossible: p_value 0, statistic
None (infinite). Tail probabilities are the regularized upper incomplete gamma Q(k/2, X^2/2),
computed with mpmath (sympy brings it; no scipy).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

EXACT_LIMIT = 50_000  # outcomes enumerated at most by the exact multinomial test
MIN_EXPECTED = 5
ALPHA = 0.001  # a verdict says "not consistent" below this p-value (matches 99.9% intervals)


@dataclass(frozen=True, slots=True)
class Comparison:
    """One hypothesis tested.

    - `statistic`: None when infinite or untested; `dof` its degrees of freedom;
    - `p_value`: None when untested or undecided (rounded counters that allow either verdict);
    - `p_adjusted`: Holm's adjustment over every service port tested in the same run (the verdict
      and the diagnostics use it), None when not adjusted;
    - `p_range`: [lowest, highest] p over every true count that rounded counters allow (the
      `chi-square-interval` test), else None.
    """

    statistic: float | None
    dof: int
    p_value: float | None
    pooled: int = 0  # cells merged into others because they expected < 5
    note: str | None = None
    p_adjusted: float | None = None
    p_range: tuple[float, float] | None = None
    tested: int | None = None  # how many tests the adjustment was over

    @property
    def decisive(self) -> float | None:
        """The p the verdict is read from: the adjusted one where there is one."""
        return self.p_adjusted if self.p_adjusted is not None else self.p_value

    @property
    def consistent(self) -> bool | None:
        p = self.decisive
        return None if p is None else p >= ALPHA


@dataclass(frozen=True, slots=True)
class Fit:
    """Counts against the exact probabilities (`vs_exact`) and against a fair 1/n (`vs_uniform`)."""

    test: str  # "chi-square", "chi-square-pooled", "exact-multinomial", "chi-square-interval" or "none"
    vs_exact: Comparison | None
    vs_uniform: Comparison | None
    total: int  # connections in the test (unassigned included when known)
    unassigned: int | None  # connections that found no endpoint; None when not known
    counters: str  # where the counts come from: "sampled", "dnat" or "jump-rules"
    reason: str | None = None  # why there is no test, when there is none
    counts: tuple[int, ...] = ()  # per endpoint, the counts tested
    #: per endpoint, [low, high] of the true counts rounded counters stand for (interval test only)
    count_ranges: tuple[tuple[int, int], ...] | None = None


def goodness_of_fit(counts: Sequence[int], exact: Sequence[Fraction], unassigned: int | None,
                    unassigned_probability: Fraction, counters: str) -> Fit:
    """Test endpoint `counts` (with the `unassigned` count, or None when it is unknown: the test
    is then conditional on reaching an endpoint) against the `exact` endpoint probabilities and
    against 1/n over the n endpoints."""
    counts = [int(c) for c in counts]
    n = len(counts)
    # exact probabilities decide which cells are possible; the arithmetic of the test is in floats
    # (a non-zero share is at least 2^-31-ish per rule, far from underflow)
    if unassigned is None:
        reach = 1 - unassigned_probability
        p_exact = [float(p / reach) for p in exact] if reach else [0.0] * n
        observed = counts
        uniform = [1 / n] * n if n else []
    else:
        p_exact = [*(float(p) for p in exact), float(unassigned_probability)]
        observed = [*counts, unassigned]
        uniform = [*([1 / n] * n), 0.0] if n else [1.0]
    total = sum(observed)
    if total == 0:
        return Fit("none", None, None, 0, unassigned, counters, "no connections counted", tuple(counts))
    method = _method(observed, (p_exact, uniform))
    vs_exact = _compare(observed, p_exact, method)
    vs_uniform = _compare(observed, uniform, method)
    if vs_exact.p_value is None and vs_uniform.p_value is None:
        return Fit("none", vs_exact, vs_uniform, total, unassigned, counters, vs_exact.note, tuple(counts))
    return Fit(method, vs_exact, vs_uniform, total, unassigned, counters, None, tuple(counts))


def _method(observed: list[int], hypotheses: tuple[list[float], ...]) -> str:
    total = sum(observed)
    small = any(0 < p * total < MIN_EXPECTED for probs in hypotheses for p in probs)
    if not small:
        return "chi-square"
    k = max(sum(1 for p in probs if p) for probs in hypotheses)
    return "exact-multinomial" if k > 1 and math.comb(total + k - 1, k - 1) <= EXACT_LIMIT else "chi-square-pooled"


def _compare(observed: list[int], probs: list[float], method: str) -> Comparison:
    impossible = sum(o for o, p in zip(observed, probs, strict=True) if not p and o)
    cells = [(o, p) for o, p in zip(observed, probs, strict=True) if p]
    dof = len(cells) - 1
    if impossible:
        return Comparison(None, max(dof, 0), 0.0, note=f"{impossible:,} connection{'s' * (impossible > 1)} "
                          "counted where this hypothesis gives probability 0")
    if dof < 1:
        return Comparison(None, 0, None, note="only one outcome is possible under this hypothesis: nothing to test")
    if method == "exact-multinomial":
        statistic, p_value = _exact_multinomial([o for o, _ in cells], [p for _, p in cells])
        return Comparison(statistic, dof, p_value)
    pooled = 0
    if method == "chi-square-pooled":
        cells, pooled = _pool(cells, sum(observed))
        dof = len(cells) - 1
        (rare_count, rare_p), (_, other_p) = cells[0], cells[-1]
        rare = rare_p * sum(o for o, _ in cells)
        if rare < MIN_EXPECTED:  # only two cells are left (see _pool): test the pooled split exactly
            statistic, p_value = exact_binomial(rare_count, sum(o for o, _ in cells), rare_p / (rare_p + other_p))
            return Comparison(statistic, dof, p_value, pooled,
                              f"the pooled cell expects {rare:.2g} connections: exact binomial test of it "
                              "against the rest")
    total = sum(o for o, _ in cells)
    statistic = 0.0
    for o, p in cells:
        expected = p * total
        statistic += (o - expected) ** 2 / expected
    return Comparison(statistic, dof, chi_square_tail(statistic, dof), pooled)


def _pool(cells: list[tuple[int, float]], total: int) -> tuple[list[tuple[int, float]], int]:
    """Merge the cells expecting fewest connections into one until it expects >= 5, always
    leaving the likeliest cell apart so that something remains to compare."""
    ordered = sorted(cells, key=lambda c: c[1])
    if ordered[0][1] * total >= MIN_EXPECTED:
        return cells, 0
    merged_o, merged_p, used = 0, 0.0, 0
    while used < len(ordered) - 1 and merged_p * total < MIN_EXPECTED:
        o, p = ordered[used]
        merged_o, merged_p, used = merged_o + o, merged_p + p, used + 1
    return [(merged_o, merged_p), *ordered[used:]], used - 1


def chi_square_tail(statistic: float, dof: int) -> float:
    """P(X^2_dof >= statistic): the regularized upper incomplete gamma Q(dof/2, statistic/2).

    Degrees of freedom are whole numbers, so Q has a short closed form, summed in mpmath
    (positive terms, no cancellation, no under- or overflow): Q(1/2, y) = erfc(sqrt(y)),
    Q(1, y) = e^-y, Q(a+1, y) = Q(a, y) + y^a e^-y / Gamma(a+1). That is ~10x faster than
    mpmath.gammainc's general series here (hundreds of fits per big dump), which the tests check
    it against; above 400 degrees of freedom gammainc itself is used."""
    import mpmath

    y = mpmath.mpf(statistic) / 2
    if dof > 400:
        return float(mpmath.gammainc(mpmath.mpf(dof) / 2, y, regularized=True))
    odd = dof % 2
    a = mpmath.mpf(1) / 2 if odd else mpmath.mpf(1)
    q = mpmath.erfc(mpmath.sqrt(y)) if odd else mpmath.exp(-y)
    term = mpmath.exp(-y) * y**a / mpmath.gamma(a + 1)
    for _ in range((dof - (1 if odd else 2)) // 2):
        q += term  # Q(a+1) = Q(a) + t_a, with t_a = y^a e^-y / Gamma(a+1)
        a += 1
        term *= y / a  # t_a = t_(a-1) * y / a
    return float(q)


def _exact_multinomial(observed: list[int], probs: list[float]) -> tuple[float, float]:
    """(-log P(observed), sum of P(y) over all outcomes y with P(y) <= P(observed))."""
    total = sum(observed)
    logs = [math.log(p) for p in probs]
    base = math.lgamma(total + 1)

    def log_prob(outcome: Sequence[int]) -> float:
        return base + sum(x * lp - math.lgamma(x + 1) for x, lp in zip(outcome, logs, strict=True))

    seen = log_prob(observed)
    limit = seen + 1e-7 * max(1.0, abs(seen))  # ties within rounding count as "as extreme"
    p_value = 0.0
    for outcome in _compositions(total, len(probs)):
        lp = log_prob(outcome)
        if lp <= limit:
            p_value += math.exp(lp)
    return -seen, min(1.0, p_value)


def exact_binomial(count: int, total: int, q: float) -> tuple[float, float]:
    """(-log P(count), two-sided p) for `count` of `total` in a cell of probability q: the total
    probability of the outcomes no more likely than the observed one. The likelier outcomes form an
    interval around the mode, so only the two tails are summed, walking outwards while their terms
    matter: linear in the distance from the mode, whatever `total` is."""
    log_q, log_r = math.log(q), math.log1p(-q)
    base = math.lgamma(total + 1)

    def log_prob(y: int) -> float:
        return base - math.lgamma(y + 1) - math.lgamma(total - y + 1) + y * log_q + (total - y) * log_r

    seen = log_prob(count)
    limit = seen + 1e-7 * max(1.0, abs(seen))  # ties within rounding count as "as extreme"
    mode = min(total, int((total + 1) * q))
    lo = mode
    while lo > 0 and log_prob(lo - 1) > limit:
        lo -= 1
    hi = mode
    while hi < total and log_prob(hi + 1) > limit:
        hi += 1
    p_value = 0.0 if log_prob(mode) > limit else math.exp(log_prob(mode))
    for start, step, end in ((lo - 1, -1, -1), (hi + 1, 1, total + 1)):
        for y in range(start, end, step):
            term = math.exp(log_prob(y))
            p_value += term
            if term < 1e-18 * max(p_value, 1e-300) and (y - mode) * step > 0:
                break  # the tail's terms only shrink from here on
    return -seen, min(1.0, p_value)


def _compositions(total: int, parts: int) -> Iterator[tuple[int, ...]]:
    if parts == 1:
        yield (total,)
        return
    for first in range(total + 1):
        for rest in _compositions(total - first, parts - 1):
            yield (first, *rest)


# --- many tests ---------------------------------------------------------------------------------

def holm(fits: Sequence[Fit | None]) -> list[Fit | None]:
    """The fits with their p-values adjusted by Holm's step-down method, separately for the tests
    against the rules and against 1/n: with m tests, the i-th smallest p becomes
    max over j ≤ i of min(1, (m − j + 1)·p_(j)). A run of many tests read at one threshold then
    raises no more chance alarms than one test would (the family-wise error rate)."""
    out = list(fits)
    for side in ("vs_exact", "vs_uniform"):
        tested = sorted((c.p_value, i) for i, f in enumerate(out) if f is not None
                        and (c := getattr(f, side)) is not None and c.p_value is not None)
        m, running = len(tested), 0.0
        for rank, (p, i) in enumerate(tested):
            running = max(running, min(1.0, (m - rank) * p))
            fit = out[i]
            assert fit is not None
            comparison = getattr(fit, side)
            out[i] = replace(fit, **{side: replace(comparison, p_adjusted=running, tested=m)})
    return out


# --- rounded counts -----------------------------------------------------------------------------

#: rounded cells up to this many are tested at every corner of their box (2^k statistics)
CORNER_LIMIT = 12


def interval_fit(ranges: Sequence[tuple[int, int]], counts: Sequence[int], exact: Sequence[Fraction],
                 unassigned_probability: Fraction, counters: str) -> Fit:
    """Test counts known only as intervals (K/M/G-rounded counters: each true count lies in its
    [low, high]) against the exact shares and 1/n, conditional on reaching an endpoint.

    Pearson's X² = Σ O_i²/(p_i·S) − S with S = Σ O_i is convex in the counts (O²/S is convex for
    S > 0), so over the box of possible counts:
    - its maximum is at a corner: all 2^k corners are tried for k ≤ CORNER_LIMIT rounded cells
      (exact), else each term's own maximum over (O_i, S) is summed (an upper bound);
    - its minimum is bounded below by summing each term's own minimum over (O_i, S) ∈ box, which
      is 0 where [low_i, high_i] meets [p_i·S_low, p_i·S_high] and otherwise at the nearest end.
    So `p_range` = [p(max X²), p(lower bound of min X²)] contains every p the true counts can give
    (the upper end conservatively): the verdict is "consistent" only when even the least favourable
    counts fit, "NOT consistent" only when even the most favourable ones reject, and undecided
    (p_value None) otherwise."""
    n = len(ranges)
    reach = 1 - unassigned_probability
    p_exact = [float(p / reach) for p in exact] if reach else [0.0] * n
    uniform = [1 / n] * n if n else []
    total = sum(counts)
    vs_exact, vs_uniform = _interval_compare(ranges, p_exact), _interval_compare(ranges, uniform)
    reason = None if vs_exact.dof or vs_uniform.dof else vs_exact.note
    return Fit("chi-square-interval" if reason is None else "none", vs_exact, vs_uniform, total, None, counters,
               reason, tuple(counts), tuple(ranges))


def _interval_compare(ranges: Sequence[tuple[int, int]], probs: list[float]) -> Comparison:
    cells = [(r, p) for r, p in zip(ranges, probs, strict=True) if p]
    impossible = sum(low for (low, _), p in zip(ranges, probs, strict=True) if not p)
    dof = len(cells) - 1
    if impossible:
        return Comparison(None, max(dof, 0), 0.0, note=f"at least {impossible:,} connections counted where this "
                          "hypothesis gives probability 0", p_range=(0.0, 0.0))
    if dof < 1:
        return Comparison(None, 0, None, note="only one outcome is possible under this hypothesis: nothing to test")
    low_total, high_total = sum(r[0] for r, _ in cells), sum(r[1] for r, _ in cells)
    least = sum(_term_min(r, p, low_total, high_total) for r, p in cells)
    most = _corner_max(cells) if sum(r[0] != r[1] for r, _ in cells) <= CORNER_LIMIT else sum(
        _term_max(r, p, low_total, high_total) for r, p in cells)
    p_low, p_high = chi_square_tail(most, dof), chi_square_tail(least, dof)
    decided = p_low if p_low >= ALPHA else p_high if p_high < ALPHA else None
    note = None if decided is not None else (
        "the counters are rounded by more than the test can separate: list with -x (or use iptables-save -c)")
    return Comparison(None, dof, decided, note=note, p_range=(p_low, p_high))


def _term(o: float, s: float, p: float) -> float:
    expected = p * s
    return (o - expected) ** 2 / expected if expected else 0.0


def _term_min(cell: tuple[int, int], p: float, s_low: int, s_high: int) -> float:
    """min of (O − pS)²/(pS) over O ∈ [low, high], S ∈ [s_low, s_high]."""
    low, high = cell
    if high < p * s_low:  # every count is below every expectation: nearest at (high, s_low)
        return _term(high, s_low, p)
    if low > p * s_high:  # above every expectation: nearest at (low, s_high)
        return _term(low, s_high, p)
    return 0.0


def _term_max(cell: tuple[int, int], p: float, s_low: int, s_high: int) -> float:
    """max of the convex (O − pS)²/(pS) over the rectangle: at one of its corners."""
    return max(_term(o, s, p) for o in cell for s in (s_low, s_high) if s)


def _corner_max(cells: list[tuple[tuple[int, int], float]]) -> float:
    """The largest X² at any corner of the box (the exact maximum: X² is convex)."""
    best = 0.0
    choices = [sorted({low, high}) for (low, high), _ in cells]
    for corner in itertools.product(*choices):
        s = sum(corner)
        if s:
            best = max(best, sum(_term(o, s, p) for o, (_, p) in zip(corner, cells, strict=True)))
    return best


# --- intervals --------------------------------------------------------------------------------

#: the two-sided 99.9% standard-normal quantile, z_{0.9995}
Z_999 = 3.2905267314918945


def wilson_interval(count: int, total: int, z: float = Z_999) -> tuple[float, float]:
    """Wilson score interval for a share count/total (99.9% by default): it stays inside [0, 1]
    and is sensible for shares near 0 or 1, unlike the normal approximation."""
    if total == 0:
        return (0.0, 1.0)
    share = count / total
    z2 = z * z
    centre = (share + z2 / (2 * total)) / (1 + z2 / total)
    half = z * math.sqrt(share * (1 - share) / total + z2 / (4 * total * total)) / (1 + z2 / total)
    low = 0.0 if count == 0 else max(0.0, centre - half)  # exact at the ends, where rounding would leak
    high = 1.0 if count == total else min(1.0, centre + half)
    return (low, high)
