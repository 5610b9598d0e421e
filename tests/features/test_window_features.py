"""Window features: statistics, spectrum, quality, selection, each checked on series of known shape."""

from __future__ import annotations

import numpy as np
import pytest

from tsmon.features import (
    FeatureSelector,
    QualityFeatures,
    SpectralFeatures,
    StatisticalFeatures,
    WindowFeatures,
    change_points,
    sliding_windows,
    theil_sen_slope,
)
from tsmon.features.statistical import NAMES

RNG = np.random.default_rng(7)


def test_statistics_of_a_known_window_and_robust_slope() -> None:
    w = np.r_[np.arange(20.0), np.nan]
    f = dict(zip(NAMES, StatisticalFeatures().fit_transform(w)[0], strict=True))
    assert f["mean"] == pytest.approx(9.5) and f["median"] == pytest.approx(9.5)
    assert f["min"] == 0 and f["max"] == 19 and f["iqr"] == pytest.approx(9.5)
    assert f["skew"] == pytest.approx(0.0, abs=1e-12) and f["kurtosis"] == pytest.approx(-1.206, abs=1e-3)
    assert f["slope"] == pytest.approx(1.0)
    spiky = 2.0 * np.arange(50.0)
    spiky[[5, 17, 33]] = 1e6  # three outliers move least squares a lot, Theil-Sen not at all
    assert theil_sen_slope(spiky) == pytest.approx(2.0)
    constant = StatisticalFeatures().fit_transform(np.ones((2, 10)))
    assert np.all(constant[:, NAMES.index("skew")] == 0) and np.all(constant[:, NAMES.index("std")] == 0)


def test_spectral_features_find_the_period_and_tell_noise_from_a_tone() -> None:
    n = 288 * 4
    tone = np.sin(2 * np.pi * np.arange(n) / 288) + RNG.normal(0, 0.1, n)
    noise = RNG.normal(0, 1, n)
    f = SpectralFeatures(n_periods=2).fit_transform(np.vstack([tone, noise]))
    assert f[0, 0] == pytest.approx(288.0) and f[0, 1] > 0.8
    assert f[0, -1] < 0.3 < 0.9 < f[1, -1]  # entropy: low for a tone, near 1 for white noise
    flat = SpectralFeatures().fit_transform(np.ones(50))
    assert flat[0].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]


def test_change_points_count_level_shifts_not_noise() -> None:
    levels = np.repeat([0.0, 4.0, -3.0, 1.0], 150) + RNG.normal(0, 1, 600)
    found = change_points(levels)
    assert len(found) == 3 and all(abs(a - b) <= 5 for a, b in zip(found, [150, 300, 450], strict=True))
    quiet = sum(len(change_points(RNG.normal(0, 1, 600))) for _ in range(20))
    assert quiet <= 3  # about 5% of pure-noise windows get a spurious shift
    w = levels.copy()
    w[:60] = np.nan
    assert QualityFeatures().fit_transform(w).tolist() == [[0.1, 3.0]]


def test_selection_drops_constants_and_keeps_informative_features() -> None:
    x = RNG.normal(size=(300, 4))
    features = np.column_stack([x, np.full(300, 2.0)])
    y = np.sin(3 * x[:, 1]) + 0.1 * RNG.normal(size=300)  # non-linear: correlation would miss it
    sel = FeatureSelector(k=1).fit(features, y)
    assert sel.support_.tolist() == [False, True, False, False, False]
    assert sel.transform(features).shape == (300, 1) and sel.scores_[4] == 0
    assert FeatureSelector().fit(features).support_.tolist() == [True, True, True, True, False]
    with pytest.raises(ValueError, match="5 columns"):
        sel.transform(features[:, :2])


def test_window_features_of_a_sliding_series() -> None:
    y = np.arange(1000.0)
    windows = sliding_windows(y, 200, 100)
    assert windows.shape == (9, 200) and windows[-1, -1] == 999 and windows[0, 0] == 0
    features = WindowFeatures().fit_transform(windows)
    assert features.shape == (9, len(WindowFeatures().get_feature_names_out()))
    with pytest.raises(ValueError, match="fewer than one window"):
        sliding_windows(y[:10], 20)
