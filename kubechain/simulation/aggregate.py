"""Monte Carlo runs → the curves of a result: mean shares per bucket, the band over runs, and the
time from which the new pods hold 90% of their fair share."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from .result import BAND_PERCENTILES, FAIR_FRACTION, Curves, Share


def curves(runs: Sequence[npt.NDArray[Any]], new: Sequence[bool], fair_share: Fraction | None,
           bucket_starts: Sequence[float], expected: Sequence[npt.NDArray[np.float64]] | None = None) -> Curves:
    """`runs`: one (buckets × pods) array of requests started per run; the band is over their
    shares. The means are over `expected` when given (each run's expected counts given its
    connection timeline: the same mean, with the noise of the pod draws averaged out), else over
    `runs`."""
    new_mask = np.asarray(new, dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-empty buckets: nan, reported as None
        share = _shares(runs)
        means = share if expected is None else _shares(expected)
        mean = np.nanmean(means, axis=0)
        new_mean = np.nanmean(means[..., new_mask].sum(axis=2) + np.where(np.isnan(means[..., 0]), np.nan, 0.0),
                              axis=0)
        new_share = share[..., new_mask].sum(axis=2) + np.where(np.isnan(share[..., 0]), np.nan, 0.0)
        band = np.nanpercentile(new_share, BAND_PERCENTILES, axis=0)
    return Curves(tuple(tuple(_share(v) for v in row) for row in mean),
                  tuple(_share(v) for v in new_mean),
                  tuple((_share(lo), _share(hi)) for lo, hi in zip(band[0], band[1], strict=True)),
                  time_to_fair_share(new_mean, fair_share, bucket_starts))


def _shares(runs: Sequence[npt.NDArray[Any]]) -> npt.NDArray[np.float64]:
    """(runs × buckets × pods) shares of each bucket's requests; nan where a bucket has none."""
    counts = np.stack(runs).astype(np.float64)
    totals = counts.sum(axis=2, keepdims=True)
    return np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), np.nan)


def time_to_fair_share(new_mean: npt.NDArray[np.float64], fair_share: Fraction | None,
                       bucket_starts: Sequence[float]) -> float | None:
    """The first bucket start from which the mean new-pod share stays ≥ 0.9·fair share to the end
    (a bucket without requests does not interrupt it); None if never, or without new pods."""
    if fair_share is None or not fair_share or np.isnan(new_mean).all():
        return None
    ok = np.isnan(new_mean) | (new_mean >= FAIR_FRACTION * float(fair_share) - 1e-12)
    holds = np.logical_and.accumulate(ok[::-1])[::-1]
    found = np.flatnonzero(holds)
    return float(bucket_starts[int(found[0])]) if len(found) else None


def mean_or_none(values: Sequence[float]) -> float | None:
    """The mean over runs, None when a run never saw it (inf)."""
    return None if not values or any(math.isinf(v) for v in values) else float(np.mean(values))


def _share(value: float) -> Share:
    return None if math.isnan(value) else float(value)
