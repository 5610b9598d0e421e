"""Seasonal naive: tomorrow is today again, the baseline every forecaster is measured against."""

from __future__ import annotations

import numpy as np

from tsmon.forecast.base import BaseForecaster, FloatArray


class SeasonalNaive(BaseForecaster):
    """Forecast each step with the value one season earlier; the band from past seasonal changes.

    The step ``h`` ahead is ``y[n - k + h]`` with ``k = s * ceil(h / s)`` for the season ``s``
    (``period_``; 1 without a season, which is the plain naive "last value" forecast).  Its band
    is the empirical quantiles of the same ``k``-step changes over the history: no distribution
    is assumed, only that the coming changes are like the past ones.  This is also MASE's scale
    (:func:`tsmon.forecast.metrics.mase_scale`): a forecaster with MASE below 1 beats this one.

    Parameters
    ----------
    period : int or None, default=None
        Season in steps; None finds it (an hour, a day or a week), 0 or 1 means none.
    max_history : int, default=8064
        Observations kept to forecast from and to measure the changes.

    Attributes
    ----------
    period_ : int
        The season used (1: none).
    history_ : ndarray
        The last observations, the state forecasts start from.
    step_, last_time_, n_train_, time_based_
        Spacing in seconds, last timestamp, training size, whether timestamps were given.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.tile([1.0, 5.0, 3.0], 10)
    >>> SeasonalNaive(period=3).fit(y).predict(4).yhat
    array([1., 5., 3., 1.])
    """

    def _fit(self, values: FloatArray) -> None:
        pass  # the history is the model

    def _predict(self, horizon: int, level: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        history, s = self.history_, self.period_
        n = history.size
        h = np.arange(1, horizon + 1)
        lag = s * np.ceil(h / s).astype(np.int64)
        # Beyond the history (a short series) repeat the oldest season available.
        yhat = history[np.clip(n - lag + h - 1, 0, n - 1)].copy()
        lower, upper = np.empty(horizon), np.empty(horizon)
        q = ((1.0 - level) / 2.0, (1.0 + level) / 2.0)
        for k in np.unique(lag):
            changes = history[k:] - history[:-k] if k < n else np.zeros(1)
            lo, hi = np.quantile(changes, q) if changes.size else (0.0, 0.0)
            lower[lag == k], upper[lag == k] = lo, hi
        return yhat, yhat + lower, yhat + upper
