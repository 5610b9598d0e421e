"""Temporal features: hour-of-day and day-of-week on the circle, lags, trailing rolling statistics."""

# scikit-learn spells the data matrix X.
# ruff: noqa: N803

from __future__ import annotations

from typing import Any, Self

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import BaseEstimator, TransformerMixin

FloatArray = npt.NDArray[np.float64]
DAY = 86400.0
WEEK = 7 * DAY
# 1970-01-01 was a Thursday: shift so that the week's phase 0 is Monday 00:00 UTC.
_MONDAY = 4 * DAY


def calendar_encoding(t: npt.ArrayLike) -> FloatArray:
    """``[sin, cos]`` of the hour of day and of the day of week (UTC) for epoch seconds ``t``.

    On the circle, 23:59 is next to 00:00 and Sunday next to Monday, which an integer hour is not.
    """
    seconds = np.asarray(t, dtype=np.float64).ravel()
    day = 2 * np.pi * np.mod(seconds, DAY) / DAY
    week = 2 * np.pi * np.mod(seconds - _MONDAY, WEEK) / WEEK
    return np.column_stack([np.sin(day), np.cos(day), np.sin(week), np.cos(week)])


class CalendarFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Epoch-second timestamps (one column) to hour-of-day and day-of-week sin/cos (four columns).

    Stateless: ``fit`` only records the input width.

    Attributes
    ----------
    n_features_in_ : int
        Always 1.

    Examples
    --------
    >>> CalendarFeatures().fit_transform([[0.0], [43200.0]]).round(3)[:, :2] + 0.0  # midnight, noon
    array([[ 0.,  1.],
           [ 0., -1.]])
    """

    def fit(self, X: npt.ArrayLike, y: object = None) -> Self:
        self.n_features_in_ = 1
        return self

    def transform(self, X: npt.ArrayLike) -> FloatArray:
        return calendar_encoding(np.asarray(X, dtype=np.float64)[..., 0] if np.ndim(X) == 2 else X)

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        return np.array(["hour_sin", "hour_cos", "weekday_sin", "weekday_cos"], dtype=object)


def lag_matrix(values: npt.ArrayLike, lags: npt.ArrayLike) -> FloatArray:
    """Column ``j`` holds ``values`` shifted by ``lags[j]`` steps (NaN where the past is unknown)."""
    y = np.asarray(values, dtype=np.float64).ravel()
    out = np.full((y.size, len(np.atleast_1d(lags))), np.nan)
    for j, lag in enumerate(np.atleast_1d(lags).astype(np.int64)):
        if lag < 0:
            raise ValueError(f"lags must be non-negative, got {lag}")
        if lag < y.size:
            out[lag:, j] = y[: y.size - lag]
    return out


def rolling_stats(values: npt.ArrayLike, window: int) -> FloatArray:
    """Trailing mean, standard deviation, minimum and maximum over ``window`` points (NaN before)."""
    y = np.asarray(values, dtype=np.float64).ravel()
    if window < 1:
        raise ValueError(f"window must be positive, got {window}")
    out = np.full((y.size, 4), np.nan)
    if y.size >= window:
        view = sliding_window_view(y, window)
        out[window - 1 :] = np.column_stack([view.mean(1), view.std(1), view.min(1), view.max(1)])
    return out


class LagFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """One series (one column, in time order) to its lags and trailing rolling statistics.

    Row ``i`` uses only rows ``<= i``: no look-ahead.  Rows without enough past are NaN, which
    scikit-learn's histogram gradient boosting accepts as missing.

    Parameters
    ----------
    lags : tuple of int, default=(1, 2, 3)
        Steps back.
    windows : tuple of int, default=(12,)
        Trailing windows for mean, std, min and max.

    Attributes
    ----------
    n_features_in_ : int
        Always 1.

    Examples
    --------
    >>> LagFeatures(lags=(1,), windows=()).fit_transform([[1.0], [2.0], [3.0]]).ravel()
    array([nan,  1.,  2.])
    """

    def __init__(self, *, lags: tuple[int, ...] = (1, 2, 3), windows: tuple[int, ...] = (12,)) -> None:
        self.lags = lags
        self.windows = windows

    def fit(self, X: npt.ArrayLike, y: object = None) -> Self:
        self.n_features_in_ = 1
        return self

    def transform(self, X: npt.ArrayLike) -> FloatArray:
        values = np.asarray(X, dtype=np.float64).ravel()
        parts = [lag_matrix(values, self.lags)] + [rolling_stats(values, w) for w in self.windows]
        return np.column_stack(parts) if parts else np.empty((values.size, 0))

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        names = [f"lag_{k}" for k in self.lags]
        names += [f"roll{w}_{s}" for w in self.windows for s in ("mean", "std", "min", "max")]
        return np.array(names, dtype=object)
