"""A series cut into windows, and every window feature of one in a single transformer."""

# scikit-learn spells the data matrix X.
# ruff: noqa: N803

from __future__ import annotations

from typing import Any, Self

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import BaseEstimator, TransformerMixin

from tsmon.features.quality import QualityFeatures
from tsmon.features.spectral import SpectralFeatures
from tsmon.features.statistical import FloatArray, StatisticalFeatures, windows_of


def sliding_windows(values: npt.ArrayLike, width: int, step: int | None = None) -> FloatArray:
    """Rows of ``width`` consecutive values every ``step`` (default ``width``: disjoint), the last
    window ending at the series' end (a partial first stretch is left out, not padded)."""
    y = np.asarray(values, dtype=np.float64).ravel()
    step = step or width
    if width < 2 or step < 1:
        raise ValueError(f"width must be at least 2 and step positive, got {width}, {step}")
    if y.size < width:
        raise ValueError(f"{y.size} values are fewer than one window of {width}")
    view = sliding_window_view(y, width)
    starts = np.arange(view.shape[0] - 1, -1, -step)[::-1]
    return np.asarray(view[starts], dtype=np.float64)


class WindowFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Statistical, spectral and quality features of each window (row), side by side.

    What clustering and triage take per series and window; the forecasters take lags and the
    calendar instead (:mod:`tsmon.features.temporal`).

    Parameters
    ----------
    n_periods : int, default=2
        Dominant periods (see :class:`SpectralFeatures`).

    Attributes
    ----------
    n_features_in_ : int
        Window length seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> windows = sliding_windows(np.sin(np.arange(1000) / 10), 200)
    >>> WindowFeatures().fit_transform(windows).shape
    (5, 19)
    """

    def __init__(self, *, n_periods: int = 2) -> None:
        self.n_periods = n_periods

    def _parts(self) -> list[Any]:
        return [StatisticalFeatures(), SpectralFeatures(n_periods=self.n_periods), QualityFeatures()]

    def fit(self, X: npt.ArrayLike, y: object = None) -> Self:
        self.n_features_in_ = windows_of(X).shape[1]
        return self

    def transform(self, X: npt.ArrayLike) -> FloatArray:
        w = windows_of(X)
        return np.column_stack([part.fit(w).transform(w) for part in self._parts()])

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        return np.concatenate([part.get_feature_names_out() for part in self._parts()])
