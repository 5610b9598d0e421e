"""Association of two aligned series: Pearson, Spearman, lagged cross-correlation, linear regression."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from tsmon.stats._common import FloatArray, as_float, check_alternative


@dataclass(frozen=True)
class CorrelationResult:
    """A correlation coefficient in [-1, 1], its p-value (H0: no correlation) and the pair count."""

    statistic: float
    pvalue: float
    n: int


def _pairs(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    a, b = as_float(x), as_float(y)
    if a.shape != b.shape:
        raise ValueError(f"x and y must be aligned (same length), not {a.size} and {b.size}")
    ok = np.isfinite(a) & np.isfinite(b)
    return a[ok], b[ok]


def pearson(x: npt.ArrayLike, y: npt.ArrayLike, *, alternative: str = "two-sided") -> CorrelationResult:
    """``scipy.stats.pearsonr``: linear association of aligned windows (pairs with a NaN dropped).

    Assumes independent pairs: two trending or seasonal series correlate strongly without any
    link (compare their differences, or read the lagged cross-correlation, before concluding).
    """
    a, b = _pairs(x, y)
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return CorrelationResult(np.nan, np.nan, int(a.size))
    res = sps.pearsonr(a, b, alternative=check_alternative(alternative))
    return CorrelationResult(float(res.statistic), float(res.pvalue), int(a.size))


def spearman(x: npt.ArrayLike, y: npt.ArrayLike, *, alternative: str = "two-sided") -> CorrelationResult:
    """``scipy.stats.spearmanr``: monotonic association, robust to outliers; same caveat as Pearson."""
    a, b = _pairs(x, y)
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return CorrelationResult(np.nan, np.nan, int(a.size))
    res = sps.spearmanr(a, b, alternative=check_alternative(alternative))
    return CorrelationResult(float(res.statistic), float(res.pvalue), int(a.size))


@dataclass(frozen=True)
class CrossCorrelationResult:
    """Pearson r of ``x_t`` with ``y_t+lag`` for each lag in ``lags``; ``best_lag`` has the largest |r|.

    A positive best lag means ``y`` follows ``x`` by that many windows (x leads).
    """

    lags: list[int]
    r: FloatArray
    best_lag: int
    best_r: float


def cross_correlation(x: npt.ArrayLike, y: npt.ArrayLike, *, max_lag: int) -> CrossCorrelationResult:
    """Lagged Pearson correlation within ``[-max_lag, max_lag]`` windows, on the overlapping pairs.

    The largest |r| of ``2 max_lag + 1`` tries is biased upward: it is a lead, not a test.
    """
    if max_lag < 0:
        raise ValueError(f"max_lag must be >= 0, not {max_lag}")
    a, b = as_float(x), as_float(y)
    if a.shape != b.shape:
        raise ValueError(f"x and y must be aligned (same length), not {a.size} and {b.size}")
    lags = list(range(-max_lag, max_lag + 1))
    rs = np.full(len(lags), np.nan)
    for i, lag in enumerate(lags):
        xa, yb = (a[: a.size - lag], b[lag:]) if lag >= 0 else (a[-lag:], b[: b.size + lag])
        rs[i] = pearson(xa, yb).statistic if xa.size else np.nan
    if np.all(np.isnan(rs)):
        return CrossCorrelationResult(lags, rs, 0, np.nan)
    best = int(np.nanargmax(np.abs(rs)))
    return CrossCorrelationResult(lags, rs, lags[best], float(rs[best]))


@dataclass(frozen=True)
class RegressionResult:
    """Least-squares line ``y = intercept + slope x``; ``pvalue`` tests slope = 0 (t with n - 2 df)."""

    slope: float
    intercept: float
    rvalue: float
    r_squared: float
    pvalue: float
    stderr: float
    intercept_stderr: float
    n: int


def linregress(x: npt.ArrayLike, y: npt.ArrayLike, *, alternative: str = "two-sided") -> RegressionResult:
    """``scipy.stats.linregress`` on aligned windows (pairs with a NaN dropped).

    Assumes independent, equal-variance residuals: autocorrelated residuals make the p-value and
    standard errors too small. ``r_squared`` is the share of ``y``'s variance the line explains.
    """
    a, b = _pairs(x, y)
    if a.size < 3 or np.ptp(a) == 0:
        nan = float("nan")
        return RegressionResult(nan, nan, nan, nan, nan, nan, nan, int(a.size))
    res = sps.linregress(a, b, alternative=check_alternative(alternative))
    return RegressionResult(
        float(res.slope),
        float(res.intercept),
        float(res.rvalue),
        float(res.rvalue) ** 2,
        float(res.pvalue),
        float(res.stderr),
        float(res.intercept_stderr),
        int(a.size),
    )
