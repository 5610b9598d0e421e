"""Period detection and the calibrators the scores are built on."""

from __future__ import annotations

import numpy as np
import pytest

from tests.detection.synthetic import DAY, SPACING, TRAIN, series
from tsmon.detection import SeasonalBaseline, TailCalibrator, UpperTailCalibrator, detect_period
from tsmon.detection.seasonality import resolve_period


def test_finds_the_daily_period_with_and_without_timestamps() -> None:
    _, x, _ = series()
    assert detect_period(x, SPACING) == DAY
    assert detect_period(x) == DAY


def test_prefers_a_week_when_weekends_differ() -> None:
    rng = np.random.default_rng(1)
    hours = np.arange(24 * 28)
    weekend = (hours // 24) % 7 >= 5
    x = np.sin(2 * np.pi * hours / 24) * 5 * np.where(weekend, 0.2, 1.0) + rng.standard_normal(hours.size)
    assert detect_period(x, 3600.0) == 168


def test_finds_an_arbitrary_period_without_timestamps() -> None:
    rng = np.random.default_rng(2)
    i = np.arange(3000)
    assert detect_period((i % 37 < 8) * 3.0 + rng.standard_normal(i.size)) == 37


@pytest.mark.parametrize("kind", ["noise", "random_walk", "constant", "short"])
def test_no_period_in_aperiodic_series(kind: str) -> None:
    rng = np.random.default_rng(3)
    x = {
        "noise": rng.standard_normal(2000),
        "random_walk": np.cumsum(rng.standard_normal(2000)),
        "constant": np.ones(500),
        "short": np.sin(np.arange(6.0)),
    }[kind]
    assert detect_period(x, None) == 0
    assert detect_period(x, 60.0) == 0


def test_period_param_overrides_detection() -> None:
    t, x, _ = series()
    assert SeasonalBaseline(period=0).fit(x[:TRAIN], timestamps=t[:TRAIN]).period_ == 0
    assert SeasonalBaseline(period=72).fit(x[:TRAIN]).period_ == 72
    assert resolve_period(1, x, None) == 0
    with pytest.raises(ValueError, match="period"):
        resolve_period(2.5, x, None)  # type: ignore[arg-type]


def test_weekly_profile_is_hour_of_week_shrunk_to_hour_of_day() -> None:
    hours = np.arange(24 * 21)
    t = 1_700_006_400.0 + 3600.0 * hours
    x = np.sin(2 * np.pi * hours / 24) * np.where((hours // 24) % 7 >= 5, 0.2, 1.0) * 5
    x = x + np.random.default_rng(4).normal(0, 0.3, hours.size)
    det = SeasonalBaseline().fit(x, timestamps=t)
    assert (det.period_, det.n_buckets_, det.n_coarse_) == (168, 168, 24)


def test_tail_calibrator_is_uniform_on_its_own_law() -> None:
    rng = np.random.default_rng(5)
    gauss = TailCalibrator.fit(rng.normal(3.0, 2.0, 5000))
    assert gauss.df is None
    assert gauss.center == pytest.approx(3.0, abs=0.15)
    assert np.mean(gauss.score(rng.normal(3.0, 2.0, 50_000)) >= 0.99) == pytest.approx(0.01, abs=0.003)
    heavy = TailCalibrator.fit(rng.standard_t(3, 5000))
    assert heavy.df is not None and heavy.df < 10
    assert np.mean(heavy.score(rng.standard_t(3, 50_000)) >= 0.99) == pytest.approx(0.01, abs=0.004)
    for level in (0.9, 0.99, 0.999):
        edge = np.array([gauss.center + gauss.halfwidth(level)])
        assert gauss.score(edge)[0] == pytest.approx(level)


def test_upper_tail_calibrator() -> None:
    rng = np.random.default_rng(6)
    cal = UpperTailCalibrator.fit(rng.exponential(1.0, 5000))
    grid = np.linspace(-1, 20, 500)
    scores = cal.score(grid)
    assert np.all(np.diff(scores) >= 0)
    assert scores[0] == 0.0
    assert scores[-1] <= 1.0
    assert np.mean(cal.score(rng.exponential(1.0, 50_000)) >= 0.99) == pytest.approx(0.01, abs=0.003)
    assert cal.score(np.array([np.nan]))[0] == 0.0
