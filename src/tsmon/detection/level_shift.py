"""Level shift detector: the median of the last window against the median of the window before."""

from __future__ import annotations

import math

import numpy as np

from tsmon.detection._util import FloatArray, noise_scale, trailing, with_history
from tsmon.detection.base import ResidualDetector
from tsmon.detection.robust import _check_window
from tsmon.detection.seasonal import cycle_at, fit_cycle


def _median(windows: FloatArray) -> FloatArray:
    return np.asarray(np.median(windows, axis=-1), dtype=np.float64)


class LevelShiftDetector(ResidualDetector):
    """Compares the median of the ``window`` points ending at each point with that of the
    ``window`` points before them, after removing the seasonal profile when a period is found, in
    units of the standard error of a difference of medians (``1.2533 * sigma * sqrt(2 / window)``,
    sigma the training noise from first differences).

    A shift scores highest ``window`` points after it happened and stays flagged for about a
    window on either side of that; single spikes move a median little and are ignored.  The bands
    bound the trailing median, not the point: a point is flagged when the median of the last
    ``window`` points (which ends at it) leaves ``[lower, upper]`` around the previous window's
    median.

    Good at: level shifts and ramps (trend changes) of a few noise sigmas, which point detectors
    miss.  Weak at: spikes (by design), anything shorter than half a window.

    Parameters
    ----------
    window : int, default=30
        Samples in each of the two compared windows (>= 2).
    period : int or None, default=None
        Period in samples; None detects one, 0 compares raw values.  The profile is that of a
        :class:`SeasonalBaseline` without trend, kept in ``baseline_``.
    threshold : float, default=0.99
        Score at or above which ``predict`` flags a point.
    """

    def __init__(self, *, window: int = 30, period: int | None = None, threshold: float = 0.99) -> None:
        self.window = window
        self.period = period
        self.threshold = threshold

    def _seasonal(self, t: FloatArray) -> FloatArray:
        return cycle_at(self.baseline_, t)

    def _fit_residuals(self, values: FloatArray, t: FloatArray) -> FloatArray:
        self.window_ = _check_window(self.window, 2)
        self.period_, self.baseline_ = fit_cycle(self, self.period, values, t)
        flat = values - self._seasonal(t)
        self.se_ = noise_scale(flat) * math.sqrt(math.pi / 2) * math.sqrt(2.0 / self.window_)
        self.history_ = np.empty(0)
        observed, center, scale = self._residuals(values, t)
        self.history_ = flat[-(2 * self.window_ - 1) :].copy()
        return (observed - center) / scale

    def _residuals(self, values: FloatArray, t: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        seasonal = self._seasonal(t)
        full, start = with_history(self.history_, values - seasonal)
        w = self.window_
        medians = trailing(full, 0, w, _median, w, include_current=True)
        recent = medians[start:]
        before = np.concatenate((np.full(w, np.nan), medians))[start : start + values.size]
        return recent + seasonal, before + seasonal, np.full(values.size, self.se_)
