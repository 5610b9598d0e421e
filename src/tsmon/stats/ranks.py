"""Rank and distribution tests (Mann-Whitney U, two-sample Kolmogorov-Smirnov) on window means."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from tsmon.stats._common import as_float, check_alternative


@dataclass(frozen=True)
class MannWhitneyResult:
    """Mann-Whitney U of ``x`` against ``y``; ``rank_biserial`` = ``2 U / (n_x n_y) - 1`` in [-1, 1]
    (positive: values of ``x`` tend to be larger)."""

    statistic: float
    pvalue: float
    rank_biserial: float


def mann_whitney(x: npt.ArrayLike, y: npt.ArrayLike, *, alternative: str = "two-sided") -> MannWhitneyResult:
    """``scipy.stats.mannwhitneyu(x, y)`` (method 'auto') with its effect size.

    Assumes independent values: on autocorrelated window means its p-value is too small, as the
    naive t-test's is; read it with the effective-size p-value of the compare.
    """
    a, b = _finite(x), _finite(y)
    if a.size == 0 or b.size == 0:
        return MannWhitneyResult(np.nan, np.nan, np.nan)
    res = sps.mannwhitneyu(a, b, alternative=check_alternative(alternative))
    u = float(res.statistic)
    return MannWhitneyResult(u, float(res.pvalue), 2.0 * u / (a.size * b.size) - 1.0)


@dataclass(frozen=True)
class KSResult:
    """Two-sample Kolmogorov-Smirnov: ``statistic`` is the largest gap between the two empirical
    distribution functions (0: same distribution, 1: no overlap)."""

    statistic: float
    pvalue: float


def ks_2samp(x: npt.ArrayLike, y: npt.ArrayLike, *, alternative: str = "two-sided") -> KSResult:
    """``scipy.stats.ks_2samp(x, y)``: sensitive to any change of shape, not only of the mean.

    Assumes independent values (the same caveat as :func:`mann_whitney`).
    """
    a, b = _finite(x), _finite(y)
    if a.size == 0 or b.size == 0:
        return KSResult(np.nan, np.nan)
    res = sps.ks_2samp(a, b, alternative=check_alternative(alternative))
    return KSResult(float(res.statistic), float(res.pvalue))


@dataclass(frozen=True)
class KruskalResult:
    """Kruskal-Wallis H across groups, ``df = k - 1``; ``epsilon_squared`` = ``H / (n - 1)``."""

    statistic: float
    pvalue: float
    df: int
    epsilon_squared: float


def kruskal(groups: list[npt.ArrayLike]) -> KruskalResult:
    """``scipy.stats.kruskal`` over the groups' window means: do the groups' medians differ?

    Assumes independent values within groups; no alternative (the test is one-sided in H).
    """
    samples = [_finite(g) for g in groups]
    samples = [s for s in samples if s.size]
    n = sum(s.size for s in samples)
    if len(samples) < 2 or n <= len(samples):
        return KruskalResult(np.nan, np.nan, len(samples) - 1, np.nan)
    res = sps.kruskal(*samples)
    h = float(res.statistic)
    return KruskalResult(h, float(res.pvalue), len(samples) - 1, h / (n - 1))


def _finite(x: npt.ArrayLike) -> npt.NDArray[np.float64]:
    a = as_float(x)
    return a[np.isfinite(a)]


@dataclass(frozen=True)
class ManyRankResults:
    """Mann-Whitney U and KS2 of many pairs (one entry per pair; NaN where a side is empty)."""

    mwu_u: npt.NDArray[np.float64]
    mwu_p: npt.NDArray[np.float64]
    rank_biserial: npt.NDArray[np.float64]
    ks_d: npt.NDArray[np.float64]
    ks_p: npt.NDArray[np.float64]


def rank_tests_many(
    xs: list[npt.NDArray[np.float64]], ys: list[npt.NDArray[np.float64]], *, alternative: str = "two-sided"
) -> ManyRankResults:
    """:func:`mann_whitney` and :func:`ks_2samp` of each pair ``(xs[i], ys[i])``, the same numbers,
    computed by scipy once per distinct pair of sizes (a 2-d call) instead of once per pair."""
    alt = check_alternative(alternative)
    k = len(xs)
    out = {name: np.full(k, np.nan) for name in ("u", "up", "rb", "d", "dp")}
    xs = [_finite(x) for x in xs]
    ys = [_finite(y) for y in ys]
    shapes: dict[tuple[int, int], list[int]] = {}
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        if x.size and y.size:
            shapes.setdefault((x.size, y.size), []).append(i)
    for (nx, ny), idx in shapes.items():
        a = np.stack([xs[i] for i in idx])
        b = np.stack([ys[i] for i in idx])
        mw = sps.mannwhitneyu(a, b, alternative=alt, axis=1)
        ks = sps.ks_2samp(a, b, alternative=alt, axis=1)
        out["u"][idx] = mw.statistic
        out["up"][idx] = mw.pvalue
        out["rb"][idx] = 2.0 * np.asarray(mw.statistic) / (nx * ny) - 1.0
        out["d"][idx] = ks.statistic
        out["dp"][idx] = ks.pvalue
    return ManyRankResults(out["u"], out["up"], out["rb"], out["d"], out["dp"])
