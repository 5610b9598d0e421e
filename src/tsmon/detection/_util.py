"""Array helpers shared by the detectors: robust scale, trailing windows, resistant line."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MAD_TO_SIGMA = 1.482602218505602  # 1 / Phi^-1(3/4): MAD of a Gaussian times this is its sigma
MEAN_AD_TO_SIGMA = 1.2533141373155003  # sqrt(pi / 2): mean absolute deviation of a Gaussian to sigma
TINY = 1e-12


def robust_scale(x: FloatArray, floor: float = 0.0) -> float:
    """Gaussian-consistent scale: 1.4826 MAD, else 1.2533 mean absolute deviation, never below ``floor``.

    The mean-deviation fallback keeps quantised series (mostly one value, MAD 0) from getting a
    zero scale while some of their points still move.
    """
    x = x[np.isfinite(x)]
    if x.size == 0:
        return max(floor, TINY)
    dev = np.abs(x - np.median(x))
    scale = MAD_TO_SIGMA * float(np.median(dev))
    if scale <= 0.0:
        scale = MEAN_AD_TO_SIGMA * float(np.mean(dev))
    return max(scale, floor, TINY)


def value_floor(values: FloatArray) -> float:
    """Smallest scale worth resolving for a series: a constant series must not divide by zero."""
    finite = values[np.isfinite(values)]
    level = float(np.max(np.abs(finite))) if finite.size else 0.0
    return 1e-9 * max(level, 1.0)


def noise_scale(values: FloatArray) -> float:
    """Point-to-point noise sigma from first differences, blind to slow trends and seasonality."""
    if values.size < 3:
        return robust_scale(values, value_floor(values))
    return robust_scale(np.diff(values), value_floor(values)) / math.sqrt(2.0)


def trailing(
    full: FloatArray,
    start: int,
    window: int,
    func: Callable[[FloatArray], FloatArray],
    min_periods: int,
    *,
    include_current: bool = False,
) -> FloatArray:
    """``func`` over the window before (or ending at) each ``full[j]``, ``j`` in ``start..len(full)-1``.

    ``func`` maps windows of shape (m, w) to (..., m).  Windows are cut short at the start of
    ``full``; positions with fewer than ``min_periods`` values get NaN.
    """
    src = np.append(full, np.nan) if include_current else full
    start += int(include_current)
    n = src.size
    probe = func(np.zeros((1, 1)))
    out = np.full((*probe.shape[:-1], n - start), np.nan)
    # Full windows are one vectorised pass; only the first positions of a short history loop.
    first_full = max(start, window)
    if n > first_full:
        out[..., first_full - start :] = func(sliding_window_view(src[:-1], window)[first_full - window :])
    for j in range(start, min(first_full, n)):
        if j >= min_periods:
            out[..., j - start] = func(src[max(0, j - window) : j][None, :])[..., 0]
    return out


def with_history(history: FloatArray, values: FloatArray) -> tuple[FloatArray, int]:
    """The training tail followed by new values, and where the new values start."""
    return np.concatenate((history, values)), history.size


def resistant_line(x: FloatArray, y: FloatArray) -> tuple[float, float]:
    """Tukey's resistant line (medians of outer thirds): slope and the intercept at ``median(x)``.

    O(n log n) unlike Theil-Sen's O(n^2) pairs, and as indifferent to a minority of outliers.
    """
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    third = xs.size // 3
    if third < 2:
        return 0.0, float(np.median(y))
    xl, xr = float(np.median(xs[:third])), float(np.median(xs[-third:]))
    slope = (float(np.median(ys[-third:])) - float(np.median(ys[:third]))) / (xr - xl) if xr > xl else 0.0
    x0 = float(np.median(x))
    return slope, float(np.median(y - slope * (x - x0)))
