"""Welch's t from per-window sums equals scipy's on the raw samples; Chan's merge is cancellation-free."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from tsmon.stats import moments
from tsmon.stats.welch import cohens_d, welch_t


def windows_of(x: np.ndarray, size: int) -> moments.Moments:
    """Per-window count, sum and sum of squares (what tsmon's windows store), merged with Chan."""
    cuts = np.arange(0, x.size, size)
    count = np.diff(np.append(cuts, x.size))
    total = np.add.reduceat(x, cuts)
    sum_sq = np.add.reduceat(x * x, cuts)
    return moments.merge(moments.from_sums(count, total, sum_sq))


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_welch_from_windows_equals_scipy_on_raw_samples(seed: int, alternative: str) -> None:
    rng = np.random.default_rng(seed)
    # A large level against a small spread: sum_sq - sum^2/n over the whole range would lose digits.
    a = 1000.0 + rng.normal(0, 1 + seed, rng.integers(50, 3000))
    b = 1000.0 + rng.normal(0.1 * seed, 2, rng.integers(50, 3000))
    got = welch_t(windows_of(a, 60), windows_of(b, 17), alternative=alternative)
    want = sps.ttest_ind(a, b, equal_var=False, alternative=alternative)
    assert float(got.statistic[0]) == pytest.approx(want.statistic, rel=1e-9, abs=1e-12)
    assert float(got.pvalue[0]) == pytest.approx(want.pvalue, rel=1e-9, abs=1e-15)
    assert float(got.df[0]) == pytest.approx(want.df, rel=1e-9)
    assert float(got.delta[0]) == pytest.approx(a.mean() - b.mean(), rel=1e-9, abs=1e-12)


def test_merge_by_group_equals_each_sample() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(5e6, 0.5, 500)
    group = np.repeat([0, 1, 2], [100, 150, 250])
    parts = moments.from_sums(np.ones(500), x, x * x)
    merged = moments.merge(parts, group, 3)
    for g in range(3):
        xs = x[group == g]
        assert merged.n[g] == xs.size
        assert merged.mean[g] == pytest.approx(xs.mean(), rel=1e-12)
        assert merged.variance[g] == pytest.approx(xs.var(ddof=1), rel=1e-6)


def test_cohens_d_and_too_few_values() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(1, 2, 300), rng.normal(0, 2, 200)
    pooled = np.sqrt(((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (a.size + b.size - 2))
    d = cohens_d(moments.from_samples(a), moments.from_samples(b))
    assert float(d[0]) == pytest.approx((a.mean() - b.mean()) / pooled, rel=1e-12)
    one = welch_t(moments.from_samples([1.0]), moments.from_samples(b))
    assert np.isnan(one.statistic[0]) and np.isnan(one.pvalue[0])
    with pytest.raises(ValueError, match="alternative"):
        welch_t(moments.from_samples(a), moments.from_samples(b), alternative="bigger")
