"""Shared pieces of the statistics: the float array type, alternatives and t-distribution p-values."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

FloatArray = npt.NDArray[np.float64]
Alternative = Literal["two-sided", "less", "greater"]
ALTERNATIVES: tuple[Alternative, ...] = ("two-sided", "less", "greater")


def check_alternative(alternative: str) -> Alternative:
    """``alternative`` itself, or ValueError naming the allowed values."""
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {', '.join(ALTERNATIVES)}, not {alternative!r}")
    return alternative


def t_pvalue(t: npt.ArrayLike, df: npt.ArrayLike, alternative: Alternative) -> FloatArray:
    """P-value of a t statistic with ``df`` degrees of freedom under ``alternative`` (NaN stays NaN)."""
    t_ = np.asarray(t, dtype=np.float64)
    df_ = np.asarray(df, dtype=np.float64)
    if alternative == "greater":
        return np.asarray(sps.t.sf(t_, df_), dtype=np.float64)
    if alternative == "less":
        return np.asarray(sps.t.cdf(t_, df_), dtype=np.float64)
    return np.asarray(np.minimum(2.0 * sps.t.sf(np.abs(t_), df_), 1.0), dtype=np.float64)


def as_float(x: npt.ArrayLike) -> FloatArray:
    """``x`` as a 1-d float64 array."""
    return np.atleast_1d(np.asarray(x, dtype=np.float64))
