"""Monte Carlo runs → the curves of a result: mean shares per bucket, the band over runs, and the
time from which the new pods hold 90% of their fair share."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from .result import BAND_PERCENTILES, FAIR_FRACTION, Curves, Share


def curves(runs: Sequence[npt.NDArray[np.int64]], new: Sequence[bool], fair_share: Fraction | None,
           bucket_starts: Sequence[float]) -> Curves:
    """`runs`: one (buckets × pods) array of requests started per run."""
    counts = np.stack(runs).astype(np.float64)
    totals = counts.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-empty buckets: nan, reported as None
        share = counts / totals[..., None]
        mean = np.nanmean(share, axis=0)
        new_share = share[..., np.asarray(new, dtype=bool)].sum(axis=2)
        new_share[totals == 0] = np.nan
        new_mean = np.nanmean(new_share, axis=0)
        band = np.nanpercentile(new_share, BAND_PERCENTILES, axis=0)
    return Curves(tuple(tuple(_share(v) for v in row) for row in mean),
                  tuple(_share(v) for v in new_mean),
                  tuple((_share(lo), _share(hi)) for lo, hi in zip(band[0], band[1], strict=True)),
                  time_to_fair_share(new_mean, fair_share, bucket_starts))


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
