"""Temporal features: the calendar on the circle, lags and rolling statistics without look-ahead."""

from __future__ import annotations

import numpy as np
import pytest

from tsmon.features import CalendarFeatures, LagFeatures, calendar_encoding, lag_matrix, rolling_stats


def test_calendar_encoding_puts_midnight_next_to_23h59_and_monday_at_phase_zero() -> None:
    monday = 1_767_571_200.0  # 2026-01-05 00:00:00 UTC, a Monday
    enc = calendar_encoding([monday, monday - 60.0, monday + 6 * 3600.0])
    np.testing.assert_allclose(enc[0], [0.0, 1.0, 0.0, 1.0], atol=1e-12)
    assert np.linalg.norm(enc[0, :2] - enc[1, :2]) < 0.01  # 23:59 beside 00:00
    np.testing.assert_allclose(enc[2, :2], [1.0, 0.0], atol=1e-12)
    out = CalendarFeatures().fit_transform(np.array([[monday]]))
    assert out.shape == (1, 4) and next(iter(CalendarFeatures().get_feature_names_out())) == "hour_sin"


def test_lags_and_rolling_statistics_use_only_the_past() -> None:
    y = np.arange(10.0)
    lags = lag_matrix(y, [0, 2])
    np.testing.assert_array_equal(lags[:, 0], y)
    assert np.isnan(lags[:2, 1]).all() and lags[5, 1] == 3.0
    stats = rolling_stats(y, 3)
    assert np.isnan(stats[:2]).all()
    np.testing.assert_allclose(stats[4], [3.0, np.std([2.0, 3.0, 4.0]), 2.0, 4.0])
    changed = y.copy()
    changed[7:] = 100.0  # a change in the future leaves earlier rows alone
    before = LagFeatures(lags=(1, 2), windows=(3,)).fit_transform(y.reshape(-1, 1))
    after = LagFeatures(lags=(1, 2), windows=(3,)).fit_transform(changed.reshape(-1, 1))
    np.testing.assert_array_equal(before[:7], after[:7])
    assert (
        before.shape == (10, 6) and len(LagFeatures(lags=(1, 2), windows=(3,)).get_feature_names_out()) == 6
    )
    with pytest.raises(ValueError, match="lags"):
        lag_matrix(y, [-1])
