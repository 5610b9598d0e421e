"""Count, mean and sum of squared deviations (M2) of samples, merged from parts with Chan's formula."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tsmon.stats._common import FloatArray, as_float


@dataclass(frozen=True)
class Moments:
    """Sufficient statistics of one or many samples (arrays of equal shape, one entry per sample).

    ``m2`` is the sum of squared deviations from the mean: the sample variance is ``m2 / (n - 1)``.
    """

    n: FloatArray
    mean: FloatArray
    m2: FloatArray

    @property
    def variance(self) -> FloatArray:
        """Sample variance (ddof=1); NaN below two values."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.n > 1, self.m2 / (self.n - 1), np.nan)

    @property
    def stddev(self) -> FloatArray:
        return np.asarray(np.sqrt(self.variance), dtype=np.float64)


def from_samples(x: npt.ArrayLike) -> Moments:
    """Moments of one sample of raw values."""
    a = as_float(x)
    mean = a.mean() if a.size else np.nan
    return Moments(as_float(a.size), as_float(mean), as_float(((a - mean) ** 2).sum()))


def from_sums(count: npt.ArrayLike, total: npt.ArrayLike, sum_sq: npt.ArrayLike) -> Moments:
    """Moments of windows from count, sum and sum of squares (as the windows store them).

    ``sum_sq - sum**2 / n`` cancels catastrophically when the mean is large against the spread,
    so use this per window only (few values, one cancellation) and merge windows with
    :func:`merge`, which adds deviations instead of raw squares.
    """
    n = as_float(count)
    s = as_float(total)
    # Sums of squares beyond float range are +Infinity (see tsmon.windows.definitions): M2 is then
    # infinite or NaN, which the tests report as no result, without a warning.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mean = np.where(n > 0, s / n, np.nan)
        m2 = np.maximum(as_float(sum_sq) - s * mean, 0.0)
    return Moments(n, mean, np.where(n > 0, m2, np.nan))


def merge(parts: Moments, group: npt.ArrayLike | None = None, groups: int | None = None) -> Moments:
    """Merge parts (windows) into wholes: all parts into one, or by integer ``group`` labels 0..groups-1.

    Chan et al.'s parallel formula, in one pass for many parts: ``M2 = sum(M2_i) + sum(n_i (mean_i -
    mean)^2)`` with ``mean`` the merged mean; exact in exact arithmetic, and free of the
    ``sum_sq - sum^2 / n`` cancellation across parts.
    """
    n, mean, m2 = parts.n, parts.mean, parts.m2
    if group is None:
        g = np.zeros(n.size, dtype=np.int64)
        k = 1
    else:
        g = np.asarray(group, dtype=np.int64)
        k = int(groups if groups is not None else (g.max() + 1 if g.size else 0))
    total_n = np.bincount(g, weights=n, minlength=k).astype(np.float64)
    weighted = np.where(n > 0, n * np.nan_to_num(mean), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        merged_mean = np.where(total_n > 0, np.bincount(g, weights=weighted, minlength=k) / total_n, np.nan)
    with np.errstate(over="ignore", invalid="ignore"):
        dev = np.where(n > 0, n * (mean - merged_mean[g]) ** 2, 0.0)
    within = np.where(n > 0, m2, 0.0)
    merged_m2 = np.bincount(g, weights=within + dev, minlength=k).astype(np.float64)
    return Moments(total_n, np.asarray(merged_mean, dtype=np.float64), merged_m2)
