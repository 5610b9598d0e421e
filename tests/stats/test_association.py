"""Correlations, lagged cross-correlation and regression equal scipy's; the best lag is found."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from tsmon.stats.association import cross_correlation, linregress, pearson, spearman


@pytest.mark.parametrize("alternative", ["two-sided", "greater"])
def test_correlations_and_regression_equal_scipy(alternative: str) -> None:
    rng = np.random.default_rng(8)
    x = rng.normal(0, 1, 300)
    y = 2.5 * x + rng.normal(0, 3, 300)
    y[7] = np.nan  # dropped in pairs
    ok = np.isfinite(y)
    p, s = pearson(x, y, alternative=alternative), spearman(x, y, alternative=alternative)
    want_p = sps.pearsonr(x[ok], y[ok], alternative=alternative)
    want_s = sps.spearmanr(x[ok], y[ok], alternative=alternative)
    assert p.statistic == pytest.approx(want_p.statistic) and p.pvalue == pytest.approx(want_p.pvalue)
    assert s.statistic == pytest.approx(want_s.statistic) and s.pvalue == pytest.approx(want_s.pvalue)
    assert p.n == 299
    lr, want = (
        linregress(x, y, alternative=alternative),
        sps.linregress(x[ok], y[ok], alternative=alternative),
    )
    assert lr.slope == pytest.approx(want.slope) and lr.intercept == pytest.approx(want.intercept)
    assert lr.pvalue == pytest.approx(want.pvalue) and lr.r_squared == pytest.approx(want.rvalue**2)
    assert lr.stderr == pytest.approx(want.stderr)


def test_cross_correlation_finds_the_lag() -> None:
    rng = np.random.default_rng(9)
    x = rng.normal(0, 1, 500)
    y = np.roll(x, 4) + rng.normal(0, 0.3, 500)  # y follows x by 4 windows
    res = cross_correlation(x, y, max_lag=10)
    assert res.best_lag == 4 and res.best_r > 0.9
    assert len(res.r) == 21
    assert res.r[res.lags.index(4)] == pytest.approx(sps.pearsonr(x[:-4], y[4:]).statistic)
    with pytest.raises(ValueError, match="aligned"):
        pearson(x, y[:-1])


def test_constant_series_give_nan() -> None:
    assert np.isnan(pearson(np.ones(10), np.arange(10.0)).statistic)
    assert np.isnan(linregress(np.ones(10), np.arange(10.0)).slope)
