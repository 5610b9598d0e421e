"""The change scores: volume by hand, KS2 as scipy, counters told from gauges, the co-anomaly boost."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from tsmon.stats.changes import co_anomaly_boost, counter_like, ks2, skip_reasons, volume
from tsmon.stats.minutes import change_inputs, minute_windows


def test_volume_is_the_mean_shift_in_baseline_deviations() -> None:
    rng = np.random.default_rng(1)
    base, win = rng.normal(10, 2, 240), rng.normal(13, 2, 60)
    res = volume(np.array([win.mean()]), np.array([base.mean()]), np.array([base.std(ddof=1)]))
    assert res.statistic[0] == pytest.approx(abs(win.mean() - base.mean()) / base.std(ddof=1), rel=1e-12)
    assert res.relative_delta[0] == pytest.approx((win.mean() - base.mean()) / base.mean())
    up = volume(np.array([13.0, 7.0]), np.array([10.0, 10.0]), np.array([1.0, 1.0]), alternative="greater")
    down = volume(np.array([13.0, 7.0]), np.array([10.0, 10.0]), np.array([1.0, 1.0]), alternative="less")
    assert up.statistic.tolist() == [3.0, 0.0] and down.statistic.tolist() == [0.0, 3.0]
    flat = volume(np.array([1.0]), np.array([0.0]), np.array([0.0]))  # a constant baseline: floored spread
    assert flat.statistic[0] == pytest.approx(1e6)
    with pytest.raises(ValueError, match="alternative"):
        volume(np.array([1.0]), np.array([0.0]), np.array([1.0]), alternative="both")  # type: ignore[arg-type]


def test_ks2_is_scipys() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, 30), rng.normal(0.8, 1, 120)
    for alternative in ("two-sided", "greater", "less"):
        ours, theirs = ks2(a, b, alternative=alternative), sps.ks_2samp(a, b, alternative=alternative)  # type: ignore[arg-type]
        assert (ours.statistic, ours.pvalue) == (theirs.statistic, theirs.pvalue)
    assert ks2(a, b).window_points == 30


def test_counters_gauges_and_skips() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(0, 3600, 15.0)
    counter = np.cumsum(rng.poisson(3, t.size)).astype(float)
    counter[100:] -= counter[100]  # one reset
    gauge = rng.normal(5, 1, t.size)
    rising = np.arange(t.size, dtype=float)  # a gauge that only rises counts as a counter: told by data alone
    ids = np.repeat([1, 2, 3], t.size)
    w = minute_windows(ids, np.tile(t, 3), np.concatenate([counter, gauge, rising]))
    inputs = change_inputs(w, 2400.0)
    assert inputs.counter.tolist() == [True, False, True]
    assert inputs.window_points.tolist() == [20, 20, 20] and inputs.baseline_points.tolist() == [40, 40, 40]
    # A counter's per-minute value is its increase: three steps of 1 inside each minute.
    assert inputs.window_mean[2] == pytest.approx(3.0) and inputs.baseline_stddev[2] == pytest.approx(0.0)
    reasons = skip_reasons(
        np.array([2, 20, 20]),
        np.array([40, 40, 40]),
        np.array([0.0, 1.0, 1.0]),
        np.array([1.0, 2.0, 1.0]),
        min_window=3,
        min_baseline=10,
    )
    assert reasons.tolist() == ["sparse", "", "constant"]
    assert counter_like(np.array([10]), np.array([3]), np.array([10]), np.array([1.0])).tolist() == [False]


def test_minute_windows_match_a_plain_loop() -> None:
    rng = np.random.default_rng(4)
    t = np.sort(rng.uniform(0, 600, 200))
    v = rng.normal(0, 1, 200)
    v[5] = np.nan
    w = minute_windows(np.ones(200, dtype=np.int64), t, v)
    for k, minute in enumerate(w.minute.tolist()):
        inside = (t >= minute) & (t < minute + 60) & ~np.isnan(v)
        x = v[inside]
        assert w.count[k] == x.size and w.mean[k] == pytest.approx(x.mean())
        steps = np.diff(x)
        assert w.increase[k] == pytest.approx(np.where(steps >= 0, steps, x[1:]).sum())
        assert (w.first[k], w.last[k]) == (x[0], x[-1])


def test_co_anomalies_are_ordered_by_onset_and_boosted() -> None:
    score, order = co_anomaly_boost(np.array([5.0, 1.0, 2.0, 3.0]), np.array([np.nan, 200.0, 100.0, 300.0]))
    assert order.tolist() == [0, 2, 1, 3]
    assert score.tolist() == [5.0, 2.0, 6.0, 6.0]
