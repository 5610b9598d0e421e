"""Forecast accuracy: MASE (scaled by the in-sample seasonal naive error), sMAPE, band coverage."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tsmon.forecast.base import FloatArray

_TINY = 1e-12


def mase_scale(history: npt.ArrayLike, season: int) -> float:
    """Mean absolute one-season change of ``history``: the in-sample error of seasonal naive.

    Hyndman and Koehler's scale (2006): with it, MASE 1 is "as good as repeating last season,
    in sample".  ``season`` 1 is the plain naive forecast.  A series that never changes gets a
    tiny positive scale relative to its level so that MASE stays finite.
    """
    y = np.asarray(history, dtype=np.float64)
    s = max(1, int(season))
    if y.size <= s:
        s = 1
    changes = np.abs(y[s:] - y[:-s]) if y.size > s else np.zeros(1)
    scale = float(np.mean(changes))
    level = float(np.max(np.abs(y))) if y.size else 0.0
    return max(scale, 1e-9 * max(level, 1.0), _TINY)


def mase(actual: npt.ArrayLike, forecast: npt.ArrayLike, scale: float) -> float:
    """Mean absolute error of ``forecast`` divided by ``scale`` (see :func:`mase_scale`)."""
    a, f = np.asarray(actual, dtype=np.float64), np.asarray(forecast, dtype=np.float64)
    return float(np.mean(np.abs(a - f)) / scale)


def smape(actual: npt.ArrayLike, forecast: npt.ArrayLike) -> float:
    """Symmetric MAPE in percent, 0-200: ``mean(2 |a - f| / (|a| + |f|))``; 0/0 counts as 0."""
    a, f = np.asarray(actual, dtype=np.float64), np.asarray(forecast, dtype=np.float64)
    den = np.abs(a) + np.abs(f)
    ratio: FloatArray = np.divide(2.0 * np.abs(a - f), den, out=np.zeros_like(den), where=den > 0)
    return float(100.0 * np.mean(ratio))


def coverage(actual: npt.ArrayLike, lower: npt.ArrayLike, upper: npt.ArrayLike) -> float:
    """Share of ``actual`` inside ``[lower, upper]``."""
    a = np.asarray(actual, dtype=np.float64)
    inside = (a >= np.asarray(lower, dtype=np.float64)) & (a <= np.asarray(upper, dtype=np.float64))
    return float(np.mean(inside))
