"""Quality features of windows: how much is missing and how often the level changes."""

# scikit-learn spells the data matrix X.
# ruff: noqa: N803

from __future__ import annotations

from typing import Any, Self

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, TransformerMixin

from tsmon.features.statistical import FloatArray, windows_of

MAD_TO_SIGMA = 1.482602218505602
# Sup of a Brownian bridge exceeds this 5% of the time (Kolmogorov): the CUSUM's critical value.
CUSUM_CRITICAL = 1.358


def _noise_scale(x: FloatArray) -> float:
    """Noise sigma from first differences (a level shift is one difference, so barely counts)."""
    d = np.diff(x)
    scale = MAD_TO_SIGMA * float(np.median(np.abs(d - np.median(d)))) / np.sqrt(2.0) if d.size else 0.0
    return scale if scale > 0 else float(np.std(d)) / np.sqrt(2.0) if d.size else 0.0


def change_points(x: npt.ArrayLike, *, min_size: int = 5, max_points: int = 20) -> list[int]:
    """Level shifts found by binary segmentation with the CUSUM test, as indices where a new level starts.

    A segment splits at the largest standardised CUSUM when it exceeds the 5% critical value of
    a Brownian bridge; both parts then get the same test.  Assumes independent noise around
    piecewise-constant levels: strong autocorrelation or a smooth trend reads as shifts.
    """
    y = np.asarray(x, dtype=np.float64)
    y = y[np.isfinite(y)]
    sigma = _noise_scale(y)
    found: list[int] = []
    if sigma <= 0:
        return found
    todo = [(0, y.size)]
    while todo and len(found) < max_points:
        lo, hi = todo.pop()
        n = hi - lo
        if n < 2 * min_size:
            continue
        seg = y[lo:hi]
        cusum = np.cumsum(seg - seg.mean())[min_size - 1 : n - min_size]
        k = int(np.argmax(np.abs(cusum)))
        if abs(cusum[k]) / (sigma * np.sqrt(n)) <= CUSUM_CRITICAL:
            continue
        split = lo + min_size + k
        found.append(split)
        todo += [(lo, split), (split, hi)]
    return sorted(found)


class QualityFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Per window: the missing rate (share of NaN) and the number of level shifts (:func:`change_points`).

    Parameters
    ----------
    min_size : int, default=5
        Fewest points between two change points.

    Attributes
    ----------
    n_features_in_ : int
        Window length seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.r_[np.zeros(50), np.full(50, 5.0)] + np.random.default_rng(1).normal(0, 1, 100)
    >>> w[:10] = np.nan
    >>> QualityFeatures().fit_transform(w).tolist()
    [[0.1, 1.0]]
    """

    def __init__(self, *, min_size: int = 5) -> None:
        self.min_size = min_size

    def fit(self, X: npt.ArrayLike, y: object = None) -> Self:
        self.n_features_in_ = windows_of(X).shape[1]
        return self

    def transform(self, X: npt.ArrayLike) -> FloatArray:
        w = windows_of(X)
        missing = np.mean(~np.isfinite(w), axis=1)
        shifts = [float(len(change_points(row, min_size=self.min_size))) for row in w]
        return np.column_stack([missing, shifts])

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        return np.array(["missing_rate", "change_points"], dtype=object)
