"""Holt-Winters (EWMA level plus seasonal indices) one-step-ahead forecast band."""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy import signal

from tsmon.detection._util import FloatArray, IntArray, robust_scale, value_floor
from tsmon.detection.base import ResidualDetector
from tsmon.detection.seasonal import SeasonalBaseline
from tsmon.detection.seasonality import resolve_period

_ALPHAS = (0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.8)
_GAMMAS = (0.05, 0.2)
_CLIP = 3.0  # errors beyond this many sigmas update the state as if they were this large


def _levels(d: FloatArray, level: float, alpha: float, step: FloatArray) -> FloatArray:
    """Levels after each point: ``l_t = l_{t-1} + step_t`` where ``step_t`` is finite (a clipped
    error), else ``l_t = (1 - alpha) l_{t-1} + alpha d_t``, run as a linear filter between those."""
    out = np.empty_like(d)
    cur, pos = level, 0
    for i in [*np.flatnonzero(np.isfinite(step)).tolist(), d.size]:
        if i > pos:
            seg, _ = signal.lfilter([alpha], [1.0, alpha - 1.0], d[pos:i], zi=[(1.0 - alpha) * cur])
            out[pos:i] = seg
            cur = float(seg[-1])
        if i < d.size:
            cur += float(step[i])
            out[i] = cur
        pos = i + 1
    return out


def _level_block(d: FloatArray, level: float, alpha: float, clip: float) -> tuple[FloatArray, float]:
    """Levels before each point of ``l_t = l_{t-1} + alpha * clip(d_t - l_{t-1})``, and the last level.

    Given which errors are clipped the recursion is linear, so guess the clipped set, compute the
    levels exactly, and re-derive the set.  Everything before the first wrong guess is exact, so
    that point moves forward every round: few rounds, and one when nothing is clipped.
    """
    step = np.full(d.size, np.nan)
    while True:
        lv = _levels(d, level, alpha, step)
        prev = np.concatenate(([level], lv[:-1]))
        err = d - prev
        new = np.where(np.abs(err) > clip, alpha * np.copysign(clip, err), np.nan)
        if np.array_equal(new, step, equal_nan=True):
            return prev, float(lv[-1])
        step = new


def holt_winters(
    y: FloatArray, k: IntArray, *, level: float, season: FloatArray, alpha: float, gamma: float, clip: float
) -> tuple[FloatArray, float, FloatArray]:
    """One-step-ahead forecasts of additive Holt-Winters in error-correction form, and the end state.

    ``k`` are step numbers (gaps allowed: the state holds over missing steps); the seasonal index of
    step ``k`` is ``k mod len(season)``.  Within one cycle no index repeats, so the level runs as a
    vectorised filter over the cycle and the indices are updated once at its end.
    """
    s = season.copy()
    forecast = np.empty_like(y)
    period = s.size
    if period == 1:
        prev, level = _level_block(y - s[0], level, alpha, clip)
        return prev + s[0], level, s
    cycles = k // period
    edges = [0, *(np.flatnonzero(np.diff(cycles)) + 1).tolist(), y.size]
    for lo, hi in itertools.pairwise(edges):
        phase = k[lo:hi] % period
        d = y[lo:hi] - s[phase]
        prev, level = _level_block(d, level, alpha, clip)
        forecast[lo:hi] = prev + s[phase]
        np.add.at(s, phase, gamma * np.clip(d - prev, -clip, clip))
    return forecast, level, s


class EWMADetector(ResidualDetector):
    """Causal one-step-ahead forecast: EWMA level, plus seasonal indices when a period is found.

    Additive Holt-Winters without a trend term (the level's adaptation absorbs drift; a trend term
    overshoots after level shifts).  Errors update the state clipped at 3 sigma, so a spike does
    not drag the forecast.  The initial level and indices come from a :class:`SeasonalBaseline` of
    the training window; ``alpha`` and ``gamma`` default to the pair of a small grid with the least
    clipped absolute one-step error on it.  Scoring continues from the state at the end of the
    training window.

    Good at: spikes and dips against the recent level, the onset of level shifts, seasonal breaks;
    adapts to slow drift.  Weak at: level shifts after they settle (by design), slow trend changes.

    Parameters
    ----------
    alpha : float or None, default=None
        Level smoothing in (0, 1]; None picks from a grid.
    gamma : float or None, default=None
        Seasonal smoothing in [0, 1]; None picks from a grid.
    period : int or None, default=None
        Period in samples; None detects one, 0 means no seasonal indices.
    threshold : float, default=0.99
        Score at or above which ``predict`` flags a point.
    """

    def __init__(
        self,
        *,
        alpha: float | None = None,
        gamma: float | None = None,
        period: int | None = None,
        threshold: float = 0.99,
    ) -> None:
        self.alpha = alpha
        self.gamma = gamma
        self.period = period
        self.threshold = threshold

    def _steps(self, t: FloatArray) -> IntArray:
        return np.rint(t / self.spacing_).astype(np.int64)

    def _fit_residuals(self, values: FloatArray, t: FloatArray) -> FloatArray:
        for name in ("alpha", "gamma"):
            v = getattr(self, name)
            if v is not None and not (0.0 <= v <= 1.0 and (name == "gamma" or v > 0.0)):
                raise ValueError(f"{name} must be in {'(0, 1]' if name == 'alpha' else '[0, 1]'}, got {v!r}")
        self.period_ = resolve_period(self.period, values, self.spacing_ if self.time_based_ else None)
        base = SeasonalBaseline(period=self.period_, threshold=self.threshold)
        base._fit_validated(values, t if self.time_based_ else None)
        phases = np.arange(max(self.period_, 1), dtype=np.float64) * self.spacing_
        season = base._interpolate(base.profile_, phases) if self.period_ else np.zeros(1)
        level = float(base._trend_at(t[:1])[0])
        k = self._steps(t)
        floor = value_floor(values)

        def run(alpha: float, gamma: float, clip: float) -> tuple[FloatArray, float, FloatArray]:
            return holt_winters(values, k, level=level, season=season, alpha=alpha, gamma=gamma, clip=clip)

        burn = min(values.size // 4, 30)
        sigma = robust_scale((values - run(0.1, 0.1, math.inf)[0])[burn:], floor)
        clip = _CLIP * sigma
        alphas = _ALPHAS if self.alpha is None else (self.alpha,)
        gammas = (0.0,) if not self.period_ else _GAMMAS if self.gamma is None else (self.gamma,)
        best: tuple[float, float, float] | None = None
        for alpha in alphas:
            for gamma in gammas:
                err = (values - run(alpha, gamma, clip)[0])[burn:]
                loss = float(np.mean(np.minimum(np.abs(err), clip))) if err.size else 0.0
                if best is None or loss < best[0]:
                    best = (loss, alpha, gamma)
        assert best is not None
        _, self.alpha_, self.gamma_ = best
        forecast, self.level_, self.season_ = run(self.alpha_, self.gamma_, clip)
        self.scale_ = sigma
        z = (values - forecast) / sigma
        z[:burn] = np.nan
        return z

    def _residuals(self, values: FloatArray, t: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        forecast, _, _ = holt_winters(
            values,
            self._steps(t),
            level=self.level_,
            season=self.season_,
            alpha=self.alpha_,
            gamma=self.gamma_,
            clip=_CLIP * self.scale_,
        )
        return values, forecast, np.full(values.size, self.scale_)
