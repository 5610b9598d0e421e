"""Effective sample sizes: AR(1) noise without a change is flagged at about alpha, the naive test far more."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from tsmon.stats.effective import effective_n, effective_welch, segment_effective_welch


def ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    e = rng.normal(0, 1, n)
    x = np.empty(n)
    x[0] = e[0] / np.sqrt(1 - phi**2)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + e[t]
    return x


def test_without_autocorrelation_it_is_welch() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 400), rng.normal(0.2, 1.5, 300)
    got = effective_welch(a, b)
    want = sps.ttest_ind(a, b, equal_var=False)
    # r of white noise is near, not at, 0: the sizes shrink a little, the p-value moves a little.
    assert got.n_eff_a[0] <= a.size and got.n_eff_b[0] <= b.size
    assert float(got.test.statistic[0]) == pytest.approx(want.statistic, rel=0.15)


def test_ar1_false_positive_rate_naive_against_effective() -> None:
    rng = np.random.default_rng(2026)
    naive = effective = oracle = 0
    known_se = np.sqrt(2 / 0.36 / (360 * 0.2 / 1.8))  # the true sd of the difference of the means
    for _ in range(1000):
        x = ar1(rng, 720, 0.8)
        a, b = x[:360], x[360:]
        naive += sps.ttest_ind(a, b, equal_var=False).pvalue < 0.05
        effective += float(effective_welch(a, b).test.pvalue[0]) < 0.05
        oracle += abs(a.mean() - b.mean()) / known_se > 1.96
    # The oracle knows phi and sigma: its count is the sampling noise of these 1,000 series (sd ~7).
    print(
        f"AR(1) phi=0.8, no change, 1000 series of 2 x 360: naive flags {naive}, effective-n {effective}, "
        f"a test knowing phi {oracle}"
    )
    assert effective <= 60
    assert naive >= 300


def test_effective_n_bounds_and_segments_equal_one_at_a_time() -> None:
    assert effective_n(100, 0.0) == 100
    assert effective_n(100, 0.8) == pytest.approx(100 * 0.2 / 1.8)
    assert effective_n(100, 0.9999) == 2.0
    assert effective_n(100, -0.5) == 100
    rng = np.random.default_rng(4)
    a_parts = [ar1(rng, n, 0.6) for n in (50, 3, 200, 2)]
    b_parts = [ar1(rng, n, 0.6) + 0.5 for n in (40, 30, 100, 1)]
    many = segment_effective_welch(
        np.concatenate(a_parts),
        np.cumsum([0, 50, 3, 200]),
        np.concatenate(b_parts),
        np.cumsum([0, 40, 30, 100]),
        mean_a=np.array([p.mean() for p in a_parts]),
        mean_b=np.array([p.mean() for p in b_parts]),
    )
    for i, (a, b) in enumerate(zip(a_parts, b_parts, strict=True)):
        one = effective_welch(a, b)
        assert many.n_eff_a[i] == pytest.approx(one.n_eff_a[0], abs=1e-9)
        assert many.r[i] == pytest.approx(one.r[0], abs=1e-12)
        assert many.test.pvalue[i] == pytest.approx(one.test.pvalue[0], nan_ok=True)
    assert np.isnan(many.test.pvalue[3])  # one window in range b: no variance, no test
