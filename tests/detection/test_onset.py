"""The onset detector: spikes and level shifts, inside the usual range too, once per episode."""

from __future__ import annotations

import numpy as np
import pytest

from tsmon.detection import ExtremeDetector, OnsetDetector
from tsmon.detection.onset import median_shift


def test_median_shift_compares_adjacent_windows() -> None:
    z = np.array([0.0, 0, 0, 5, 5, 5, 5])
    np.testing.assert_array_equal(median_shift(z, 2), [0, 0, 0, 2.5, 5, 2.5, 0])
    np.testing.assert_array_equal(median_shift(z[:3], 2), [0, 0, 0])  # too short: no evidence


def _bursty(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = 10.0 + rng.standard_normal(n)
    x[rng.choice(n, n // 100, replace=False)] += rng.choice([-6.0, 6.0], n // 100)  # lone bursts
    return x


def test_a_shift_inside_the_range_of_single_points_scores_once() -> None:
    x = _bursty(3000)
    y = x[2000:].copy()
    y[500:] += 3.0  # a lasting step, smaller than the bursts already seen
    onset = OnsetDetector().fit(x[:2000]).score_samples(y)
    extreme = ExtremeDetector(reach=5.0).fit(x[:2000]).score_samples(y)
    assert onset[500:512].max() >= 0.9999
    assert extreme[500:512].max() < 0.999  # the point statistic alone barely sees it
    # The first alarm while the medians move (the first 2 * shift rows), and a few at most in the
    # hour the step lasts (a noisy row on top of the step is a new extreme for the point statistic).
    flagged = np.flatnonzero(onset[500:560] >= 0.99)
    assert flagged.size and flagged.min() < 12 and flagged.size <= 4
    assert np.mean(onset[:500] >= 0.99) < 0.02


def test_lone_bursts_like_the_training_ones_do_not_move_the_medians() -> None:
    x = _bursty(4000, seed=1)
    onset = OnsetDetector().fit(x[:2000]).score_samples(x[2000:])
    extreme = ExtremeDetector(reach=5.0).fit(x[:2000]).score_samples(x[2000:])
    # Bursts as large as the training's own are the point statistic's alarms (15 of 2000 rows
    # here); the shift statistic adds few (4).
    assert np.sum(onset >= 0.999) <= np.sum(extreme >= 0.999) + 5


def test_params_are_checked_and_state_round_trips() -> None:
    from tsmon.detection import from_state, to_state

    x = _bursty(500)
    with pytest.raises(ValueError, match="window must be an int"):
        OnsetDetector(shift=0).fit(x)
    det = OnsetDetector(shift=4).fit(x)
    again = from_state(to_state(det))
    np.testing.assert_array_equal(again.score_samples(x[-100:]), det.score_samples(x[-100:]))
