"""Calibration of a detector statistic into a score in [0, 1]: one minus its tail probability."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from tsmon.detection._util import FloatArray

# The tail shape is read at the 90th percentile of |z| (the 95th of a symmetric law): far enough out
# to see heavy tails, far enough in that a few per cent of anomalies in training barely move it.
_TAIL_LEVEL = 0.9
_GAUSS_RATIO = float(special.ndtri(0.5 + _TAIL_LEVEL / 2) / special.ndtri(0.75))
_MAX_DF = 100.0  # beyond this a Student t is a Gaussian for our purposes
_MIN_TAIL_SAMPLES = 50
# Sampling noise of the percentile ratio for n Gaussian residuals is about 2.9 / sqrt(n) (simulated);
# half of that is forgiven, so Gaussian training data mostly keeps Gaussian tails while statistics
# with mildly heavy tails (a scale estimated from a short window) still get them.
_RATIO_NOISE = 1.45
MIN_P = 1e-300  # tail probabilities are floored here: surprise at most 300


def surprise_of(score: FloatArray) -> FloatArray:
    """``-log10(1 - score)``: the surprise of a calibrated score (capped where it rounds to 1)."""
    return np.asarray(-np.log10(np.maximum(1.0 - score, MIN_P)), dtype=np.float64)


def score_of(surprise: FloatArray) -> FloatArray:
    """``1 - 10 ** -surprise``, the calibrated score of a surprise."""
    return np.asarray(-np.expm1(-np.log(10.0) * surprise), dtype=np.float64)


def _t_ratio(df: float) -> float:
    return float(special.stdtrit(df, 0.5 + _TAIL_LEVEL / 2) / special.stdtrit(df, 0.75))


@dataclass(frozen=True)
class TailCalibrator:
    """Reference law of a detector statistic ``z``, fitted robustly on the training window.

    The law is a location-scale Student t (a Gaussian when ``df`` is None): ``center`` is the
    training median, ``scale`` is set so that the law's median absolute deviation equals the
    training one, and ``df`` so that its 90th percentile of ``|z - center|`` matches too.

    Two-sided (residuals): ``score = 1 - p``, ``p = P(|Z - center| >= |z - center|)``.
    One-sided (anomaly scores where only large is bad): ``score = P(Z <= z)``, fitted on the half
    of the training statistic above its median.  Either way a statistic distributed like the
    training one scores uniformly on [0, 1], so ``P(score >= 0.99) = 1%`` for every detector.
    """

    center: float = 0.0
    scale: float = 1.0
    df: float | None = None
    two_sided: bool = True

    @classmethod
    def fit(cls, z: FloatArray, *, two_sided: bool = True) -> TailCalibrator:
        z = z[np.isfinite(z)]
        if z.size == 0:
            return cls(two_sided=two_sided)
        center = float(np.median(z))
        dev = np.abs(z - center) if two_sided else z[z > center] - center
        if dev.size == 0 or not np.any(dev > 0):
            # A constant statistic: anything else is infinitely rare, the statistic itself is not.
            return cls(center, 1e-12, None, two_sided)
        mad = float(np.median(dev))
        if mad <= 0.0:
            mad = float(np.mean(dev)) * float(special.ndtri(0.75)) / math.sqrt(2 / math.pi)
        df = cls._tail_df(dev, mad)
        q75 = float(special.ndtri(0.75) if df is None else special.stdtrit(df, 0.75))
        return cls(center, mad / q75, df, two_sided)

    @staticmethod
    def _tail_df(dev: FloatArray, mad: float) -> float | None:
        if dev.size < _MIN_TAIL_SAMPLES:
            return None
        ratio = float(np.quantile(dev, _TAIL_LEVEL)) / mad - _RATIO_NOISE / math.sqrt(dev.size)
        if ratio <= _t_ratio(_MAX_DF):
            return None
        if ratio >= _t_ratio(1.0):
            return 1.0
        return float(optimize.brentq(lambda df: _t_ratio(df) - ratio, 1.0, _MAX_DF, xtol=1e-6))

    def _sf(self, u: FloatArray) -> FloatArray:
        if self.df is None:
            return np.asarray(special.ndtr(-u), dtype=np.float64)
        return np.asarray(special.stdtr(self.df, -u), dtype=np.float64)

    def _isf(self, p: float) -> float:
        return float(-special.ndtri(p) if self.df is None else -special.stdtrit(self.df, p))

    def score(self, z: FloatArray) -> FloatArray:
        """Calibrated score of each statistic; NaN (no evidence yet) scores 0."""
        u = (z - self.center) / self.scale
        out = 1.0 - 2.0 * self._sf(np.abs(u)) if self.two_sided else 1.0 - self._sf(u)
        return np.where(np.isnan(out), 0.0, np.clip(out, 0.0, 1.0))

    def surprise(self, z: FloatArray) -> FloatArray:
        """``-log10`` of the tail probability ``score`` is one minus; NaN (no evidence yet) gives 0."""
        u = (z - self.center) / self.scale
        x = -np.abs(u) if self.two_sided else -u
        if self.df is None:
            log_p = special.log_ndtr(x)
        else:
            log_p = np.log(np.maximum(special.stdtr(self.df, x), MIN_P))
        if self.two_sided:
            log_p = log_p + math.log(2.0)
        out = -np.minimum(log_p, 0.0) / math.log(10.0)
        return np.where(np.isnan(out), 0.0, out)

    def halfwidth(self, level: float) -> float:
        """Distance of ``z`` from ``center`` at which the score reaches ``level``.

        One-sided calibrators return the distance above ``center``; it may be negative for levels
        below one half.
        """
        tail = (1.0 - level) / 2.0 if self.two_sided else 1.0 - level
        return self.scale * self._isf(max(tail, 1e-300))


_BODY_LEVELS = np.linspace(0.0, 0.9, 10)
_TAIL_FROM, _TAIL_TO = 0.9, 0.97


@dataclass(frozen=True)
class UpperTailCalibrator:
    """Law of an anomaly score where only large is bad (forest and LOF scores), on training.

    ``score = P(A <= a)``: piecewise linear through the training deciles up to the 90th percentile
    ``q90``, then an exponential tail ``1 - 0.1 exp(-(a - q90) / beta)`` (peaks over threshold),
    ``beta`` fitted so the tail passes through the 97th percentile.  These scores are bounded and
    skewed, so a symmetric law fits their tail badly, while a few per cent of anomalies in
    training barely move the 90th and 97th percentiles.
    """

    knots: tuple[float, ...] = tuple(float(v) for v in _BODY_LEVELS)
    beta: float = 1.0

    @classmethod
    def fit(cls, a: FloatArray) -> UpperTailCalibrator:
        a = a[np.isfinite(a)]
        if a.size == 0:
            return cls()
        knots = np.quantile(a, _BODY_LEVELS)
        beta = (float(np.quantile(a, _TAIL_TO)) - float(knots[-1])) / math.log(
            (1 - _TAIL_FROM) / (1 - _TAIL_TO)
        )
        return cls(tuple(float(v) for v in knots), max(beta, 1e-12))

    def score(self, a: FloatArray) -> FloatArray:
        """Calibrated score of each anomaly score; NaN (no evidence yet) scores 0."""
        knots = np.asarray(self.knots)
        top = knots[-1]
        # Ties among knots (a discrete score) make np.interp pick the highest level: rare = high.
        body = np.interp(a, knots, _BODY_LEVELS, left=0.0)
        tail = 1.0 - (1.0 - _TAIL_FROM) * np.exp(-np.maximum(a - top, 0.0) / self.beta)
        out = np.where(a > top, tail, body)
        return np.where(np.isnan(out), 0.0, np.clip(out, 0.0, 1.0))
