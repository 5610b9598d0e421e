"""Extreme values against the training window, one alarm per episode: repeats within a window are damped."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tsmon.detection._util import FloatArray
from tsmon.detection.base import Bands
from tsmon.detection.calibration import score_of
from tsmon.detection.robust import GaussianDetector, _check_window
from tsmon.detection.seasonal import cycle_at, fit_cycle


def recent_max(surprise: FloatArray, window: int, hold: int = 0) -> FloatArray:
    """The largest surprise among rows ``i - window .. i - hold - 1`` before each row ``i`` (0: none)."""
    span = window - hold
    if span <= 0:
        return np.zeros(surprise.size)
    padded = np.concatenate((np.zeros(window), surprise))[: surprise.size + span - 1]
    return np.asarray(sliding_window_view(padded, span).max(axis=1), dtype=np.float64)


def onsets(raw: FloatArray, window: int, hold: int, damping: float) -> FloatArray:
    """``raw`` where it beats ``recent_max`` of the rows before, ``damping`` of it elsewhere."""
    return np.where(raw > recent_max(raw, window, hold), raw, damping * raw)


class ExtremeDetector(GaussianDetector):
    """Gaussian z-score against the training window, kept only where it beats the recent rows.

    The statistic is the z-score of the residual from the seasonal profile (when a period is
    found) against the training residuals' mean and standard deviation.  A training window whose
    largest |z| exceeds ``reach`` stretches the scale by that ratio: on a bursty series a point
    must go beyond the bursts already seen before it is news, which keeps the rarest points of
    quiet and wild series comparable under one threshold.  A row keeps its surprise (``-log10`` of
    the two-sided Gaussian tail) when it is more surprising than every one of the rows ``window``
    to ``hold + 1`` before it, and ``damping`` of it otherwise: the first rows of a burst, a shift
    or an outage carry the alarm, and the rows after them, which only say the same again, do not.
    Scores are ``1 - 10 ** -surprise``.  A row's score needs the ``window`` rows before it: the
    worker's context (``scoring_context``, 60 windows) covers the default.

    Good at: spikes, bursts and shifts beyond the usual range, one alarm per episode; the best of
    tsmon's detectors on NAB (docs/detection.md).  Weak at: anything inside the usual range; long
    events (an event lasts about ``hold + 1`` windows, so ``min_duration`` must not exceed that).

    Parameters
    ----------
    window : int, default=60
        Rows looked back at (>= 1).
    damping : float, default=0.0
        Share of its surprise a row keeps when a recent row was at least as surprising.
    reach : float or None, default=4.0
        Largest training |z| taken as ordinary; None: never stretch the scale.
    period : int or None, default=None
        Period in samples; None detects one, 0 means no seasonal profile.
    hold : int, default=0
        Rows after an onset that keep their score (``hold: 2`` lets a 3-window event open).
    threshold : float, default=0.99
        Score at or above which ``predict`` flags a point.
    """

    scoring_context: ClassVar[int] = 60  # the default window: the worker passes this many earlier windows

    def __init__(
        self,
        *,
        window: int = 60,
        damping: float = 0.0,
        reach: float | None = 4.0,
        period: int | None = None,
        hold: int = 0,
        threshold: float = 0.99,
    ) -> None:
        self.window = window
        self.hold = hold
        self.period = period
        self.damping = damping
        self.reach = reach
        self.threshold = threshold

    def _fit(self, values: FloatArray, t: FloatArray) -> FloatArray:
        self._fit_extreme(values, t)
        return self._score(values, t)

    def _fit_extreme(self, values: FloatArray, t: FloatArray) -> None:
        self.window_ = _check_window(self.window, 1)
        if not 0.0 <= self.damping <= 1.0:
            raise ValueError(f"damping must be in [0, 1], got {self.damping!r}")
        self.period_, self.baseline_ = fit_cycle(self, self.period, values, t)
        flat = values - self._seasonal(t)
        super()._fit(flat, t)
        z = np.abs(flat - self.center_) / self.scale_
        self.stretch_ = 1.0
        if self.reach is not None and z.size:
            self.stretch_ = max(1.0, float(np.max(z)) / self.reach)

    def _seasonal(self, t: FloatArray) -> FloatArray:
        return cycle_at(self.baseline_, t)

    def _residuals(self, values: FloatArray, t: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        seasonal = self._seasonal(t)
        return values, self.center_ + seasonal, np.full(values.size, self.scale_)

    def _bands(self, values: FloatArray, t: FloatArray, level: float) -> Bands:
        # The band of the undamped score: a damped repeat lies outside it without being flagged.
        _, center, scale = self._residuals(values, t)
        half = self.calibrator_.halfwidth(level) * scale * self.stretch_
        return center, center - half, center + half

    def _raw_surprise(self, values: FloatArray, t: FloatArray) -> FloatArray:
        """Each row's surprise before repeats are damped."""
        _, center, scale = self._residuals(values, t)
        return self.calibrator_.surprise((values - center) / (scale * self.stretch_))

    def _surprise(self, values: FloatArray, t: FloatArray) -> FloatArray:
        return onsets(self._raw_surprise(values, t), self.window_, self.hold, self.damping)

    def _score(self, values: FloatArray, t: FloatArray) -> FloatArray:
        return score_of(self._surprise(values, t))
