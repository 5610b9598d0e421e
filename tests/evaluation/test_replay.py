"""The replay follows the worker's decisions and is causal: a row's score never depends on later rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from tsmon.evaluation.nab_corpus import monotone
from tsmon.evaluation.replay import DetectorSpec, replay
from tsmon.scoring.policy import drift_check_due, retrain_reason, training_rows


def _series(n: int = 900) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    times = 1.4e9 + 300.0 * np.arange(n)
    values = 10 + np.sin(np.arange(n) / 40) + 0.3 * rng.standard_normal(n)
    return times, values


def test_changing_a_future_row_never_changes_earlier_scores() -> None:
    times, values = _series()
    base = replay(times, values, DetectorSpec("ensemble")).surprise
    changed = values.copy()
    changed[600] += 25.0
    after = replay(times, changed, DetectorSpec("ensemble")).surprise
    np.testing.assert_array_equal(after[:600], base[:600])
    assert after[600] > base[600] + 5


def test_follows_the_schedule_and_minimum_points() -> None:
    times, values = _series(900)  # 3 days and a bit at 5 minutes
    result = replay(times, values, DetectorSpec("mad"))
    assert result.surprise[:30].max() == 0.0  # no model before 30 training points
    assert result.trainings["initial"] == 1
    assert sum(result.trainings.values()) >= 3  # retrained at least daily


def test_policy_decisions() -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    assert retrain_reason(None, t0, timedelta(days=1)) == "initial"
    assert retrain_reason(t0, t0 + timedelta(hours=23), timedelta(days=1)) == ""
    assert retrain_reason(t0, t0 + timedelta(days=1), timedelta(days=1)) == "schedule"
    assert drift_check_due(t0 + timedelta(minutes=59), t0 + timedelta(minutes=60), timedelta(hours=1))
    assert not drift_check_due(t0, t0 + timedelta(minutes=5), timedelta(hours=1))
    t = np.arange(20.0)
    events = [(7.0, 9.0, False, "false_positive"), (12.0, None, True, "ignored")]
    kept = training_rows(t, 15.0, 10.0, events, keep_open=False)
    assert np.flatnonzero(kept).tolist() == [5, 6, 10, 11]
    kept_open = training_rows(t, 15.0, 10.0, events, keep_open=True)
    assert np.flatnonzero(kept_open).tolist() == [5, 6, 10, 11, 12, 13, 14]
    # Confirmed and unjudged events are the series' own history: they stay in training.
    judged = [(7.0, 9.0, False, "true_positive"), (12.0, None, True, None)]
    kept_judged = training_rows(t, 15.0, 10.0, judged, keep_open=False)
    assert np.flatnonzero(kept_judged).tolist() == list(range(5, 15))


def test_backwards_timestamps_are_held() -> None:
    np.testing.assert_array_equal(monotone(np.array([1.0, 5.0, 3.0, 6.0])), [1.0, 5.0, 5.0, 6.0])
