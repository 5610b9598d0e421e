"""Ensemble of detectors: the most extreme member score, corrected for the number of members."""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import clone

from tsmon.detection._util import FloatArray
from tsmon.detection.base import Bands, BaseDetector
from tsmon.detection.calibration import MIN_P
from tsmon.detection.ewma import EWMADetector
from tsmon.detection.robust import RollingQuantileDetector
from tsmon.detection.seasonal import SeasonalBaseline

_K_LEVEL = 0.9  # member score at which the effective number of members is measured


class EnsembleDetector(BaseDetector):
    """Combines calibrated member scores by their maximum, Sidak-corrected.

    Each member's score is ``1 - p_j`` with ``p_j`` its tail probability.  The ensemble flags on
    the smallest ``p_j``, whose tail probability among ``k`` independent members would be
    ``1 - (1 - min p)^k``; members see the same series and are far from independent, so ``k`` is
    replaced by an effective ``k_eff_`` in ``[1, k]`` measured on the training window:
    ``P(max_j score_j >= 0.9) = 1 - 0.9^k_eff``.  The score is ``max_j(score_j) ** k_eff_``, so it
    stays calibrated like each member's (``P(score >= 0.99)`` about 1%), and a point is flagged
    when any member scores at least ``threshold ** (1 / k_eff_)``.  Bands are therefore the
    intersection of the members' bands at that level; the expected value is the members' median,
    clipped into the band (an empty intersection collapses to its midpoint).

    Good at: whatever any member is good at, at the price of one calibrated score.

    Parameters
    ----------
    detectors : list of (name, detector) or None, default=None
        Unfitted members, cloned at fit time.  None: seasonal baseline, EWMA / Holt-Winters and
        rolling quantile band.
    threshold : float, default=0.99
        Score at or above which ``predict`` flags a point.
    """

    def __init__(
        self, *, detectors: list[tuple[str, BaseDetector]] | None = None, threshold: float = 0.99
    ) -> None:
        self.detectors = detectors
        self.threshold = threshold

    def _members(self) -> list[tuple[str, BaseDetector]]:
        if self.detectors is None:
            return [
                ("seasonal", SeasonalBaseline()),
                ("ewma", EWMADetector()),
                ("quantile", RollingQuantileDetector()),
            ]
        if not self.detectors or not all(
            isinstance(m, tuple) and len(m) == 2 and isinstance(m[1], BaseDetector) for m in self.detectors
        ):
            raise ValueError("detectors must be a non-empty list of (name, detector) pairs")
        return list(self.detectors)

    def _fit(self, values: FloatArray, t: FloatArray) -> FloatArray:
        timestamps = t if self.time_based_ else None
        self.detectors_ = [(name, clone(d)) for name, d in self._members()]
        scores = np.column_stack([d._fit_validated(values, timestamps) for _, d in self.detectors_])
        top = scores.max(axis=1)
        k = len(self.detectors_)
        frac = float(np.mean(top >= _K_LEVEL))
        k_eff = math.log1p(-min(frac, 1 - 1e-9)) / math.log(_K_LEVEL) if frac > 0 else 1.0
        self.k_eff_ = float(min(max(k_eff, 1.0), k))
        return np.asarray(top**self.k_eff_, dtype=np.float64)

    def _score(self, values: FloatArray, t: FloatArray) -> FloatArray:
        scores = np.column_stack([d._score(values, t) for _, d in self.detectors_])
        return np.asarray(scores.max(axis=1) ** self.k_eff_, dtype=np.float64)

    def _surprise(self, values: FloatArray, t: FloatArray) -> FloatArray:
        top = np.column_stack([d._surprise(values, t) for _, d in self.detectors_]).max(axis=1)
        # 1 - (1 - p_min) ** k_eff without rounding: p_min may be far below 1e-16.
        with np.errstate(divide="ignore"):  # a member surprise of 0 is p = 1: log1p(-1) = -inf, fine
            p = -np.expm1(self.k_eff_ * np.log1p(-(10.0**-top)))
        return np.asarray(-np.log10(np.maximum(p, MIN_P)), dtype=np.float64)

    def _bands(self, values: FloatArray, t: FloatArray, level: float) -> Bands:
        member_level = level ** (1.0 / self.k_eff_)
        bands = [d._bands(values, t, member_level) for _, d in self.detectors_]
        expected = np.median(np.stack([b[0] for b in bands]), axis=0)
        lower = np.max(np.stack([b[1] for b in bands]), axis=0)
        upper = np.min(np.stack([b[2] for b in bands]), axis=0)
        empty = lower > upper
        mid = (lower + upper) / 2
        lower, upper = np.where(empty, mid, lower), np.where(empty, mid, upper)
        return np.clip(expected, lower, upper), lower, upper
