"""Detector behaviour on synthetic series: injected anomalies, false positives, calibration, bands."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from tests.detection.synthetic import KINDS, TRAIN, WINDOWS, detector, inject, series
from tsmon.detection import DETECTORS, BaseDetector, EWMADetector, LevelShiftDetector, make_detector
from tsmon.detection.ewma import holt_winters

NAMES = sorted(DETECTORS)
ALL = KINDS
# What each detector is claimed to catch, on the daily-cycle series and on a non-seasonal one.
CLAIMS: dict[str, dict[bool, tuple[str, ...]]] = {
    "seasonal": {True: ALL, False: ("spike", "level_shift", "trend_change")},
    "ewma": {True: ALL, False: ("spike", "level_shift", "trend_change")},
    "quantile": {False: ("spike", "level_shift")},
    "mad": {False: ("spike", "level_shift", "trend_change")},
    "gaussian": {False: ("spike", "level_shift")},
    "extreme": {True: ("spike",), False: ("spike", "level_shift")},
    "onset": {True: ("spike", "level_shift"), False: ("spike", "level_shift")},
    "level_shift": {True: ("level_shift", "trend_change"), False: ("level_shift", "trend_change")},
    "iforest": {True: ("spike",), False: ("spike",)},
    "lof": {True: ("spike", "seasonal_break", "flat_line"), False: ("spike", "level_shift", "flat_line")},
    "ensemble": {True: ALL, False: ("spike", "level_shift", "trend_change")},
}
CASES = [
    (name, seasonal, kind) for name, by in CLAIMS.items() for seasonal, kinds in by.items() for kind in kinds
]


@cache
def fitted(name: str, seasonal: bool) -> BaseDetector:
    t, x, _ = series(seasonal=seasonal)
    return detector(name).fit(x[:TRAIN], timestamps=t[:TRAIN])


@pytest.mark.parametrize(("name", "seasonal", "kind"), CASES)
def test_flags_injected_anomaly(name: str, seasonal: bool, kind: str) -> None:
    t, x, signal = series(seasonal=seasonal)
    y = inject(kind, x, signal)
    scores = fitted(name, seasonal).score_samples(y[TRAIN:], timestamps=t[TRAIN:])
    start, length = WINDOWS[kind]
    assert scores[start : start + length].max() >= 0.99
    # Nothing flagged well before the anomaly starts.
    assert np.mean(scores[: start - 60] >= 0.99) < 0.02


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seasonal", [True, False])
def test_few_false_positives_on_clean_series(name: str, seasonal: bool) -> None:
    # Scores are calibrated, so about 1% of clean points score >= 0.99 by design; 2% allows sampling.
    t, x, _ = series(seasonal=seasonal)
    scores = fitted(name, seasonal).score_samples(x[TRAIN:], timestamps=t[TRAIN:])
    assert np.all((scores >= 0) & (scores <= 1))
    assert np.mean(scores >= 0.99) < 0.02


@pytest.mark.parametrize("name", NAMES)
def test_calibrated_on_gaussian_noise(name: str) -> None:
    x = np.random.default_rng(7).standard_normal(8000)
    det = detector(name).fit(x[:3000])
    rate = float(np.mean(det.score_samples(x[3000:]) >= 0.99))
    assert 0.004 <= rate <= 0.02, rate


@pytest.mark.parametrize("name", NAMES)
def test_predict_is_score_at_threshold(name: str) -> None:
    t, x, signal = series(seasonal=False)
    y = inject("spike", x, signal)[TRAIN:]
    det = fitted(name, False)
    scores = det.score_samples(y, timestamps=t[TRAIN:])
    np.testing.assert_array_equal(det.predict(y, timestamps=t[TRAIN:]), (scores >= 0.99).astype(int))
    loose = detector(name).set_params(threshold=0.9).fit(x[:TRAIN], timestamps=t[:TRAIN])
    assert loose.predict(y, timestamps=t[TRAIN:]).sum() > det.predict(y, timestamps=t[TRAIN:]).sum()


# level_shift bounds a trailing median, not the value; onset's shift part flags steps inside the
# point band by design (its docstring): both are tested on their own.
@pytest.mark.parametrize("name", [n for n in NAMES if n not in ("level_shift", "onset")])
@pytest.mark.parametrize("seasonal", [True, False])
def test_points_outside_bands_are_the_flagged_ones(name: str, seasonal: bool) -> None:
    t, x, signal = series(seasonal=seasonal)
    y = inject("spike", x, signal)[TRAIN:]
    det = fitted(name, seasonal)
    expected, lower, upper = det.predict_bands(y, timestamps=t[TRAIN:])
    assert np.all((lower <= expected) & (expected <= upper))
    outside = (y < lower) | (y > upper)
    flagged = det.predict(y, timestamps=t[TRAIN:]).astype(bool)
    assert outside[WINDOWS["spike"][0]] or "spike" not in CLAIMS[name].get(seasonal, ())
    assert np.sum(outside != flagged) <= 3  # forest and LOF bands are searched on a grid


def test_level_shift_bands_bound_the_trailing_median() -> None:
    t, x, signal = series(seasonal=False)
    y = inject("level_shift", x, signal)[TRAIN:]
    det = LevelShiftDetector(window=20, period=0).fit(x[:TRAIN], timestamps=t[:TRAIN])
    expected, lower, upper = det.predict_bands(y, timestamps=t[TRAIN:])
    full = np.concatenate((x[TRAIN - 19 : TRAIN], y))
    trailing = np.median(np.lib.stride_tricks.sliding_window_view(full, 20), axis=1)
    outside = (trailing < lower) | (trailing > upper)
    np.testing.assert_array_equal(outside, det.predict(y, timestamps=t[TRAIN:]).astype(bool))
    assert np.all((lower <= expected) & (expected <= upper))


@pytest.mark.parametrize("name", NAMES)
def test_bands_widen_with_noise(name: str) -> None:
    widths = []
    for noise in (1.0, 3.0):
        t, x, _ = series(seasonal=False, noise=noise)
        det = detector(name).fit(x[:TRAIN], timestamps=t[:TRAIN])
        _, lower, upper = det.predict_bands(x[TRAIN : TRAIN + 300], timestamps=t[TRAIN : TRAIN + 300])
        widths.append(float(np.median(upper - lower)))
    assert widths[1] > 2.0 * widths[0]


def test_timestamps_contract() -> None:
    t, x, _ = series()
    det = make_detector("seasonal").fit(x[:TRAIN], timestamps=t[:TRAIN])
    # Without timestamps the rows continue the training window evenly spaced.
    np.testing.assert_array_equal(
        det.score_samples(x[TRAIN:]), det.score_samples(x[TRAIN:], timestamps=t[TRAIN:])
    )
    as_datetimes = (t[TRAIN:] * 1e9).astype("datetime64[ns]")
    np.testing.assert_array_equal(
        det.score_samples(x[TRAIN:], timestamps=as_datetimes),
        det.score_samples(x[TRAIN:], timestamps=t[TRAIN:]),
    )
    with pytest.raises(ValueError, match="entries"):
        det.score_samples(x[TRAIN:], timestamps=t[:10])
    with pytest.raises(ValueError, match="time order"):
        det.score_samples(x[TRAIN:], timestamps=t[TRAIN:][::-1])
    untimed = make_detector("seasonal").fit(x[:TRAIN])
    with pytest.raises(ValueError, match="without timestamps"):
        untimed.score_samples(x[TRAIN:], timestamps=t[TRAIN:])


def test_value_is_the_last_column() -> None:
    t, x, _ = series()
    wide = np.column_stack((np.zeros_like(x), x))
    a = make_detector("ewma").fit(wide[:TRAIN], timestamps=t[:TRAIN])
    b = make_detector("ewma").fit(x[:TRAIN], timestamps=t[:TRAIN])
    np.testing.assert_array_equal(
        a.score_samples(wide[TRAIN:], timestamps=t[TRAIN:]), b.score_samples(x[TRAIN:], timestamps=t[TRAIN:])
    )


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("mad", {"threshold": 1.0}),
        ("quantile", {"window": 2}),
        ("level_shift", {"window": 1}),
        ("ewma", {"alpha": 0.0}),
        ("ewma", {"gamma": 1.5}),
        ("seasonal", {"period": -1}),
        ("ensemble", {"detectors": []}),
    ],
)
def test_invalid_params_raise_at_fit(name: str, params: dict[str, object]) -> None:
    det = make_detector(name, **params)
    with pytest.raises(ValueError, match=r"threshold|window|alpha|gamma|period|detectors"):
        det.fit(np.random.default_rng(0).standard_normal(200))


def test_holt_winters_matches_the_plain_recursion() -> None:
    rng = np.random.default_rng(3)
    period, n = 12, 500
    y = np.sin(2 * np.pi * np.arange(n) / period) * 4 + rng.standard_normal(n)
    y[[100, 250]] += 30.0
    k = np.arange(n)
    k[300:] += 7  # a gap: the state holds over missing steps
    season0 = rng.standard_normal(period)
    fc, level, season = holt_winters(y, k, level=0.5, season=season0, alpha=0.3, gamma=0.2, clip=2.5)
    ref_level, ref_season, ref_fc = 0.5, season0.copy(), np.empty(n)
    for i in range(n):
        ph = k[i] % period
        ref_fc[i] = ref_level + ref_season[ph]
        err = float(np.clip(y[i] - ref_fc[i], -2.5, 2.5))
        ref_level += 0.3 * err
        ref_season[ph] += 0.2 * err
    np.testing.assert_allclose(fc, ref_fc, atol=1e-9)
    np.testing.assert_allclose(season, ref_season, atol=1e-9)
    assert level == pytest.approx(ref_level)


def test_ewma_continues_from_the_end_of_training() -> None:
    x = np.concatenate((np.zeros(300), np.full(300, 10.0))) + np.random.default_rng(0).normal(0, 0.1, 600)
    det = EWMADetector(period=0, alpha=0.5).fit(x)
    expected, _, _ = det.predict_bands(np.full(5, 10.0))
    np.testing.assert_allclose(expected, 10.0, atol=0.2)
