"""Gradient boosting on lag and calendar features, one quantile model per band edge."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import HistGradientBoostingRegressor

from tsmon.features.temporal import calendar_encoding
from tsmon.forecast.base import LEVELS, MAX_HISTORY, BaseForecaster, FloatArray

IntArray = npt.NDArray[np.int64]


class GradientBoosting(BaseForecaster):
    """Direct multi-step forecaster: ``y[o + h - 1]`` from the ``n_lags`` values before origin ``o``.

    One model serves every step ``h <= horizon``: a training row is an origin ``o`` and a step
    ``h`` (cycling over the origins), with features the last ``n_lags`` values before ``o``
    relative to their mean, their spread, ``h``, the value one season before the target (when
    it is known at ``o``) and the target's hour of day and day of week (sin/cos, see
    :mod:`tsmon.features.temporal`); the target is relative to the same mean, so a level
    the trees never saw is still forecast.  The point forecast is the median (quantile loss at
    0.5); each band edge of ``levels`` is its own quantile model (loss ``quantile`` at
    ``(1 - level) / 2`` and ``(1 + level) / 2``), so the band follows the data's own asymmetry
    and heavy tails rather than a Gaussian.  Assumes the recent past and the calendar say what
    comes next; a level shift is followed but not predicted.

    Why scikit-learn's ``HistGradientBoostingRegressor`` and not xgboost or lightgbm: the worker
    runs on CPUs, fits one small model per series (a few thousand rows, a dozen features), where
    the histogram algorithm of scikit-learn (LightGBM's own design) is as fast, supports the
    quantile loss and missing values, and adds no dependency beyond scikit-learn.

    Parameters
    ----------
    horizon : int, default=12
        Most steps ahead the model forecasts.
    n_lags : int, default=12
        Values before the origin used as features.
    max_iter, learning_rate, max_leaf_nodes : default 60, 0.1, 15
        ``HistGradientBoostingRegressor``'s; small trees, as the rows are few.
    levels : tuple of float, default=(0.8, 0.95)
        Bands fitted (each costs two models); ``()`` fits the point forecast only (CV does), whose
        band is then the point itself.
    max_rows : int, default=3000
        Most recent training rows used.
    period, max_history
        As in :class:`tsmon.forecast.base.BaseForecaster`.

    Attributes
    ----------
    models_ : dict of float to HistGradientBoostingRegressor
        Quantile -> fitted model (0.5 always).
    period_, history_, step_, last_time_, n_train_, time_based_
        As in every forecaster.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(2000) * 300.0
    >>> y = np.sin(2 * np.pi * t / 86400) + np.random.default_rng(0).normal(0, 0.05, t.size)
    >>> f = GradientBoosting(horizon=6, levels=(0.8,)).fit(y, timestamps=t).predict(6)
    >>> bool(np.all(f.lower <= f.upper))
    True
    """

    def __init__(
        self,
        *,
        horizon: int = 12,
        n_lags: int = 12,
        max_iter: int = 60,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 15,
        levels: tuple[float, ...] = LEVELS,
        max_rows: int = 3000,
        period: int | None = None,
        max_history: int = MAX_HISTORY,
    ) -> None:
        super().__init__(period=period, max_history=max_history)
        self.horizon = horizon
        self.n_lags = n_lags
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.levels = levels
        self.max_rows = max_rows

    def _rows(self, y: FloatArray, origins: IntArray, steps: IntArray, t_first: float) -> FloatArray:
        """Feature rows for (origin, step) pairs; ``t_first`` is the time of ``y[0]``."""
        lags = y[origins[:, None] - np.arange(1, self.n_lags + 1)[None, :]]
        level = lags.mean(axis=1, keepdims=True)
        target = origins + steps - 1
        s = self.period_
        # 0 (the level itself) where no season is known: an all-missing column breaks the binning.
        seasonal = np.zeros(origins.size)
        if s >= 2:
            back = target - s * np.ceil(steps / s).astype(np.int64)
            ok = back >= 0
            seasonal[ok] = y[back[ok]] - level[ok, 0]
        columns = [lags - level, lags.std(axis=1, keepdims=True), steps[:, None], seasonal[:, None]]
        if self.time_based_:
            columns.append(calendar_encoding(t_first + self.step_ * target))
        return np.column_stack(columns)

    def _quantiles(self) -> list[float]:
        for level in self.levels:
            if not 0.0 < level < 1.0:
                raise ValueError(f"levels must be in (0, 1), got {level!r}")
        return [0.5] + [q for level in self.levels for q in ((1 - level) / 2, (1 + level) / 2)]

    def _fit(self, values: FloatArray) -> None:
        if self.horizon < 1 or self.n_lags < 1:
            raise ValueError(f"horizon and n_lags must be positive, got {self.horizon}, {self.n_lags}")
        y = values[-self.max_history :]
        t_first = self.last_time_ - self.step_ * (y.size - 1)
        origins = np.arange(self.n_lags, y.size)
        steps = 1 + np.mod(origins, self.horizon)
        keep = origins + steps - 1 < y.size
        origins, steps = origins[keep][-self.max_rows :], steps[keep][-self.max_rows :]
        if origins.size < 20:
            raise ValueError(f"y needs at least {self.n_lags + 20} values for n_lags={self.n_lags}")
        X = self._rows(y, origins, steps, t_first)  # noqa: N806 (scikit-learn's name)
        target = y[origins + steps - 1] - y[origins[:, None] - np.arange(1, self.n_lags + 1)[None, :]].mean(1)
        self.models_ = {
            q: HistGradientBoostingRegressor(
                loss="quantile",
                quantile=q,
                max_iter=self.max_iter,
                learning_rate=self.learning_rate,
                max_leaf_nodes=self.max_leaf_nodes,
                max_bins=64,
                early_stopping=False,
                random_state=0,
            ).fit(X, target)
            for q in self._quantiles()
        }

    def _predict(self, horizon: int, level: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        if horizon > self.horizon:
            raise ValueError(f"fitted for a horizon of {self.horizon} steps, asked for {horizon}")
        lo_q, hi_q = (1 - level) / 2, (1 + level) / 2
        if not self.levels:
            lo_q = hi_q = 0.5  # the point forecast only (as CV fits it): a band of width zero
        elif lo_q not in self.models_:
            fitted = sorted(round(2 * q - 1, 6) for q in self.models_ if q > 0.5)
            raise ValueError(f"no {level} band fitted (levels: {fitted}); refit with levels=({level},)")
        history = self.history_
        if history.size <= self.n_lags:
            history = np.concatenate([np.full(self.n_lags + 1 - history.size, history[0]), history])
        steps = np.arange(1, horizon + 1)
        origins = np.full(horizon, history.size)
        t_first = self.last_time_ - self.step_ * (history.size - 1)
        X = self._rows(history, origins, steps, t_first)  # noqa: N806
        level_now = history[-self.n_lags :].mean()
        yhat, lower, upper = (level_now + self.models_[q].predict(X) for q in (0.5, lo_q, hi_q))
        return yhat, lower, upper
