"""kube-proxy's probability cascade, in kernel integers: what kube-proxy writes for n endpoints,
at which precision a chain was written, and where two of its thresholds collide.

kube-proxy gives rule i (from 0) of an n-endpoint chain `fmt(1/(n-i), d)` with d = 10 decimals
(`%0.10f`, since v1.17), 5 (`%0.5f`, before) or 6 (`%f`, 2015); the last rule has no statistic
match. iptables stores `lround(p·2^31)` and prints that back with `%.11f`, so a dump only ever
shows thresholds: a chain is recognised by comparing thresholds, never decimal strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache

from .model import TWO_31, probability_threshold

#: kube-proxy's formats, newest first: `%0.10f`, `%f`, `%0.5f`
KUBE_PROXY_DECIMALS = (10, 6, 5)


def kube_proxy_written(remaining: int, decimals: int) -> str:
    """The `--probability` kube-proxy writes with `remaining` endpoints left: `%0.<d>f` of 1/k."""
    return f"{1.0 / remaining:.{decimals}f}"


@lru_cache(maxsize=1 << 16)
def kube_proxy_threshold(remaining: int, decimals: int) -> int:
    """The kernel threshold of kube-proxy's rule for `remaining` endpoints left: t(fmt(1/k, d))."""
    return probability_threshold(kube_proxy_written(remaining, decimals))


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


@lru_cache(maxsize=65536)
def relative_deviation(share: Fraction, n: int) -> Fraction:
    """|share - 1/n| / (1/n), computed as |share·n - 1| (cheap for huge dyadic shares); cached,
    as services with equally many endpoints share their shares."""
    return abs(share * n - 1)


@lru_cache(maxsize=1024)
def kube_proxy_deviation(n: int, decimals: int) -> Fraction:
    """The largest relative deviation from 1/n of kube-proxy's own n-endpoint cascade."""
    thresholds = [kube_proxy_threshold(n - i, decimals) for i in range(n - 1)] + [None]
    return max(relative_deviation(s, n) for s in shares(thresholds))
