"""kube-proxy's probability cascade, in kernel integers: what kube-proxy writes for n endpoints, at
which precision a chain was written, where two of its thresholds collide, and how far its shares
may be from 1/n.

kube-proxy gives rule i (from 0) of an n-endpoint chain `fmt(1/(n-i), d)` with d = 10 decimals
(`%0.10f`, since v1.17), 5 (`%0.5f`, before) or 6 (`%f`, 2015); the last rule has no statistic
match. iptables stores `lround(p·2^31)` and prints that back with `%.11f`, so a dump only ever
shows thresholds: a chain is recognised by comparing thresholds, never decimal strings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache

from ..kube import KUBE_PROXY_DECIMALS, kube_proxy_written
from ..netfilter import TWO_31, statistic_threshold


@lru_cache(maxsize=1 << 16)
def kube_proxy_threshold(remaining: int, decimals: int) -> int:
    """The kernel threshold of kube-proxy's rule for `remaining` endpoints left: t(fmt(1/k, d))."""
    return statistic_threshold(kube_proxy_written(remaining, decimals))


def cascade_precision(thresholds: Sequence[int | None]) -> int | None:
    """The decimals kube-proxy wrote this cascade with, or None when it is not kube-proxy's.

    `thresholds` are the endpoint rules in order: the statistic threshold of each, None for a
    rule without one. kube-proxy's shape is n-1 thresholds then one unconditional rule. With
    one endpoint, or values that every format writes alike (1/2, 1/4, 1/5), the newest wins.
    """
    n = len(thresholds)
    if n == 0 or thresholds[-1] is not None:
        return None
    for decimals in KUBE_PROXY_DECIMALS:
        if all(t == kube_proxy_threshold(n - i, decimals) for i, t in enumerate(thresholds[:-1])):
            return decimals
    return None


def collisions(thresholds: Sequence[int | None]) -> list[tuple[int, int, int]]:
    """(i, k, decimals) for each rule i whose threshold equals rule i+1's where kube-proxy meant
    1/k and 1/(k-1): the kernel cannot tell them apart. Equal thresholds that kube-proxy never
    writes as neighbours (a hand-made chain of 0.5s) are not collisions but skew (non-uniform)."""
    found = []
    for i in range(len(thresholds) - 1):
        t = thresholds[i]
        if t is not None and t == thresholds[i + 1] and (meant := _meant_as_neighbours(t)):
            found.append((i, *meant))
    return found


def _meant_as_neighbours(t: int) -> tuple[int, int] | None:
    """(k, decimals) when t is kube-proxy's threshold for both 1/k and 1/(k-1)."""
    if t <= 0:
        return None
    near = round(TWO_31 / t)
    for decimals in KUBE_PROXY_DECIMALS:
        for k in range(max(near - 2, 3), near + 3):
            if kube_proxy_threshold(k, decimals) == t == kube_proxy_threshold(k - 1, decimals):
                return k, decimals
    return None


@lru_cache(maxsize=8)
def first_collision(decimals: int, limit: int = 1 << 20) -> int | None:
    """The fewest endpoints for which kube-proxy's own cascade has two equal consecutive
    thresholds: the smallest k with t(1/k) == t(1/(k-1)). 44,989 at 10 decimals (the rules for
    1/44,989 and 1/44,988 both get t = 47,734), 320 at 5 decimals (0.00313 twice)."""
    for k in range(3, limit):
        if kube_proxy_threshold(k, decimals) == kube_proxy_threshold(k - 1, decimals):
            return k
    return None


def shares(thresholds: Sequence[int | None]) -> list[Fraction]:
    """Each rule's exact share of a cascade: t_i/2^31 · prod_{j<i}(1 - t_j/2^31) (None = 1)."""
    out, remaining = [], Fraction(1)
    for t in thresholds:
        if t is None:
            out.append(remaining)
            remaining = Fraction(0)
        else:  # products only: see walk._split
            out.append(remaining * Fraction(t, TWO_31))
            remaining *= Fraction(TWO_31 - t, TWO_31)
    return out


def relative_deviation(share: Fraction, n: int) -> Fraction:
    """|share − 1/n| / (1/n), computed as |share·n − 1| from the integers (no subtraction of two
    long dyadic fractions, no gcd until the caller needs the value)."""
    return Fraction(abs(share.numerator * n - share.denominator), share.denominator)


def deviation_exceeds(share: Fraction, n: int, tolerance: Fraction) -> bool:
    """|share·n − 1| > tolerance, exactly, in integer arithmetic."""
    off = abs(share.numerator * n - share.denominator)
    return off * tolerance.denominator > tolerance.numerator * share.denominator


def worst_deviation(endpoint_shares: Sequence[Fraction]) -> tuple[int, Fraction] | None:
    """(index, |share·n − 1|) of the share farthest from 1/n, n the number of shares; None when empty."""
    n = len(endpoint_shares)
    if not n:
        return None
    # compare |a·n − b| / b across endpoints as integers: x/b1 > y/b2 ⟺ x·b2 > y·b1
    best, best_num, best_den = 0, -1, 1
    for i, s in enumerate(endpoint_shares):
        num = abs(s.numerator * n - s.denominator)
        if num * best_den > best_num * s.denominator:
            best, best_num, best_den = i, num, s.denominator
    return best, Fraction(best_num, best_den)


@lru_cache(maxsize=1024)
def kube_proxy_deviation(n: int, decimals: int) -> Fraction:
    """The largest relative deviation from 1/n of kube-proxy's own n-endpoint cascade."""
    thresholds: list[int | None] = [kube_proxy_threshold(n - i, decimals) for i in range(n - 1)]
    found = worst_deviation(shares([*thresholds, None]))
    return found[1] if found else Fraction(0)


def uniformity_bound(n: int, decimals: int = 10) -> float:
    """Largest relative deviation |share·n − 1| of any endpoint of an n-endpoint kube-proxy chain.

    Why it holds: rule i (of n, from 0) is written as p_i = 1/(n−i) rounded to `decimals`
    places (error ≤ ½·10^−d, plus ≤ 2^−53·p_i from formatting the double 1/(n−i)); iptables stores
    t_i = lround(p·2^31) (error ≤ 2^−32), and prints t_i/2^31 with %.11f, which reads back to the
    same t_i. So q_i = t_i/2^31 is within δ = ½·10^−d + 2^−32 + 2^−52 of 1/(n−i). Endpoint k gets
    q_k·∏_{j<k}(1−q_j) (the last one ∏_{j<n−1}(1−q_j)), while 1/n is the same product with exact
    p's. The factors' relative errors are at most δ/p_k = δ(n−k) and δ/(1−p_j) = δ(n−j)/(n−j−1);
    their sum, maximal for the last two endpoints, is δ·((n−1) + H_{n−1}) =: S (H = harmonic
    number), and a product of factors within (1 ± e_j) is within [1 − Σe, e^{Σe}], so
    |share·n − 1| ≤ e^S − 1. For d = 10 that is ≈ 2.8e−10·n; for d = 5, ≈ 5e−6·n.

    The bound is nearly reached: the first endpoint's error δ(n−k) dominates and, for n whose
    1/n rounds badly both in decimal and in binary, reaches more than half of it (the property
    tests search for such n).
    """
    if n <= 1:
        return 0.0
    delta = 0.5 * 10.0 ** -decimals + 2.0 ** -32 + 2.0 ** -52
    harmonic = math.fsum(1.0 / m for m in range(1, n))
    return math.expm1(delta * ((n - 1) + harmonic) * (1 + 1e-12))
