"""The extreme-value detector: beyond the training range scores high once per episode."""

from __future__ import annotations

import numpy as np

from tsmon.detection import ExtremeDetector, GaussianDetector
from tsmon.detection.extreme import recent_max


def test_recent_max_looks_back_past_the_hold() -> None:
    s = np.array([1.0, 5, 2, 3, 7, 1])
    np.testing.assert_array_equal(recent_max(s, 3), [0, 1, 5, 5, 5, 7])
    np.testing.assert_array_equal(recent_max(s, 3, hold=1), [0, 0, 1, 5, 5, 3])


def _noise(n: int, seed: int = 0) -> np.ndarray:
    return 10.0 + np.random.default_rng(seed).standard_normal(n)


def test_a_shift_scores_at_its_onset_and_repeats_are_damped() -> None:
    x = _noise(1500)
    det = ExtremeDetector().fit(x[:1000])
    y = x[1000:].copy()
    y[200:] += 12.0  # a lasting shift
    scores = det.score_samples(y)
    assert scores[200] >= 0.9999
    assert np.mean(scores[201:260] >= 0.99) < 0.1  # the same news again: damped
    held = ExtremeDetector(hold=2).fit(x[:1000]).score_samples(y)
    assert np.all(held[200:203] >= 0.99)  # long enough for an event of two windows to open


def test_heavy_tailed_history_needs_a_larger_excursion() -> None:
    rng = np.random.default_rng(1)
    calm = 10.0 + rng.standard_normal(1000)
    wild = calm.copy()
    wild[::50] += 15.0  # bursts in the training window
    point = np.array([17.0])
    calm_s = ExtremeDetector(reach=4.0).fit(calm).surprise_samples(point)[0]
    wild_s = ExtremeDetector(reach=4.0).fit(wild).surprise_samples(point)[0]
    assert calm_s > 5 * wild_s
    plain = GaussianDetector().fit(wild).surprise_samples(point)[0]
    assert plain > wild_s


def test_seasonal_profile_is_removed() -> None:
    t = 1.7e9 + 300.0 * np.arange(4000)
    x = 10 * np.sin(2 * np.pi * t / 86400) + np.random.default_rng(2).standard_normal(t.size)
    det = ExtremeDetector(period=None).fit(x[:3000], timestamps=t[:3000])
    assert det.period_ == 288
    y = x[3000:].copy()
    y[500] += 8.0  # inside the daily range, far from this hour's value
    assert det.score_samples(y, timestamps=t[3000:])[500] >= 0.999
