"""Many tests at once (one per series): Benjamini-Hochberg false discovery rate, Holm family-wise error."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tsmon.stats._common import FloatArray, as_float


@dataclass(frozen=True)
class FDRResult:
    """Adjusted p-values (q-values) in the input order, and which are rejected at ``alpha``.

    NaN p-values (tests that could not run) stay NaN and are neither counted nor rejected.
    """

    qvalue: FloatArray
    rejected: npt.NDArray[np.bool_]
    alpha: float


def benjamini_hochberg(pvalues: npt.ArrayLike, *, alpha: float = 0.05) -> FDRResult:
    """``q_(i) = min_{j >= i} p_(j) m / j``, as ``scipy.stats.false_discovery_control(method='bh')``.

    Assumes independent (or positively dependent) tests: then at most ``alpha`` of the rejected
    are expected to be false discoveries. Among 1,000 series some p < 0.05 by chance alone;
    flag by q, not p.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), not {alpha}")
    p = as_float(pvalues)
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size:
        order = ok[np.argsort(p[ok], kind="stable")]
        m = ok.size
        scaled = p[order] * m / np.arange(1, m + 1)
        q[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return FDRResult(q, np.where(np.isfinite(q), q <= alpha, False), alpha)


def holm(pvalues: npt.ArrayLike, *, alpha: float = 0.05) -> FDRResult:
    """Holm's step-down adjustment: ``q_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``.

    Controls the family-wise error rate (the chance of any false flag) at ``alpha`` under any
    dependence; stricter than Benjamini-Hochberg, for when one false alarm is costly.
    NaN p-values stay NaN and are not counted.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), not {alpha}")
    p = as_float(pvalues)
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size:
        order = ok[np.argsort(p[ok], kind="stable")]
        m = ok.size
        q[order] = np.minimum(np.maximum.accumulate(p[order] * (m - np.arange(m))), 1.0)
    return FDRResult(q, np.where(np.isfinite(q), q <= alpha, False), alpha)
