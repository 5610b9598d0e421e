"""The drift test's statistics against scipy, its level under autocorrelation, and its power."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal, stats

from tsmon.detection.drift_test import (
    BlockMoments,
    Reference,
    block_means,
    drift_test,
    effective_size,
    lag1_autocorrelation,
    local_deviations,
    ttest_effective,
)


def ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    """A stationary AR(1) series of unit variance."""
    noise = rng.normal(0.0, math.sqrt(1 - phi**2), n)
    noise[0] = rng.normal()
    return np.asarray(signal.lfilter([1.0], [1.0, -phi], noise), dtype=np.float64)


def test_lag1_autocorrelation_is_the_textbook_estimate() -> None:
    x = np.random.default_rng(0).normal(size=500)
    d = x - x.mean()
    assert lag1_autocorrelation(x) == pytest.approx(np.sum(d[:-1] * d[1:]) / np.sum(d * d))
    assert lag1_autocorrelation(ar1(np.random.default_rng(1), 20_000, 0.7)) == pytest.approx(0.7, abs=0.02)
    assert lag1_autocorrelation(np.ones(10)) == 0.0 and lag1_autocorrelation([1.0, 2.0]) == 0.0


def test_effective_size_formula_and_bounds() -> None:
    assert effective_size(360, 0.5) == pytest.approx(360 * 0.5 / 1.5)
    assert effective_size(360, 0.0) == effective_size(360, -0.4) == 360  # negative r1 is not credited
    assert effective_size(360, 1.0) == 1.0  # never below one point
    assert effective_size(0.5, 0.9) == 0.5


def test_block_means_and_local_deviations() -> None:
    x = np.arange(10.0)
    assert block_means(x, 3).tolist() == [1.0, 4.0, 7.0]
    assert local_deviations(x, 4).tolist() == [1.5, 0.5, 0.5, 1.5, 1.5, 0.5, 0.5, 1.5, 0.5, 0.5]


@pytest.mark.parametrize("r1", [0.0, 0.3, 0.8])
def test_ttest_statistic_is_scipys_with_effective_sizes(r1: float) -> None:
    ref = BlockMoments(mean=0.1, block_sd=0.4, blocks=300, r1=r1, point_sd=1.0)
    result = ttest_effective(ref, recent_mean=0.5, recent_points=360, block=60)
    n_train, n_recent = effective_size(300, r1), effective_size(6, r1)
    expected = stats.ttest_ind_from_stats(0.5, 0.4, n_recent, 0.1, 0.4, n_train, equal_var=True)
    assert result.statistic == pytest.approx(expected.statistic)
    assert result.n_eff == pytest.approx((n_train, n_recent))
    assert result.df == pytest.approx(n_train - 1)  # the variance is the training blocks' alone
    assert result.pvalue == pytest.approx(2 * stats.t.sf(abs(expected.statistic), n_train - 1))


def test_location_part_is_scipys_t_on_the_samples_with_block_one() -> None:
    rng = np.random.default_rng(3)
    train, recent = rng.normal(0, 1, 2000), rng.normal(0.2, 1, 300)
    ref = Reference.of(train, block=1, window=300)
    result = drift_test(ref, recent)
    n_train = effective_size(2000, lag1_autocorrelation(train))
    n_recent = effective_size(300, lag1_autocorrelation(train))
    sd = float(np.std(train, ddof=1))
    expected = stats.ttest_ind_from_stats(recent.mean(), sd, n_recent, train.mean(), sd, n_train)
    assert result.location.statistic == pytest.approx(expected.statistic)
    assert result.shift == pytest.approx((recent.mean() - train.mean()) / sd)
    assert result.pvalue == pytest.approx(min(1.0, 2 * min(result.location.pvalue, result.spread.pvalue)))


def rejections(make: object, block: int, alpha: float = 0.01, runs: int = 200) -> float:
    rng = np.random.default_rng(11)
    hits = 0
    for _ in range(runs):
        x = make(rng)  # type: ignore[operator]
        ref = Reference.of(x[:-360], block=block, window=360)
        hits += drift_test(ref, x[-360:]).pvalue < alpha
    return hits / runs


def test_level_holds_under_ar1_only_with_the_correction() -> None:
    """AR(1) at 0.8: the corrected test rejects about alpha; counting every point would reject a third."""
    assert rejections(lambda rng: ar1(rng, 4680, 0.8), block=1) <= 0.03
    naive = 0
    rng = np.random.default_rng(11)
    for _ in range(200):
        x = ar1(rng, 4680, 0.8)
        naive += stats.ttest_ind(x[:-360], x[-360:]).pvalue < 0.01
    assert naive / 200 > 0.3


def test_blocks_keep_the_level_under_a_slow_cycle_the_lag1_of_points_misses() -> None:
    """Noise plus an unmodelled 2-day cycle of 0.4 sigma: points' r1 is ~0.1, yet 6-hour means wander."""

    def slow(rng: np.random.Generator) -> np.ndarray:
        t = np.arange(4680.0)
        return rng.normal(size=t.size) + 0.4 * np.sin(2 * np.pi * t / 2880 + rng.uniform(0, 2 * np.pi))

    assert rejections(slow, block=1) > 0.2
    assert rejections(slow, block=60) <= 0.03


def test_shift_and_spread_are_found_and_kept_apart() -> None:
    rng = np.random.default_rng(5)
    ref = Reference.of(rng.normal(size=4320), block=60, window=360)
    shifted = drift_test(ref, rng.normal(1.0, 1.0, 360))
    assert shifted.pvalue < 1e-6 and shifted.location.pvalue < 1e-6 and shifted.spread.pvalue > 0.01
    assert shifted.shift == pytest.approx(1.0, abs=0.15) and shifted.n_eff > 100
    wider = drift_test(ref, rng.normal(0.0, 2.0, 360))
    assert wider.pvalue < 1e-6 and wider.spread.pvalue < 1e-6 and wider.spread_ratio > 1.7
    same = drift_test(ref, rng.normal(size=360))
    assert same.pvalue > 1e-3


def test_reference_round_trips_and_refuses_too_little() -> None:
    ref = Reference.of(np.random.default_rng(2).normal(size=600), block=60)
    assert Reference.from_dict(ref.to_dict()) == ref and ref.window == 360
    with pytest.raises(ValueError, match="two blocks"):
        Reference.of(np.zeros(50), block=60)
    with pytest.raises(ValueError, match="empty"):
        drift_test(ref, [])
