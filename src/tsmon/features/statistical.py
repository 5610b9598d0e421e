"""Statistical features of windows: level, spread, quantiles, shape, robust trend slope."""

# scikit-learn spells the data matrix X.
# ruff: noqa: N803

from __future__ import annotations

import warnings
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from scipy import stats
from sklearn.base import BaseEstimator, TransformerMixin

FloatArray = npt.NDArray[np.float64]
NAMES = ("mean", "median", "std", "mad", "iqr", "q05", "q95", "min", "max", "skew", "kurtosis", "slope")


def windows_of(X: npt.ArrayLike) -> FloatArray:
    """``X`` as a 2-D float array of windows, one per row (a 1-D array is one window); NaN is missing."""
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ValueError(f"X must be windows of at least 2 values, one per row; got shape {arr.shape}")
    return arr


def theil_sen_slope(window: FloatArray) -> float:
    """Median of the pairwise slopes per step (Theil-Sen), ignoring missing values; 0 with fewer than 2.

    Robust: up to 29% of the points can be outliers without moving it far, unlike least squares.
    """
    ok = np.isfinite(window)
    if ok.sum() < 2:
        return 0.0
    x = np.flatnonzero(ok).astype(np.float64)
    return float(stats.theilslopes(window[ok], x)[0])


class StatisticalFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Per window (row of ``X``): mean, median, std, MAD, IQR, 5% and 95% quantiles, min, max,
    skewness, excess kurtosis and the Theil-Sen slope per step.

    Missing values (NaN) are ignored; a window with none present gives NaN features (slope 0).
    Skewness and kurtosis are 0 for a constant window.  Stateless: ``fit`` records the width.

    Attributes
    ----------
    n_features_in_ : int
        Window length seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> f = StatisticalFeatures().fit_transform(np.array([[1.0, 2.0, 3.0, 4.0, 100.0]]))
    >>> float(f[0, 1]), float(f[0, -1])  # the median and the slope shrug off the spike
    (3.0, 1.0)
    """

    def fit(self, X: npt.ArrayLike, y: object = None) -> Self:
        self.n_features_in_ = windows_of(X).shape[1]
        return self

    def transform(self, X: npt.ArrayLike) -> FloatArray:
        w = windows_of(X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-missing windows: NaN is the answer
            q05, q25, med, q75, q95 = np.nanquantile(w, [0.05, 0.25, 0.5, 0.75, 0.95], axis=1)
            mad = np.nanmedian(np.abs(w - med[:, None]), axis=1)
            std = np.nanstd(w, axis=1)
            flat = std == 0
            skew = np.where(flat, 0.0, stats.skew(w, axis=1, nan_policy="omit"))
            kurt = np.where(flat, 0.0, stats.kurtosis(w, axis=1, nan_policy="omit"))
            columns = [
                np.nanmean(w, axis=1),
                med,
                std,
                mad,
                q75 - q25,
                q05,
                q95,
                np.nanmin(w, axis=1),
                np.nanmax(w, axis=1),
                np.asarray(skew, dtype=np.float64),
                np.asarray(kurt, dtype=np.float64),
                np.array([theil_sen_slope(row) for row in w]),
            ]
        return np.column_stack(columns)

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        return np.array(NAMES, dtype=object)
