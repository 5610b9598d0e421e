"""The forecaster contract: a scikit-learn estimator fitted on a series' past, forecasting with bands."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from tsmon.detection.seasonality import resolve_period

FloatArray = npt.NDArray[np.float64]
LEVELS = (0.8, 0.95)  # the bands every forecaster can give: 80% by default, 95% on request
# History kept for forecasting from: four weeks at 5 minutes bounds memory and refit cost.
MAX_HISTORY = 8064


@dataclass(frozen=True)
class Forecast:
    """``horizon`` steps after the last observation: the point forecast and a central band.

    ``times`` are epoch seconds (positions after the last one when fitted without timestamps);
    ``level`` is the band's nominal coverage, e.g. 0.8: ``lower`` and ``upper`` are the 10% and
    90% quantiles of the forecast distribution.
    """

    times: FloatArray
    yhat: FloatArray
    lower: FloatArray
    upper: FloatArray
    level: float


class BaseForecaster(BaseEstimator):  # type: ignore[misc]
    """Forecaster of one univariate, regularly spaced series.

    ``fit(y, timestamps=...)`` learns the model from ``y`` (values in time order, finite, one
    per step; resample irregular series first) and remembers its last ``max_history`` values as
    the state to forecast from.  ``update(y, timestamps=...)`` appends later observations and
    keeps the fitted parameters (what a batch job does between refits); ``predict(horizon)``
    forecasts the ``horizon`` steps after the last observation.  ``period`` is the season in
    steps: None finds it in the data (an hour, a day or a week when ``timestamps`` give the step,
    see :func:`tsmon.detection.seasonality.detect_period`), 0 or 1 means none.
    """

    period: int | None
    max_history: int

    def __init__(self, *, period: int | None = None, max_history: int = MAX_HISTORY) -> None:
        self.period = period
        self.max_history = max_history

    def fit(self, y: npt.ArrayLike, *, timestamps: npt.ArrayLike | None = None) -> Self:
        """Fit on the series ``y`` (epoch-second ``timestamps`` optional, evenly spaced)."""
        values = _check_values(y, minimum=3)
        t = _check_times(timestamps, values.size)
        self.step_ = float(np.median(np.diff(t))) if t is not None else 1.0
        if self.step_ <= 0:
            raise ValueError("timestamps must increase")
        self.time_based_ = t is not None
        self.last_time_ = float(t[-1]) if t is not None else float(values.size - 1)
        self.n_train_ = int(values.size)
        self.period_ = max(1, resolve_period(self.period, values, self.step_ if t is not None else None))
        self.history_ = values[-self._kept() :].copy()
        self._fit(values)
        return self

    def update(self, y: npt.ArrayLike, *, timestamps: npt.ArrayLike | None = None) -> Self:
        """Append observations made after the fitted ones; parameters stay as fitted."""
        check_is_fitted(self)
        values = _check_values(y, minimum=0)
        t = _check_times(timestamps, values.size)
        if values.size == 0:
            return self
        if t is not None and t[0] <= self.last_time_:
            raise ValueError("update() takes observations after the last one seen")
        self.history_ = np.concatenate([self.history_, values])[-self._kept() :]
        self.last_time_ = float(t[-1]) if t is not None else self.last_time_ + values.size * self.step_
        return self

    def predict(self, horizon: int, *, level: float = 0.8) -> Forecast:
        """Forecast ``horizon`` steps with a central band of nominal coverage ``level``."""
        check_is_fitted(self)
        if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
            raise ValueError(f"horizon must be a positive int, got {horizon!r}")
        if not 0.0 < level < 1.0:
            raise ValueError(f"level must be in (0, 1), got {level!r}")
        yhat, lower, upper = self._predict(int(horizon), float(level))
        times = self.last_time_ + self.step_ * np.arange(1, horizon + 1, dtype=np.float64)
        return Forecast(times, yhat, np.minimum(lower, yhat), np.maximum(upper, yhat), float(level))

    def _kept(self) -> int:
        # At least three seasons when the history allows: the seasonal models start from them.
        return max(self.max_history, 3 * self.period_ + 1)

    @abstractmethod
    def _fit(self, values: FloatArray) -> None:
        """Set the fitted parameters from the whole training series."""

    @abstractmethod
    def _predict(self, horizon: int, level: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(yhat, lower, upper)`` after ``self.history_``."""

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


def _check_values(y: npt.ArrayLike, *, minimum: int) -> FloatArray:
    values = np.asarray(y, dtype=np.float64).ravel()
    if values.size < minimum:
        raise ValueError(f"y needs at least {minimum} values, got {values.size}")
    if not np.all(np.isfinite(values)):
        raise ValueError("y must be finite (resample and fill gaps first)")
    return values


def _check_times(timestamps: npt.ArrayLike | None, n: int) -> FloatArray | None:
    if timestamps is None:
        return None
    t = np.asarray(timestamps)
    if np.issubdtype(t.dtype, np.datetime64):
        t = t.astype("datetime64[ns]").astype(np.int64) / 1e9
    t = np.asarray(t, dtype=np.float64).ravel()
    if t.size != n:
        raise ValueError(f"timestamps has {t.size} entries for {n} values")
    if not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
        raise ValueError("timestamps must be finite and increasing")
    return t
