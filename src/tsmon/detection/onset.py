"""Onsets of spikes and of level shifts, one alarm per episode each: `extreme` plus a test on medians."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tsmon.detection._util import FloatArray
from tsmon.detection.calibration import TailCalibrator
from tsmon.detection.extreme import ExtremeDetector, onsets
from tsmon.detection.robust import _check_window

# The shift statistic's law: a plain two-sided Gaussian, as `extreme`'s point statistic has.
_GAUSSIAN = TailCalibrator()


def median_shift(z: FloatArray, width: int) -> FloatArray:
    """Median of the ``width`` rows ending at each row minus that of the ``width`` rows before them.

    Rows with fewer than ``2 * width - 1`` rows before them get 0 (no evidence yet).
    """
    out = np.zeros(z.size)
    if z.size < 2 * width:
        return out
    medians = np.median(sliding_window_view(z, width), axis=1)
    out[2 * width - 1 :] = medians[width:] - medians[:-width]
    return out


class OnsetDetector(ExtremeDetector):
    """`extreme`'s point surprise and a level-shift surprise, each kept only at its own onsets.

    The point statistic is `extreme`'s: the residual from the seasonal profile as a z-score
    against the training window, the scale stretched to the bursts already seen (``reach``).  The
    shift statistic is the median of the last ``shift`` residual z-scores minus the median of the
    ``shift`` before them, in units of its own training standard deviation, its scale stretched
    the same way (``shift_reach``): a step that stays inside the usual range of single points,
    which `extreme` misses, still moves the medians beyond what they did in training, while a
    lone spike barely moves a median.  Each statistic's surprise (``-log10`` of a two-sided
    Gaussian tail) is kept only where it beats that statistic's surprise on every row of the
    ``window`` before it, and a row scores the larger of the two: a burst, a step or an outage
    raises one alarm per statistic that sees it, and a step right after a spike still raises its
    own.

    Good at: spikes, bursts and level shifts, including shifts inside the usual range, with one
    alarm per episode and one threshold for very different series: the default detector and the
    best of tsmon's on NAB (docs/detection.md).  Weak at: slow drifts and trend changes, changes
    of shape inside the usual range; like `extreme` a change scores at its onset only (an event
    lasts ``hold + 1`` windows, so ``min_duration`` must not exceed that).  The band is that of
    the point statistic: a shift inside it can still score high.

    Parameters
    ----------
    window : int, default=60
        Rows looked back at for a more surprising row (>= 1).
    shift : int, default=6
        Rows on each side of the median comparison (>= 1).
    shift_reach : float or None, default=4.0
        Largest training shift statistic (in standard deviations) taken as ordinary; None: never
        stretch its scale.
    damping : float, default=0.0
        Share of its surprise a row keeps when a recent row was at least as surprising.
    reach : float or None, default=5.0
        Largest training |z| taken as ordinary; None: never stretch the scale.
    period : int or None, default=None
        Period in samples; None detects one, 0 means no seasonal profile.
    hold : int, default=0
        Rows after an onset that keep their score.
    threshold : float, default=0.99
        Score at or above which ``predict`` flags a point.
    """

    scoring_context: ClassVar[int] = 60  # the default window

    def __init__(
        self,
        *,
        window: int = 60,
        shift: int = 6,
        shift_reach: float | None = 4.0,
        damping: float = 0.0,
        reach: float | None = 5.0,
        period: int | None = None,
        hold: int = 0,
        threshold: float = 0.99,
    ) -> None:
        super().__init__(
            window=window, damping=damping, reach=reach, period=period, hold=hold, threshold=threshold
        )
        self.shift = shift
        self.shift_reach = shift_reach

    def _fit(self, values: FloatArray, t: FloatArray) -> FloatArray:
        self.shift_ = _check_window(self.shift, 1)
        self._fit_extreme(values, t)
        d = median_shift(self._z(values, t), self.shift_)[2 * self.shift_ - 1 :]
        self.shift_scale_ = max(float(np.std(d)), 1e-9) if d.size > 1 else 1.0
        self.shift_stretch_ = 1.0
        if self.shift_reach is not None and d.size:
            self.shift_stretch_ = max(1.0, float(np.max(np.abs(d))) / self.shift_scale_ / self.shift_reach)
        return self._score(values, t)

    def _z(self, values: FloatArray, t: FloatArray) -> FloatArray:
        _, center, scale = self._residuals(values, t)
        return (values - center) / scale

    def _surprise(self, values: FloatArray, t: FloatArray) -> FloatArray:
        z = self._z(values, t)
        point = self.calibrator_.surprise(z / self.stretch_)
        shift = _GAUSSIAN.surprise(median_shift(z, self.shift_) / (self.shift_scale_ * self.shift_stretch_))
        return np.maximum(
            onsets(point, self.window_, self.hold, self.damping),
            onsets(shift, self.window_, self.hold, self.damping),
        )
