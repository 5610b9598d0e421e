"""Holt-Winters exponential smoothing (statsmodels' ETS state-space model) with its prediction band."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from statsmodels.tsa.exponential_smoothing.ets import ETSModel

from tsmon.forecast.base import MAX_HISTORY, BaseForecaster, FloatArray

# Smoothing parameters are fitted on at most this many recent points: the optimiser's cost grows
# with the length and the last weeks say what the next hours look like.
FIT_POINTS = 4032


class ExponentialSmoothing(BaseForecaster):
    """ETS with additive errors: level, optional (damped) additive trend, optional additive season.

    Fitted by maximum likelihood (``statsmodels.tsa.exponential_smoothing.ets.ETSModel``) with
    heuristic initial states, so only the smoothing parameters are optimised (estimating 288
    initial seasonal states of a daily season at 5 minutes would cost minutes per series).  The
    band is the model's analytic prediction interval, which assumes Gaussian one-step errors.
    Assumes the series is regular and its season additive; the season is dropped when fewer than
    two full seasons were seen.  ``update`` re-runs the filter over the new history with the
    fitted parameters.

    Parameters
    ----------
    trend : {None, "add"}, default=None
        Additive trend, or none.
    damped_trend : bool, default=True
        Damp the trend (only with ``trend="add"``); undamped trends overshoot at long horizons.
    seasonal : {"add", None}, default="add"
        Additive season of ``period_`` steps, or none.
    period, max_history
        As in :class:`tsmon.forecast.base.BaseForecaster`.

    Attributes
    ----------
    params_ : ndarray
        Fitted smoothing parameters (statsmodels' order).
    seasonal_ : bool
        Whether a season was fitted.
    period_, history_, step_, last_time_, n_train_, time_based_
        As in every forecaster.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(240)
    >>> y = 10 + np.sin(2 * np.pi * t / 24) + np.random.default_rng(0).normal(0, 0.1, t.size)
    >>> f = ExponentialSmoothing(period=24).fit(y).predict(24)
    >>> bool(abs(f.yhat[6] - 11) < 0.3)
    True
    """

    def __init__(
        self,
        *,
        trend: str | None = None,
        damped_trend: bool = True,
        seasonal: str | None = "add",
        period: int | None = None,
        max_history: int = MAX_HISTORY,
    ) -> None:
        super().__init__(period=period, max_history=max_history)
        self.trend = trend
        self.damped_trend = damped_trend
        self.seasonal = seasonal

    def _model(self, values: FloatArray) -> ETSModel:
        return ETSModel(
            pd.Series(values),  # statsmodels' prediction frame needs an index
            error="add",
            trend=self.trend,
            damped_trend=bool(self.damped_trend and self.trend is not None),
            seasonal="add" if self.seasonal_ else None,
            seasonal_periods=self.period_ if self.seasonal_ else None,
            initialization_method="heuristic",
        )

    def _fit(self, values: FloatArray) -> None:
        if self.trend not in (None, "add") or self.seasonal not in (None, "add"):
            raise ValueError(
                f"trend and seasonal must be None or 'add', got {self.trend!r}, {self.seasonal!r}"
            )
        # statsmodels' heuristic start needs ten points and two full seasons.
        recent = values[-max(FIT_POINTS, 4 * self.period_) :]
        self.seasonal_ = bool(
            self.seasonal == "add" and self.period_ >= 2 and recent.size >= 2 * self.period_ + 10
        )
        if recent.size < 10:
            recent = np.concatenate([np.full(10 - recent.size, recent[0]), recent])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter; a poor fit loses the CV anyway
            self.params_ = np.asarray(self._model(recent).fit(disp=False).params, dtype=np.float64)

    def _predict(self, horizon: int, level: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        history = self.history_[-max(FIT_POINTS, 4 * self.period_) :]
        if history.size < 10:
            history = np.concatenate([np.full(10 - history.size, history[0]), history])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = self._model(history).smooth(self.params_)
            frame = result.get_prediction(start=history.size, end=history.size + horizon - 1).summary_frame(
                alpha=1.0 - level
            )
        yhat = frame["mean"].to_numpy(dtype=np.float64)
        lower = frame["pi_lower"].to_numpy(dtype=np.float64)
        upper = frame["pi_upper"].to_numpy(dtype=np.float64)
        bad = ~np.isfinite(yhat)
        if bad.any():  # a diverged fit: fall back to the last value rather than answer NaN
            yhat[bad] = lower[bad] = upper[bad] = history[-1]
        return yhat, np.where(np.isfinite(lower), lower, yhat), np.where(np.isfinite(upper), upper, yhat)
