"""Welch's two-sample t-test and Cohen's d from sufficient statistics (no raw samples needed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsmon.stats._common import FloatArray, check_alternative, t_pvalue
from tsmon.stats.moments import Moments


@dataclass(frozen=True)
class WelchResult:
    """Welch's t-test of ``mean(a) - mean(b)``, one entry per compared pair.

    ``statistic`` and ``pvalue`` equal ``scipy.stats.ttest_ind(a, b, equal_var=False)`` on the raw
    samples; ``df`` is the Welch-Satterthwaite degrees of freedom; ``delta`` is ``mean(a) - mean(b)``.
    """

    statistic: FloatArray
    pvalue: FloatArray
    df: FloatArray
    delta: FloatArray
    stderr: FloatArray


def welch_t(a: Moments, b: Moments, *, alternative: str = "two-sided") -> WelchResult:
    """Welch's unequal-variances t-test from the moments of samples ``a`` and ``b`` (vectorised).

    Assumes independent values within and between the samples and roughly normal means (the
    central limit theorem, for the sizes monitoring has). Autocorrelated values make the p-value
    far too small: see :func:`tsmon.stats.effective.effective_welch`.

    Parameters
    ----------
    a, b : Moments
        Count, mean and M2 of each sample (arrays broadcast together).
    alternative : {'two-sided', 'less', 'greater'}
        'greater': the mean of ``a`` is greater than that of ``b``.
    """
    alt = check_alternative(alternative)
    return welch_from_variances(
        n_a=a.n, mean_a=a.mean, var_a=a.variance, n_b=b.n, mean_b=b.mean, var_b=b.variance, alternative=alt
    )


def welch_from_variances(
    *,
    n_a: FloatArray,
    mean_a: FloatArray,
    var_a: FloatArray,
    n_b: FloatArray,
    mean_b: FloatArray,
    var_b: FloatArray,
    alternative: str = "two-sided",
) -> WelchResult:
    """Welch's t from sizes, means and variances: ``se^2 = var_a / n_a + var_b / n_b``.

    Taking the sizes apart from the variances lets effective sample sizes stand in for ``n``.
    """
    alt = check_alternative(alternative)
    with np.errstate(divide="ignore", invalid="ignore"):
        va, vb = var_a / n_a, var_b / n_b
        se2 = va + vb
        delta = mean_a - mean_b
        t = delta / np.sqrt(se2)
        df = se2**2 / (va**2 / (n_a - 1) + vb**2 / (n_b - 1))
    ok = (n_a >= 2) & (n_b >= 2)
    t = np.where(ok, t, np.nan)
    df = np.where(ok, df, np.nan)
    return WelchResult(
        statistic=np.asarray(t, dtype=np.float64),
        pvalue=t_pvalue(t, df, alt),
        df=np.asarray(df, dtype=np.float64),
        delta=np.asarray(delta, dtype=np.float64),
        stderr=np.asarray(np.sqrt(se2), dtype=np.float64),
    )


def cohens_d(a: Moments, b: Moments) -> FloatArray:
    """``(mean(a) - mean(b)) / s_pooled``, ``s_pooled^2 = (M2_a + M2_b) / (n_a + n_b - 2)``.

    The size of a difference in standard deviations (0.2 small, 0.5 medium, 0.8 large by Cohen's
    convention); with millions of samples a tiny d is "significant", d says whether it matters.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = np.sqrt((a.m2 + b.m2) / (a.n + b.n - 2))
        return np.asarray((a.mean - b.mean) / pooled, dtype=np.float64)
