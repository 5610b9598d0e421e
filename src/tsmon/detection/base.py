"""The detector contract: a scikit-learn estimator scoring each point of one series in [0, 1]."""

# scikit-learn spells the data matrix X.
# ruff: noqa: N803, N806

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from tsmon.detection._util import FloatArray, IntArray
from tsmon.detection.calibration import TailCalibrator, surprise_of

Bands = tuple[FloatArray, FloatArray, FloatArray]


class BaseDetector(BaseEstimator):  # type: ignore[misc]
    """Anomaly detector for one univariate series.

    ``X`` is array-like of shape (n_samples,) or (n_samples, n_features); the value is the last
    column and earlier columns are ignored.  Rows are in time order.  ``timestamps`` (epoch
    seconds, one per row) let detectors place points in the day and week and notice gaps; without
    them rows are evenly spaced.  At scoring time the rows are taken to come after the training
    window: without timestamps, directly after it.  Detectors that look back (forecasts, rolling
    windows) start from the end of the training window, so to score a recent point after a gap,
    pass the points before it too and drop their scores.

    Scores are calibrated: a point scores ``1 - p`` where ``p`` is the tail probability of its
    statistic under the law that statistic had on the training window, so on data like the
    training data ``P(score >= 0.99) = 1%`` whatever the detector or series.  The statistic is
    the standardised residual ``z = (x - expected) / scale`` for the residual detectors, whose
    law is a Student t (a Gaussian unless the tails are heavier) matching the training median,
    MAD and 90th percentile of ``|z - median|``, and ``p = P(|Z - median| >= |z - median|)``
    (:class:`TailCalibrator`); for the forest and LOF detectors it is the model's anomaly score,
    with ``p = P(A >= a)`` from the training deciles and an exponential upper tail
    (:class:`UpperTailCalibrator`); the ensemble combines member scores (see its docstring).
    ``predict`` flags ``score >= threshold``; ``predict_bands`` gives the expected value and the
    band outside which points score at or above ``threshold``.
    """

    threshold: float
    # Earlier points a new point's score may depend on: the worker passes that many before new windows.
    # Point detectors (a score from the point alone) declare 0.
    scoring_context: ClassVar[int] = 60

    def __init__(self, *, threshold: float = 0.99) -> None:
        self.threshold = threshold

    def fit(self, X: npt.ArrayLike, y: object = None, *, timestamps: npt.ArrayLike | None = None) -> Self:
        """Fit on a training window; ``y`` is ignored."""
        values = self._validate(X, reset=True)
        self._fit_validated(values, self._check_timestamps(timestamps, values.size))
        return self

    def score_samples(self, X: npt.ArrayLike, *, timestamps: npt.ArrayLike | None = None) -> FloatArray:
        """Calibrated anomaly score of each row, in [0, 1]."""
        check_is_fitted(self)
        values = self._validate(X, reset=False)
        return self._score(values, self._score_times(timestamps, values.size))

    def surprise_samples(self, X: npt.ArrayLike, *, timestamps: npt.ArrayLike | None = None) -> FloatArray:
        """``-log10`` of each row's tail probability: ``score = 1 - 10 ** -surprise``.

        The same ranking as ``score_samples``, still resolved where scores round to 1.0 (tail
        probabilities below 1e-16): what ranks the rarest points, e.g. in `tsmon eval nab`.
        """
        check_is_fitted(self)
        values = self._validate(X, reset=False)
        return self._surprise(values, self._score_times(timestamps, values.size))

    def predict(self, X: npt.ArrayLike, *, timestamps: npt.ArrayLike | None = None) -> IntArray:
        """1 for anomalies (score at or above ``threshold``), 0 for normal points."""
        return (self.score_samples(X, timestamps=timestamps) >= self.threshold).astype(np.int64)

    def fit_predict(
        self, X: npt.ArrayLike, y: object = None, *, timestamps: npt.ArrayLike | None = None
    ) -> IntArray:
        """Flags of the training window itself, scored in-sample (no look-ahead beyond the fit)."""
        values = self._validate(X, reset=True)
        scores = self._fit_validated(values, self._check_timestamps(timestamps, values.size))
        return (scores >= self.threshold).astype(np.int64)

    def predict_bands(self, X: npt.ArrayLike, *, timestamps: npt.ArrayLike | None = None) -> Bands:
        """``(expected, lower, upper)`` per row; outside the band is about ``score >= threshold``."""
        check_is_fitted(self)
        values = self._validate(X, reset=False)
        return self._bands(values, self._score_times(timestamps, values.size), self.threshold)

    def score_and_bands(
        self, X: npt.ArrayLike, *, timestamps: npt.ArrayLike | None = None
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """``score_samples`` and ``predict_bands`` in one pass: (score, expected, lower, upper).

        The scoring job's hot path: input checked once, residuals computed once.
        """
        check_is_fitted(self)
        values = self._validate(X, reset=False)
        return self._score_and_bands(values, self._score_times(timestamps, values.size), self.threshold)

    # Subclass hooks: arrays are validated, ``t`` is epoch seconds, or positions when fitted without.

    @abstractmethod
    def _fit(self, values: FloatArray, t: FloatArray) -> FloatArray:
        """Set fitted attributes; return the calibrated score of each training point."""

    @abstractmethod
    def _score(self, values: FloatArray, t: FloatArray) -> FloatArray: ...

    @abstractmethod
    def _bands(self, values: FloatArray, t: FloatArray, level: float) -> Bands: ...

    def _surprise(self, values: FloatArray, t: FloatArray) -> FloatArray:
        """Subclasses with a finer tail probability than ``1 - score`` override this."""
        return surprise_of(self._score(values, t))

    def _score_and_bands(
        self, values: FloatArray, t: FloatArray, level: float
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        return (self._score(values, t), *self._bands(values, t, level))

    def _restore(self) -> None:
        """Rebuild derived, unserialised attributes after loading a state (see ``state.py``)."""

    def _fit_validated(self, values: FloatArray, timestamps: FloatArray | None) -> FloatArray:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold!r}")
        if timestamps is None:
            t = np.arange(values.size, dtype=np.float64)
            self.spacing_ = 1.0
        else:
            t = timestamps
            steps = np.diff(t)
            steps = steps[steps > 0]
            self.spacing_ = float(np.median(steps)) if steps.size else 1.0
        self.time_based_ = timestamps is not None
        self.t_end_ = float(t[-1])
        return self._fit(values, t)

    def _score_times(self, timestamps: npt.ArrayLike | None, n: int) -> FloatArray:
        checked = self._check_timestamps(timestamps, n)
        if checked is None:
            return self.t_end_ + self.spacing_ * np.arange(1, n + 1, dtype=np.float64)
        if not self.time_based_:
            raise ValueError(f"{type(self).__name__} was fitted without timestamps; score without them too")
        return checked

    def _validate(self, X: npt.ArrayLike, *, reset: bool) -> FloatArray:
        if (
            not reset
            and isinstance(X, np.ndarray)
            and X.ndim == 1
            and X.dtype == np.float64
            and X.size
            and getattr(self, "n_features_in_", 1) == 1
            and np.isfinite(X).all()
        ):
            # The scoring job's hot path (one series' values, already clean float64): scikit-learn's
            # validate_data would cost more than the scoring itself.
            return X.copy()
        if not hasattr(X, "tocsr") and np.ndim(X) == 1:
            # A 1-D array is one series: fine for a detector fitted on one column, ambiguous otherwise.
            if not reset and getattr(self, "n_features_in_", 1) != 1:
                raise ValueError(
                    f"Expected a 2-D array with {self.n_features_in_} columns, got a 1-D array. "
                    "Reshape your data with the value in the last column."
                )
            X = np.asarray(X).reshape(-1, 1)
        checked = validate_data(self, X, reset=reset, dtype=np.float64, ensure_min_samples=2 if reset else 1)
        return np.array(checked[:, -1], dtype=np.float64)

    @staticmethod
    def _check_timestamps(timestamps: npt.ArrayLike | None, n: int) -> FloatArray | None:
        if timestamps is None:
            return None
        t = np.asarray(timestamps)
        if np.issubdtype(t.dtype, np.datetime64):
            t = t.astype("datetime64[ns]").astype(np.int64) / 1e9
        t = np.asarray(t, dtype=np.float64).ravel()
        if t.size != n:
            raise ValueError(f"timestamps has {t.size} entries for {n} rows")
        if not np.all(np.isfinite(t)):
            raise ValueError("timestamps must be finite")
        if np.any(np.diff(t) < 0):
            raise ValueError("rows must be in time order (timestamps non-decreasing)")
        return t

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        return tags


class ResidualDetector(BaseDetector):
    """A detector whose statistic is a standardised residual ``(x - center) / scale`` per point."""

    @abstractmethod
    def _fit_residuals(self, values: FloatArray, t: FloatArray) -> FloatArray:
        """Set fitted attributes; return the standardised residual of each training point (NaN: none)."""

    @abstractmethod
    def _residuals(self, values: FloatArray, t: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(observed, center, scale)`` per point in value units: observed is the value itself, or a
        quantity derived from it (a trailing median) that the bands then bound."""

    def _fit(self, values: FloatArray, t: FloatArray) -> FloatArray:
        z = self._fit_residuals(values, t)
        self.calibrator_ = TailCalibrator.fit(z)
        return self.calibrator_.score(z)

    def _score(self, values: FloatArray, t: FloatArray) -> FloatArray:
        observed, center, scale = self._residuals(values, t)
        return self.calibrator_.score((observed - center) / scale)

    def _surprise(self, values: FloatArray, t: FloatArray) -> FloatArray:
        observed, center, scale = self._residuals(values, t)
        return self.calibrator_.surprise((observed - center) / scale)

    def _score_and_bands(
        self, values: FloatArray, t: FloatArray, level: float
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        if (
            type(self)._score is not ResidualDetector._score
            or type(self)._bands is not ResidualDetector._bands
        ):
            return super()._score_and_bands(values, t, level)  # a subclass scores its own way
        observed, center, scale = self._residuals(values, t)
        expected = center + self.calibrator_.center * scale
        half = self.calibrator_.halfwidth(level) * scale
        return self.calibrator_.score((observed - center) / scale), expected, expected - half, expected + half

    def _bands(self, values: FloatArray, t: FloatArray, level: float) -> Bands:
        _, center, scale = self._residuals(values, t)
        expected = center + self.calibrator_.center * scale
        half = self.calibrator_.halfwidth(level) * scale
        return expected, expected - half, expected + half
