"""Model selection per series: expanding-window rolling-origin CV over a small grid, scored by MASE."""

# scikit-learn spells the data matrix X.
# ruff: noqa: N803

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.base import clone

from tsmon.forecast.base import LEVELS, MAX_HISTORY, BaseForecaster, FloatArray, _check_times, _check_values
from tsmon.forecast.boosting import GradientBoosting
from tsmon.forecast.combination import Combination
from tsmon.forecast.ets import ExponentialSmoothing
from tsmon.forecast.metrics import mase, mase_scale
from tsmon.forecast.naive import SeasonalNaive

IntArray = npt.NDArray[np.int64]


class ExpandingWindowSplit:
    """Rolling-origin folds: train on everything before an origin, test on the ``horizon`` after it.

    Origins are spread evenly over the last ``fraction`` of the series, never shuffled; ``gap``
    steps between the training end and the test start are left out (a model that needs
    ``gap`` steps of delay sees none of them).  Like ``sklearn.model_selection.TimeSeriesSplit``
    with ``test_size=horizon``, but the test blocks are spaced out rather than adjacent, so a
    few folds sample different days rather than one afternoon.

    Examples
    --------
    >>> folds = ExpandingWindowSplit(2, horizon=3).split(range(20))
    >>> [(int(tr[-1]), int(te[0]), int(te[-1])) for tr, te in folds]
    [(9, 10, 12), (16, 17, 19)]
    """

    def __init__(self, n_splits: int = 4, *, horizon: int = 12, gap: int = 0, fraction: float = 0.5) -> None:
        if n_splits < 1 or horizon < 1 or gap < 0 or not 0.0 < fraction < 1.0:
            raise ValueError("n_splits and horizon must be positive, gap >= 0, fraction in (0, 1)")
        self.n_splits, self.horizon, self.gap, self.fraction = n_splits, horizon, gap, fraction

    def get_n_splits(self, X: object = None, y: object = None, groups: object = None) -> int:
        return self.n_splits

    def split(
        self, X: Sequence[object] | npt.ArrayLike, y: object = None, groups: object = None
    ) -> Iterator[tuple[IntArray, IntArray]]:
        n = len(X)  # type: ignore[arg-type]
        last = n - self.horizon  # the last test block ends at the series' end
        first = max(self.gap + 1, round(n * (1.0 - self.fraction)))
        if last < first:
            raise ValueError(f"{n} values are too few for {self.n_splits} folds of {self.horizon}")
        for start in np.unique(np.linspace(first, last, self.n_splits).round().astype(np.int64)):
            yield np.arange(0, start - self.gap), np.arange(start, start + self.horizon)


@dataclass(frozen=True)
class CandidateScore:
    """One candidate's cross-validated MASE per fold (inf when it could not fit a fold)."""

    name: str
    params: dict[str, object]
    fold_mase: tuple[float, ...]

    @property
    def mase(self) -> float:
        return float(np.mean(self.fold_mase))


def default_candidates(horizon: int) -> dict[str, BaseForecaster]:
    """The grid: the baseline, ETS with and without a damped trend, two gradient-boosting settings."""
    return {
        "seasonal_naive": SeasonalNaive(),
        "ets": ExponentialSmoothing(),
        "ets_damped": ExponentialSmoothing(trend="add"),
        "gbm": GradientBoosting(horizon=horizon),
        "gbm_long": GradientBoosting(horizon=horizon, n_lags=48, max_leaf_nodes=31),
    }


