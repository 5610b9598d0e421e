"""Seasonal robust baseline: robust linear trend plus median profile by hour of day and week."""

from __future__ import annotations

import numpy as np

from tsmon.detection._util import (
    MAD_TO_SIGMA,
    FloatArray,
    IntArray,
    resistant_line,
    robust_scale,
    value_floor,
)
from tsmon.detection.base import ResidualDetector
from tsmon.detection.seasonality import (
    DAY,
    HOUR,
    WEEK,
    bucket_medians,
    bucket_of,
    phase_buckets,
    resolve_period,
)

_MAX_BUCKETS = 168
_PRIOR = 10  # samples' worth of weight pulling a bucket's scale (or weekday deviation) to the pooled one


class SeasonalBaseline(ResidualDetector):
    """Expected value = robust linear trend + seasonal profile; residuals scaled per phase bucket.

    With timestamps, a daily period is profiled by hour of day (UTC) and a weekly one by hour of
    week, shrunk towards the hour-of-day profile so that a few weeks of history suffice.  Without
    timestamps, or for other periods, buckets are positions modulo the period (at most 168
    buckets).  Bucket medians sit at bucket centres and are interpolated between, so a smooth daily
    curve is not a staircase.  The residual scale (1.4826 MAD) is per bucket, shrunk towards the
    pooled one, and inflated for the error of a median of few samples.

    Good at: spikes and dips against the time of day, seasonal breaks (missing daily peak), level
    shifts and trend changes that persist, flat lines where the profile should move.  Weak at:
    changes slower than the training window, since the profile is fixed until refitted.

    Parameters
    ----------
    period : int or None, default=None
        Period in samples; None detects one (see ``detect_period``), 0 means no seasonality.
    trend : bool, default=True
        Fit and extrapolate a robust linear trend (Tukey's resistant line); else a constant level.
    threshold : float, default=0.99
        Score at or above which ``predict`` flags a point.
    """

    def __init__(self, *, period: int | None = None, trend: bool = True, threshold: float = 0.99) -> None:
        self.period = period
        self.trend = trend
        self.threshold = threshold

    def _layout(self) -> tuple[float, int, int]:
        """Profile length (time units), number of buckets, and hour-of-day buckets for a weekly one."""
        if self.period_ == 0:
            return 1.0, 1, 0
        length = self.period_ * self.spacing_
        if self.time_based_ and any(abs(length - p) <= 0.01 * p for p in (DAY, WEEK)):
            length = DAY if abs(length - DAY) <= 0.01 * DAY else WEEK
            n = max(1, round(length / max(self.spacing_, HOUR)))
            coarse = n // 7 if length == WEEK and n % 7 == 0 and n >= 14 else 0
            return length, n, coarse
        return length, min(self.period_, _MAX_BUCKETS), 0

    def _fit_residuals(self, values: FloatArray, t: FloatArray) -> FloatArray:
        self.period_ = resolve_period(self.period, values, self.spacing_ if self.time_based_ else None)
        self.length_, self.n_buckets_, self.n_coarse_ = self._layout()
        floor = value_floor(values)
        keys = bucket_of(t, self.length_, self.n_buckets_)
        self.t0_ = float(np.median(t))
        self.slope_, self.intercept_ = 0.0, float(np.median(values))
        self.profile_ = np.zeros(self.n_buckets_)
        # Trend and profile each need the other removed first; a few alternations settle both.
        for _ in range(3):
            self.profile_ = self._fit_profile(keys, values - self._trend_at(t))
            deseasonalised = values - self._interpolate(self.profile_, t)
            if self.trend:
                self.slope_, self.intercept_ = resistant_line(t - self.t0_, deseasonalised)
            else:
                self.intercept_ = float(np.median(deseasonalised))
        resid = values - self._trend_at(t) - self._interpolate(self.profile_, t)
        pooled = robust_scale(resid, floor)
        centers, counts = bucket_medians(keys, resid, self.n_buckets_)
        mads, _ = bucket_medians(keys, np.abs(resid - np.nan_to_num(centers)[keys]), self.n_buckets_)
        spread = np.where(counts > 0, MAD_TO_SIGMA * np.nan_to_num(mads), pooled)
        shrunk = np.sqrt((counts * spread**2 + _PRIOR * pooled**2) / (counts + _PRIOR))
        shrunk = np.maximum(shrunk, floor)
        # A bucket median of m samples is off by ~sqrt(pi/2m) sigma: new points see that error on top,
        # while in-sample residuals are pulled towards their own median (variance 1 + pi/2m - 2/m).
        m = np.maximum(self._profile_counts(keys, counts), 1).astype(np.float64)
        inflation = np.sqrt((1 + np.pi / (2 * m)) / np.maximum(1 + np.pi / (2 * m) - 2 / m, 0.25))
        self.scale_ = shrunk * inflation
        return resid / self._interpolate(shrunk, t)

    def _fit_profile(self, keys: IntArray, y: FloatArray) -> FloatArray:
        n = self.n_buckets_
        if self.n_coarse_:
            hour, _ = bucket_medians(keys % self.n_coarse_, y, self.n_coarse_)
            hour = np.nan_to_num(hour)[np.arange(n) % self.n_coarse_]
            dev, counts = bucket_medians(keys, y - hour[keys], n)
            profile = hour + np.nan_to_num(dev) * counts / (counts + _PRIOR)
        else:
            med, _ = bucket_medians(keys, y, n)
            profile = np.nan_to_num(med, nan=float(np.nanmedian(med)) if np.any(np.isfinite(med)) else 0.0)
        return np.asarray(profile - np.median(profile), dtype=np.float64)

    def _profile_counts(self, keys: IntArray, counts: IntArray) -> FloatArray:
        if not self.n_coarse_:
            return counts.astype(np.float64)
        hourly = np.bincount(keys % self.n_coarse_, minlength=self.n_coarse_)
        return np.asarray(hourly[np.arange(self.n_buckets_) % self.n_coarse_], dtype=np.float64)

    def _trend_at(self, t: FloatArray) -> FloatArray:
        return self.intercept_ + self.slope_ * (t - self.t0_)

    def _interpolate(self, per_bucket: FloatArray, t: FloatArray) -> FloatArray:
        if per_bucket.size == 1:
            return np.full(t.size, float(per_bucket[0]))
        lo, hi, w = phase_buckets(t, self.length_, per_bucket.size)
        return np.asarray((1 - w) * per_bucket[lo] + w * per_bucket[hi], dtype=np.float64)

    def _residuals(self, values: FloatArray, t: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        center = self._trend_at(t) + self._interpolate(self.profile_, t)
        return values, center, self._interpolate(self.scale_, t)


def fit_cycle(
    detector: ResidualDetector, period: int | None, values: FloatArray, t: FloatArray
) -> tuple[int, SeasonalBaseline | None]:
    """The period (``resolve_period``'s rules) of a detector being fitted, and a trend-free seasonal
    profile of it (None without one): what detectors that work on the de-seasonalised series use."""
    found = resolve_period(period, values, detector.spacing_ if detector.time_based_ else None)
    if not found:
        return 0, None
    baseline = SeasonalBaseline(period=found, trend=False)
    baseline._fit_validated(values, t if detector.time_based_ else None)
    return found, baseline


def cycle_at(baseline: SeasonalBaseline | None, t: FloatArray) -> FloatArray:
    """The seasonal profile's value at times ``t`` (zero without a profile)."""
    return np.zeros(t.size) if baseline is None else baseline._interpolate(baseline.profile_, t)
