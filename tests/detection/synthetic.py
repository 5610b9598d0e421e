"""Synthetic series for the detector tests: a daily cycle at 10-minute spacing, anomalies injected."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tsmon.detection import BaseDetector, make_detector

Array = npt.NDArray[np.float64]

SPACING = 600.0
DAY = 144  # samples
T0 = 1_700_006_400.0  # midnight UTC
TRAIN = 14 * DAY
TEST = 7 * DAY
KINDS = ("spike", "level_shift", "trend_change", "seasonal_break", "flat_line")
# Where each kind starts and how long it is, in test samples.
WINDOWS = {
    "spike": (300, 1),
    "level_shift": (500, 60),
    "trend_change": (400, 160),
    "seasonal_break": (432, DAY),
    "flat_line": (600, 60),
}


def series(*, seasonal: bool = True, noise: float = 1.0, seed: int = 0) -> tuple[Array, Array, Array]:
    """Timestamps, values (level 50, daily amplitude 10, Gaussian noise) and the noiseless signal."""
    n = TRAIN + TEST
    rng = np.random.default_rng(seed)
    t = T0 + SPACING * np.arange(n)
    signal = 50.0 + (10.0 * np.sin(2 * np.pi * np.arange(n) / DAY) if seasonal else np.zeros(n))
    values = np.asarray(signal + noise * rng.standard_normal(n), dtype=np.float64)
    return np.asarray(t, dtype=np.float64), values, np.asarray(signal, dtype=np.float64)


def inject(kind: str, values: Array, signal: Array) -> Array:
    """A copy of ``values`` with one anomaly of ``kind`` in the test part."""
    y = values.copy()
    start, length = WINDOWS[kind]
    s = TRAIN + start
    if kind == "spike":
        y[s] += 8.0
    elif kind == "level_shift":
        y[s:] += 5.0
    elif kind == "trend_change":
        y[s:] += 0.05 * np.arange(y.size - s)
    elif kind == "seasonal_break":
        y[s : s + length] -= signal[s : s + length] - 50.0
    elif kind == "flat_line":
        y[s : s + length] = y[s - 1]
    return y


def detector(name: str) -> BaseDetector:
    return make_detector(name, random_state=0) if name == "iforest" else make_detector(name)