class AutoForecaster(BaseForecaster):
    """The candidate with the lowest rolling-origin MASE on this series, refitted on all of it.

    Each candidate is fitted on every fold's past (expanding window) and forecasts the fold's
    ``horizon``; its score is MASE, the fold's mean absolute error over the in-sample seasonal
    naive error of the fold's training part, averaged over the folds.  A plain grid rather than
    successive halving or a Bayesian search: five candidates times four folds is twenty small
    fits, fewer than either search's first rung would spend, and each fold is equally cheap.
    Candidates are fitted without bands during the CV (only the point forecast is scored), with
    the season found once on the whole series so every fold compares the same models.

    Parameters
    ----------
    candidates : dict of str to forecaster or None, default=None
        Name -> unfitted forecaster; None is :func:`default_candidates`.
    horizon : int, default=12
        Steps forecast in each fold (and the gradient-boosting candidates' horizon).
    n_splits, gap : int, default=4, 0
        Folds, and steps left out between each fold's training end and its test start.
    levels : tuple of float, default=(0.8, 0.95)
        Bands fitted in the final refit.
    combine : bool, default=True
        Also score the average of the two best candidates (:class:`Combination`), from their CV
        forecasts, and choose it when it scores better.
    period, max_history
        As in :class:`tsmon.forecast.base.BaseForecaster`.

    Attributes
    ----------
    cv_results_ : list of CandidateScore
        Every candidate's fold scores.
    folds_ : list of tuple of int
        ``(train_start, train_stop, test_start, test_stop)`` row ranges of each fold.
    best_name_ : str
        The chosen candidate ("seasonal_naive", with no CV, when the series is too short for
        the folds).
    estimator_ : forecaster
        The chosen candidate fitted on the whole series.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.tile(np.arange(24.0), 20) + np.random.default_rng(0).normal(0, 0.1, 480)
    >>> AutoForecaster(candidates={"naive": SeasonalNaive(period=1), "seasonal": SeasonalNaive(period=24)},
    ...                horizon=6).fit(y).best_name_
    'seasonal'
    """

    def __init__(
        self,
        *,
        candidates: dict[str, BaseForecaster] | None = None,
        horizon: int = 12,
        n_splits: int = 4,
        gap: int = 0,
        levels: tuple[float, ...] = LEVELS,
        combine: bool = True,
        period: int | None = None,
        max_history: int = MAX_HISTORY,
    ) -> None:
        super().__init__(period=period, max_history=max_history)
        self.candidates = candidates
        self.horizon = horizon
        self.n_splits = n_splits
        self.gap = gap
        self.levels = levels
        self.combine = combine

    def fit(self, y: npt.ArrayLike, *, timestamps: npt.ArrayLike | None = None) -> AutoForecaster:
        values = _check_values(y, minimum=3)
        t = _check_times(timestamps, values.size)
        super().fit(values, timestamps=t)
        candidates = (
            self.candidates if self.candidates is not None else default_candidates(self.horizon + self.gap)
        )
        splitter = ExpandingWindowSplit(self.n_splits, horizon=self.horizon, gap=self.gap)
        try:
            folds = list(splitter.split(values))
        except ValueError:  # too short to cross-validate: the baseline, which needs no fitting
            folds = []
        if not folds:
            self.folds_, self.cv_results_, self.best_name_ = [], [], "seasonal_naive"
            self.estimator_ = SeasonalNaive(period=self.period_).fit(values, timestamps=t)
            return self
        self.folds_ = [(int(tr[0]), int(tr[-1]) + 1, int(te[0]), int(te[-1]) + 1) for tr, te in folds]
        scored = {name: self._score(name, est, values, t, folds) for name, est in candidates.items()}
        self.cv_results_ = [score for score, _ in scored.values()]
        finite = sorted((c for c in self.cv_results_ if np.isfinite(c.mase)), key=lambda c: c.mase)
        if self.combine and len(finite) >= 2:
            # The two best, averaged fold by fold: scored from their CV forecasts, no refits.
            a, b = finite[0].name, finite[1].name
            pair = zip(scored[a][1], scored[b][1], folds, strict=True)
            fold_mase = tuple(
                mase(values[test], (ya + yb) / 2, mase_scale(values[train], self.period_))
                for ya, yb, (train, test) in pair
            )
            self.cv_results_.append(CandidateScore(f"{a}+{b}", {"members": [a, b]}, fold_mase))
        best = min(self.cv_results_, key=lambda c: c.mase)
        self.best_name_ = best.name
        if best.name in candidates:
            self.estimator_ = self._configured(candidates[best.name], bands=True)
        else:
            members = [self._configured(candidates[name], bands=True) for name in best.name.split("+")]
            self.estimator_ = Combination(members, period=self.period_, max_history=self.max_history)
        self.estimator_.fit(values, timestamps=t)
        return self

    def _configured(self, estimator: BaseForecaster, *, bands: bool) -> BaseForecaster:
        est: BaseForecaster = clone(estimator)
        params = est.get_params()
        if params.get("period", 0) is None:
            est.set_params(period=self.period_)
        if "levels" in params:
            est.set_params(levels=self.levels if bands else ())
        return est

    def _score(
        self,
        name: str,
        estimator: BaseForecaster,
        values: FloatArray,
        t: FloatArray | None,
        folds: list[tuple[IntArray, IntArray]],
    ) -> tuple[CandidateScore, list[FloatArray]]:
        scores, forecasts = [], []
        for train, test in folds:
            try:
                est = self._configured(estimator, bands=False)
                est.fit(values[train], timestamps=None if t is None else t[train])
                # The model's forecast starts right after its training data, ``gap`` steps before the test.
                yhat = est.predict(self.gap + test.size).yhat[self.gap :]
            except (ValueError, np.linalg.LinAlgError):
                scores.append(float("inf"))  # cannot fit this fold: never chosen over one that can
                continue
            scale = mase_scale(values[train], self.period_)
            scores.append(mase(values[test], yhat, scale))
            forecasts.append(yhat)
        return CandidateScore(name, clone(estimator).get_params(deep=False), tuple(scores)), forecasts

    def update(self, y: npt.ArrayLike, *, timestamps: npt.ArrayLike | None = None) -> AutoForecaster:
        super().update(y, timestamps=timestamps)
        self.estimator_.update(y, timestamps=timestamps)
        return self

    def _fit(self, values: FloatArray) -> None:
        pass  # fit() above does the work: it needs the timestamps too

    def _predict(self, horizon: int, level: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        f = self.estimator_.predict(horizon, level=level)
        return f.yhat, f.lower, f.upper
