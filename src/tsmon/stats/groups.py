"""One-way ANOVA and Tukey's HSD across groups, from each group's count, mean and M2."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from tsmon.stats._common import FloatArray
from tsmon.stats.moments import Moments


@dataclass(frozen=True)
class AnovaResult:
    """One-way ANOVA: ``F = MS_between / MS_within`` with ``df_between = k - 1``, ``df_within = n - k``;
    ``eta_squared`` = ``SS_between / SS_total``, the share of the variance the groups explain."""

    statistic: float
    pvalue: float
    df_between: int
    df_within: int
    eta_squared: float
    mse: float


def anova(groups: Moments) -> AnovaResult:
    """``scipy.stats.f_oneway`` from sufficient statistics (one entry of ``groups`` per group).

    Assumes independent, roughly normal values with equal variances in every group; with unequal
    variances and unequal sizes the p-value can be far off (then prefer Kruskal-Wallis, or
    pairwise Welch tests). Autocorrelated samples make it too small.
    """
    keep = groups.n > 0
    n, mean, m2 = groups.n[keep], groups.mean[keep], groups.m2[keep]
    k, total = int(n.size), float(n.sum())
    if k < 2 or total <= k:
        return AnovaResult(np.nan, np.nan, k - 1, int(total) - k, np.nan, np.nan)
    grand = float((n * mean).sum() / total)
    ss_between = float((n * (mean - grand) ** 2).sum())
    ss_within = float(m2.sum())
    df_b, df_w = k - 1, int(total) - k
    mse = ss_within / df_w
    f = (ss_between / df_b) / mse if mse > 0 else np.inf
    p = float(sps.f.sf(f, df_b, df_w))
    ss_total = ss_between + ss_within
    return AnovaResult(float(f), p, df_b, df_w, ss_between / ss_total if ss_total > 0 else np.nan, mse)


@dataclass(frozen=True)
class TukeyResult:
    """Tukey's honestly significant difference for every pair ``i < j`` of groups.

    ``i``, ``j`` index the groups; ``diff`` is ``mean_i - mean_j``; ``pvalue`` is adjusted for all
    ``k (k - 1) / 2`` comparisons (the family-wise error rate), as ``scipy.stats.tukey_hsd``.
    """

    i: list[int]
    j: list[int]
    diff: FloatArray
    statistic: FloatArray
    pvalue: FloatArray
    df: int


def tukey_hsd(groups: Moments) -> TukeyResult:
    """Tukey-Kramer pairwise comparisons from sufficient statistics (unequal sizes allowed).

    The studentized range ``q = |mean_i - mean_j| / sqrt(MSE / 2 (1 / n_i + 1 / n_j))`` with ``k``
    groups and ``n - k`` degrees of freedom. Same assumptions as :func:`anova`.
    """
    n, mean, m2 = groups.n, groups.mean, groups.m2
    k = int(n.size)
    df = int(n.sum()) - k
    ii, jj = np.triu_indices(k, 1)
    if k < 2 or df < 1:
        empty = np.array([], dtype=np.float64)
        return TukeyResult([], [], empty, empty, empty, df)
    mse = float(m2.sum()) / df
    diff = mean[ii] - mean[jj]
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.abs(diff) / np.sqrt(mse / 2.0 * (1.0 / n[ii] + 1.0 / n[jj]))
    p = np.asarray(sps.studentized_range.sf(q, k, df), dtype=np.float64)
    return TukeyResult(ii.tolist(), jj.tolist(), np.asarray(diff, dtype=np.float64), q, p, df)
