"""Drift between a model's training data and recent data: residuals from its seasonal expectation, tested."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from tsmon.detection import BaseDetector, EnsembleDetector, ExtremeDetector, SeasonalBaseline
from tsmon.detection._util import FloatArray
from tsmon.detection.drift_test import DriftTestResult, Reference, drift_test
from tsmon.detection.seasonality import phase_buckets

# Drift is tested once an hour (a day for 1h windows) on the last 6 hours (7 days) of windows.
DRIFT_EVERY = {"1m": timedelta(hours=1), "1h": timedelta(days=1)}
DRIFT_RECENT = {"1m": timedelta(hours=6), "1h": timedelta(days=7)}
BLOCKS = 6  # blocks per recent window (an hour each at 1m): the time scale whose memory the test measures
# Hourly tests make 168 a week per series. The demo's control twins reach p = 1e-4 in some weeks
# (docs/detection.md#drift); at 1e-5 a series that does not drift retrains for nothing once a decade.
ALPHA = 1e-5
MIN_RECENT_POINTS = 60
FORMAT = (
    2  # summaries before step 7 (quantiles of raw values) are not tested; the daily retraining replaces them
)


@dataclass(frozen=True)
class Drift:
    test: DriftTestResult

    @property
    def drifted(self) -> bool:
        return self.test.pvalue < ALPHA


def _profile(baseline: SeasonalBaseline, intercept: float | None = None) -> dict[str, Any]:
    trend = intercept is None
    return {
        "length": float(baseline.length_),
        "cycle": baseline.profile_.tolist(),
        "scale": baseline.scale_.tolist(),
        "t0": float(baseline.t0_),
        "slope": float(baseline.slope_) if trend else 0.0,
        "intercept": float(baseline.intercept_) if intercept is None else intercept,
    }


def profile_of(detector: BaseDetector | None, times: FloatArray, values: FloatArray) -> dict[str, Any]:
    """The model's seasonal expectation: its fitted profile (and trend) if it has one, else one fitted here.

    `seasonal` is its own trend and profile, `extreme` and `onset` their centre plus the profile they
    de-seasonalise with, `ensemble` its seasonal member; other detectors expect no cycle, so the rows
    get a `SeasonalBaseline` of their own: drift is then judged net of the series' cycle.
    """
    if isinstance(detector, EnsembleDetector):
        members = [d for _, d in detector.detectors_ if isinstance(d, SeasonalBaseline)]
        detector = members[0] if members else None
    if isinstance(detector, SeasonalBaseline):
        return _profile(detector)
    if isinstance(detector, ExtremeDetector):
        if detector.baseline_ is None:
            scale = float(detector.scale_)
            return {
                "length": 1.0,
                "cycle": [0.0],
                "scale": [scale],
                "t0": 0.0,
                "slope": 0.0,
                "intercept": float(detector.center_),
            }
        return _profile(detector.baseline_, intercept=float(detector.center_))
    return _profile(SeasonalBaseline().fit(values, timestamps=times))


def expected(profile: Mapping[str, Any], times: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The profile's expected value (trend + cycle) and residual scale at epoch seconds ``times``."""
    level = float(profile["intercept"]) + float(profile["slope"]) * (times - float(profile["t0"]))
    cycle = np.asarray(profile["cycle"], dtype=np.float64)
    scale = np.asarray(profile["scale"], dtype=np.float64)
    if cycle.size == 1:
        return level + cycle[0], np.full(times.size, scale[0])
    lo, hi, w = phase_buckets(times, float(profile["length"]), cycle.size)
    return level + (1 - w) * cycle[lo] + w * cycle[hi], (1 - w) * scale[lo] + w * scale[hi]


def residuals(profile: Mapping[str, Any], times: FloatArray, values: FloatArray) -> FloatArray:
    """Values minus the expectation, in units of the profile's scale at their time of day or week."""
    mean, scale = expected(profile, times)
    return np.asarray((values - mean) / scale, dtype=np.float64)


def summarize(
    times: np.ndarray, values: np.ndarray, recent: timedelta, detector: BaseDetector | None = None
) -> dict[str, object]:
    """What a model keeps of its training rows to test drift on windows of ``recent`` later: its
    seasonal expectation (`profile_of`) and the test's reference of the residuals from it, in blocks of
    a sixth of ``recent``."""
    t, v = np.asarray(times, dtype=np.float64), np.asarray(values, dtype=np.float64)
    profile = profile_of(detector, t, v)
    steps = np.diff(t)
    spacing = float(np.median(steps[steps > 0])) if np.any(steps > 0) else 60.0
    window = max(1, round(recent.total_seconds() / spacing))
    block = max(1, min(window // BLOCKS, v.size // 2))
    reference = Reference.of(residuals(profile, t, v), block, window)
    return {"format": FORMAT, "n": int(v.size), "profile": profile, "reference": reference.to_dict()}


def measure(summary: Mapping[str, Any], times: np.ndarray, recent: np.ndarray) -> Drift | None:
    """The drift test of the recent window against the training residuals; None when it cannot say."""
    if summary.get("format") != FORMAT or recent.size < MIN_RECENT_POINTS:
        return None
    reference = Reference.from_dict(summary["reference"])
    t, v = np.asarray(times, dtype=np.float64), np.asarray(recent, dtype=np.float64)
    return Drift(drift_test(reference, residuals(summary["profile"], t, v)))
