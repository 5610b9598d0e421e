"""Feature selection: drop near-constant features, keep those that say most about the target."""

# scikit-learn spells the data matrix X.
# ruff: noqa: N803, N806

from __future__ import annotations

from typing import Any, Self

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_selection import mutual_info_classif, mutual_info_regression
from sklearn.utils.validation import check_is_fitted

from tsmon.features.statistical import FloatArray


class FeatureSelector(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Variance threshold, then the ``k`` features of highest mutual information with ``y``.

    Mutual information (scikit-learn's k-nearest-neighbour estimate) sees non-linear and
    non-monotone dependence that a correlation would miss, at no model's expense; it scores
    features one at a time, so two copies of a good feature are both kept.  Missing values are
    replaced by each feature's median before scoring.  Without ``y`` only the variance step runs.

    Parameters
    ----------
    k : int, default=10
        Features kept (all when fewer pass the variance step).
    variance_threshold : float, default=0.0
        Features whose variance is at or below this are dropped first.
    task : {"regression", "classification"}, default="regression"
        Which mutual information estimate.
    random_state : int, default=0
        For the estimate's jitter, so the selection is reproducible.

    Attributes
    ----------
    support_ : ndarray of bool
        Kept input features.
    scores_ : ndarray
        Mutual information of each input feature (0 for dropped by variance; NaN without ``y``).
    n_features_in_ : int
        Input width.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([rng.normal(size=200), np.ones(200), rng.normal(size=200)])
    >>> FeatureSelector(k=1).fit(X, X[:, 2] ** 2).support_.tolist()
    [False, False, True]
    """

    def __init__(
        self, *, k: int = 10, variance_threshold: float = 0.0, task: str = "regression", random_state: int = 0
    ) -> None:
        self.k = k
        self.variance_threshold = variance_threshold
        self.task = task
        self.random_state = random_state

    def fit(self, X: npt.ArrayLike, y: npt.ArrayLike | None = None) -> Self:
        if self.task not in ("regression", "classification"):
            raise ValueError(f"task must be 'regression' or 'classification', got {self.task!r}")
        if self.k < 1:
            raise ValueError(f"k must be positive, got {self.k}")
        A = np.asarray(X, dtype=np.float64)
        if A.ndim != 2:
            raise ValueError(f"X must be 2-D (rows, features), got shape {A.shape}")
        self.n_features_in_ = A.shape[1]
        med = np.nanmedian(np.where(np.isfinite(A), A, np.nan), axis=0)
        A = np.where(np.isfinite(A), A, np.where(np.isfinite(med), med, 0.0)[None, :])
        variable = A.var(axis=0) > self.variance_threshold
        self.scores_ = np.where(variable, np.nan, 0.0)
        if y is None or not variable.any():
            self.support_ = variable
            return self
        target = np.asarray(y).ravel()
        mi = mutual_info_regression if self.task == "regression" else mutual_info_classif
        scores = np.asarray(mi(A[:, variable], target, random_state=self.random_state), dtype=np.float64)
        self.scores_[variable] = scores
        order = np.flatnonzero(variable)[np.argsort(-scores, kind="stable")][: self.k]
        self.support_ = np.zeros(A.shape[1], dtype=bool)
        self.support_[order] = True
        return self

    def transform(self, X: npt.ArrayLike) -> FloatArray:
        check_is_fitted(self)
        A = np.asarray(X, dtype=np.float64)
        if A.ndim != 2 or A.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have {self.n_features_in_} columns, got shape {A.shape}")
        return np.asarray(A[:, self.support_], dtype=np.float64)

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        names = (
            input_features if input_features is not None else [f"x{i}" for i in range(self.n_features_in_)]
        )
        kept: npt.NDArray[np.object_] = np.asarray(names, dtype=object)[self.support_]
        return kept
