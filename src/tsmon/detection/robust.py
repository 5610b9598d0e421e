"""Point detectors without a model of time: global MAD z-score and a trailing quantile band."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from tsmon.detection._util import FloatArray, noise_scale, robust_scale, trailing, value_floor, with_history
from tsmon.detection.base import ResidualDetector
from tsmon.detection.calibration import TailCalibrator

_IQR_TO_SIGMA = 1.3489795003921634  # interquartile range of a standard Gaussian


def _check_window(window: object, minimum: int) -> int:
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < minimum:
        raise ValueError(f"window must be an int >= {minimum}, got {window!r}")
    return int(window)


class MADDetector(ResidualDetector):
    """Robust z-score against the whole training window: ``(x - median) / (1.4826 MAD)``.

    Good at: spikes and level shifts on a stationary series; the cheapest detector.  Weak at:
    anything within the series' usual range (seasonal breaks, flat lines, drift-then-spike).

    Parameters
    ----------
    threshold : float, default=0.99
        Score at or above which ``predict`` flags a point.
    """

    scoring_context: ClassVar[int] = 0  # a point's score depends on that point alone

    def __init__(self, *, threshold: float = 0.99) -> None:
        self.threshold = threshold

    def _fit_residuals(self, values: FloatArray, t: FloatArray) -> FloatArray:
        self.center_ = float(np.median(values))
        self.scale_ = robust_scale(values, value_floor(values))
        return (values - self.center_) / self.scale_

    def _residuals(self, values: FloatArray, t: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        return values, np.full(values.size, self.center_), np.full(values.size, self.scale_)


class GaussianDetector(ResidualDetector):
    """Gaussian z-score against the training window's mean and standard deviation (NAB's windowed Gaussian).

    Unlike :class:`MADDetector` the scale is not robust, and the tail is a plain Gaussian rather than
    one fitted to the training residuals: a series whose training window held bursts gets a wide
    scale, so the largest possible z-score of a series is bounded by how spread its history is.
    That keeps the rarest points of quiet and wild series comparable, which a single threshold over
    many series needs (it is what makes this the best simple detector on NAB, see docs/detection.md).

    Good at: values beyond anything in the training window, on any series.  Weak at: anything
    inside the usual range; calibration (``P(score >= 0.99)`` is 1% only for Gaussian data).

    Parameters
    ----------
    threshold : float, default=0.99
        Score at or above which ``predict`` flags a point.
    """

    scoring_context: ClassVar[int] = 0  # a point's score depends on that point alone

    def __init__(self, *, threshold: float = 0.99) -> None:
        self.threshold = threshold

    def _fit(self, values: FloatArray, t: FloatArray) -> FloatArray:
        z = self._fit_residuals(values, t)
        self.calibrator_ = TailCalibrator()
        return self.calibrator_.score(z)

    def _fit_residuals(self, values: FloatArray, t: FloatArray) -> FloatArray:
        self.center_ = float(np.mean(values))
        self.scale_ = max(float(np.std(values)), value_floor(values))
        return (values - self.center_) / self.scale_

    def _residuals(self, values: FloatArray, t: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        return values, np.full(values.size, self.center_), np.full(values.size, self.scale_)


def _quartiles(windows: FloatArray) -> FloatArray:
    return np.asarray(np.quantile(windows, [0.25, 0.5, 0.75], axis=-1), dtype=np.float64)


class RollingQuantileDetector(ResidualDetector):
    """Band from the quartiles of the ``window`` points before each point (causal).

    Expected value is the trailing median, the scale its interquartile range / 1.349 (floored at
    a tenth of the training noise, so a window of identical values does not make every later
    wiggle infinitely rare).  Scoring starts with the last ``window`` training points as history.

    Good at: spikes and the onset of level shifts against the local level, on series whose level
    and spread wander.  Weak at: shifts that last longer than half a window, seasonal breaks,
    flat lines.

    Parameters
    ----------
    window : int, default=60
        Trailing window in samples (>= 3).
    threshold : float, default=0.99
        Score at or above which ``predict`` flags a point.
    """

    def __init__(self, *, window: int = 60, threshold: float = 0.99) -> None:
        self.window = window
        self.threshold = threshold

    def _fit_residuals(self, values: FloatArray, t: FloatArray) -> FloatArray:
        self.window_ = _check_window(self.window, 3)
        self.floor_ = max(0.1 * noise_scale(values), value_floor(values))
        self.history_ = np.empty(0)
        observed, center, scale = self._residuals(values, t)
        self.history_ = values[-self.window_ :].copy()
        return (observed - center) / scale

    def _residuals(self, values: FloatArray, t: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        full, start = with_history(self.history_, values)
        q25, median, q75 = trailing(full, start, self.window_, _quartiles, max(3, self.window_ // 4))
        return values, median, np.maximum((q75 - q25) / _IQR_TO_SIGMA, self.floor_)
