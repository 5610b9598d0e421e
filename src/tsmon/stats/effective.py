"""Autocorrelation-aware comparison of two ranges' means: effective sample sizes from window means."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tsmon.stats._common import FloatArray, as_float, check_alternative
from tsmon.stats.welch import WelchResult, welch_from_variances

MAX_R = 0.999  # beyond it the series is a random walk: its windows carry almost no evidence
Index = npt.NDArray[np.int64]


def lag1_autocorrelation(x: npt.ArrayLike) -> float:
    """``sum((x_t - m)(x_t+1 - m)) / sum((x_t - m)^2)`` with ``m`` the mean; 0 below 3 points or no spread."""
    a = as_float(x)
    a = a[np.isfinite(a)]
    if a.size < 3:
        return 0.0
    d = a - a.mean()
    denom = float(np.dot(d, d))
    return float(np.dot(d[:-1], d[1:]) / denom) if denom > 0 else 0.0


def effective_n(n: npt.ArrayLike, r: npt.ArrayLike) -> FloatArray:
    """``n (1 - r) / (1 + r)`` clipped to ``[2, n]``: what ``n`` AR(1)-correlated points with lag-1
    autocorrelation ``r`` are worth, in independent points, for their mean.

    A negative ``r`` would credit more than ``n`` points, so the result never exceeds ``n``.
    """
    n_, r_ = np.asarray(n, dtype=np.float64), np.clip(np.asarray(r, dtype=np.float64), -MAX_R, MAX_R)
    raw = n_ * (1.0 - r_) / (1.0 + r_)
    return np.asarray(np.where(n_ >= 2, np.clip(raw, 2.0, np.maximum(n_, 2.0)), n_), dtype=np.float64)


@dataclass(frozen=True)
class EffectiveResult:
    """Welch's t over window means with effective sizes (one entry per series), and its inputs."""

    test: WelchResult
    r: FloatArray  # pooled lag-1 autocorrelation of both ranges' window means, bias-corrected
    n_eff_a: FloatArray
    n_eff_b: FloatArray


def effective_welch(
    means_a: npt.ArrayLike,
    means_b: npt.ArrayLike,
    *,
    mean_a: float | None = None,
    mean_b: float | None = None,
    alternative: str = "two-sided",
) -> EffectiveResult:
    """Welch's t for ``mean(a) - mean(b)`` counting each range's window means as ``n_eff`` values.

    The window means of each range (1m, 1h or 1d, in time order) are treated as an AR(1) series.
    Their lag-1 autocorrelation ``r`` is pooled over both ranges (under the null hypothesis the
    noise is the same) and corrected for its small-sample bias (``+ (1 + 4 r) / m``, Kendall). A
    range of ``m`` windows counts as ``n_eff = m (1 - r) / (1 + r)`` values, clipped to ``[2, m]``;
    the variance of its window means is corrected for the autocorrelation (``s^2`` underestimates
    it by ``(m - m / n_eff) / (m - 1)``). Then the Welch-Satterthwaite test with those sizes.

    This is a batch-means estimate: dependence inside a window is averaged out, between windows
    it is corrected. With one value per window and no autocorrelation it is the plain Welch test.
    It assumes dependence that decays like AR(1): seasonality longer than the range, trends and
    level shifts inside a range still give small p-values.

    ``mean_a`` / ``mean_b`` are the exact sample means (from the windows' sums); by default the
    means of the window means.
    """
    a, b = as_float(means_a), as_float(means_b)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    ma = as_float(a.mean() if a.size else np.nan) if mean_a is None else as_float(mean_a)
    mb = as_float(b.mean() if b.size else np.nan) if mean_b is None else as_float(mean_b)
    zero = np.zeros(1, dtype=np.int64)
    return segment_effective_welch(a, zero, b, zero, mean_a=ma, mean_b=mb, alternative=alternative)


def segment_effective_welch(
    values_a: FloatArray,
    starts_a: Index,
    values_b: FloatArray,
    starts_b: Index,
    *,
    mean_a: FloatArray,
    mean_b: FloatArray,
    alternative: str = "two-sided",
) -> EffectiveResult:
    """:func:`effective_welch` for many series at once: series ``i``'s window means are
    ``values_a[starts_a[i]:starts_a[i + 1]]`` (and likewise for b), each in time order."""
    alt = check_alternative(alternative)
    sa, var_a, num_a, den_a = _segments(values_a, starts_a)
    sb, var_b, num_b, den_b = _segments(values_b, starts_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        den = den_a + den_b
        r0 = np.where(den > 0, (num_a + num_b) / den, 0.0)
        r = np.where(sa + sb >= 6, np.clip(r0 + (1 + 4 * r0) / (sa + sb), -MAX_R, MAX_R), 0.0)
        ne_a, ne_b = effective_n(sa, r), effective_n(sb, r)
        var_a = var_a * (sa - 1) / np.maximum(sa - sa / ne_a, 1e-300)
        var_b = var_b * (sb - 1) / np.maximum(sb - sb / ne_b, 1e-300)
    test = welch_from_variances(
        n_a=ne_a, mean_a=mean_a, var_a=var_a, n_b=ne_b, mean_b=mean_b, var_b=var_b, alternative=alt
    )
    return EffectiveResult(test, np.asarray(r, dtype=np.float64), ne_a, ne_b)


def _segments(values: FloatArray, starts: Index) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per segment: size, variance (ddof=1), and the lag-1 sums ``sum(d_t d_t+1)``, ``sum(d_t^2)``."""
    k = starts.size
    ends = np.append(starts[1:], values.size)
    sizes = (ends - starts).astype(np.float64)
    seg = np.repeat(np.arange(k), ends - starts)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        means = np.bincount(seg, weights=values, minlength=k) / sizes
        d = values - means[seg]
        den = np.bincount(seg, weights=d * d, minlength=k).astype(np.float64)
        same = seg[1:] == seg[:-1]
        num = np.bincount(seg[1:][same], weights=(d[:-1] * d[1:])[same], minlength=k).astype(np.float64)
        var = np.where(sizes > 1, den / (sizes - 1), np.nan)
    return sizes, var, num, den
