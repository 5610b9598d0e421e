"""Model selection: time-ordered folds that never train on the future, and the CV picks the right model."""

from __future__ import annotations

import itertools

import numpy as np

from tsmon.forecast import AutoForecaster, ExpandingWindowSplit, SeasonalNaive
from tsmon.forecast.base import FloatArray

PLANTED = 1e9


class RecordingNaive(SeasonalNaive):
    """A real seasonal naive that also keeps, per fit, the largest value it was trained on."""

    seen: list[tuple[int, float]] = []  # noqa: RUF012 (shared across clones on purpose)

    def _fit(self, values: FloatArray) -> None:
        RecordingNaive.seen.append((values.size, float(values.max())))


def test_folds_are_time_ordered_expanding_and_leave_the_gap_out() -> None:
    folds = list(ExpandingWindowSplit(4, horizon=5, gap=2).split(np.zeros(100)))
    assert len(folds) == 4
    for (train, _), (next_train, _) in itertools.pairwise(folds):
        assert train[0] == 0 and next_train.size > train.size  # expanding, from the start
    for train, test in folds:
        assert train[-1] + 2 + 1 == test[0] and test.size == 5
    assert folds[-1][1][-1] == 99


def test_no_fold_trains_on_a_value_planted_in_the_last_fold() -> None:
    rng = np.random.default_rng(1)
    y = np.tile(np.arange(24.0), 20) + rng.normal(0, 0.1, 480)
    auto = AutoForecaster(candidates={"recording": RecordingNaive(period=24)}, horizon=6, n_splits=4)
    # The last fold's test rows are known only once the splitter has run: plant in the middle of them.
    last_test = list(ExpandingWindowSplit(4, horizon=6).split(y))[-1][1]
    planted_at = int(last_test[3])
    y[planted_at] = PLANTED
    RecordingNaive.seen = []
    auto.fit(y)
    *cv_fits, final_fit = RecordingNaive.seen
    assert len(cv_fits) == 4
    for (size, largest), (_, stop, test_start, _) in zip(cv_fits, auto.folds_, strict=True):
        assert size == stop <= test_start <= planted_at  # each fold saw only the rows before its test
        assert largest < PLANTED
    assert final_fit == (y.size, PLANTED)  # only the refit on the whole series sees it


def test_cv_prefers_ets_on_a_noisy_season_and_naive_on_a_random_walk() -> None:
    t = 1_700_000_000.0 + 300.0 * np.arange(8 * 288)
    rng = np.random.default_rng(2)
    seasonal = 10 + 3 * np.sin(2 * np.pi * t / 86400) + rng.normal(0, 1.0, t.size)
    auto = AutoForecaster(horizon=12).fit(seasonal, timestamps=t)
    scores = {c.name: c.mase for c in auto.cv_results_}
    assert auto.best_name_ != "seasonal_naive" and scores[auto.best_name_] < scores["seasonal_naive"]
    f = auto.predict(12, level=0.95)
    assert np.all(f.lower <= f.upper)
    walk = np.cumsum(rng.normal(0, 1, 600))
    naive = AutoForecaster(
        candidates={"naive": SeasonalNaive(period=1), "season": SeasonalNaive(period=100)}, horizon=6
    ).fit(walk)
    assert naive.best_name_ == "naive"


def test_the_two_best_are_combined_when_their_average_scores_better() -> None:
    rng = np.random.default_rng(4)
    # Noise around a season: each seasonal naive lag carries its own noise, their mean halves it.
    y = np.tile(np.sin(np.arange(24) / 24 * 2 * np.pi), 30) + rng.normal(0, 0.3, 720)
    candidates = {"day": SeasonalNaive(period=24), "two_days": SeasonalNaive(period=48)}
    auto = AutoForecaster(candidates=candidates, horizon=6, n_splits=6).fit(y)
    scores = {c.name: c.mase for c in auto.cv_results_}
    assert auto.best_name_ in ("day+two_days", "two_days+day")
    assert scores[auto.best_name_] < min(scores["day"], scores["two_days"])
    assert len(auto.estimator_.members_) == 2 and auto.predict(6).yhat.shape == (6,)
    alone = AutoForecaster(candidates=candidates, horizon=6, n_splits=6, combine=False).fit(y)
    assert "+" not in alone.best_name_


def test_a_series_too_short_to_cross_validate_gets_the_baseline() -> None:
    auto = AutoForecaster(horizon=12).fit(np.arange(15.0))
    assert auto.best_name_ == "seasonal_naive" and auto.cv_results_ == [] and auto.folds_ == []
    assert auto.predict(3).yhat.tolist() == [14.0, 14.0, 14.0]
