"""Two-sample drift test of residual windows, sample sizes corrected for autocorrelation (pure statistics)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from tsmon.detection._util import FloatArray

# A lag-1 autocorrelation this close to 1 is a random walk: its windows carry almost no evidence.
MAX_R1 = 0.999
WINDOW_BLOCKS = 6  # default: a recent window is six blocks


def lag1_autocorrelation(x: npt.ArrayLike) -> float:
    """``sum((x_t - m)(x_t+1 - m)) / sum((x_t - m)^2)``, ``m`` the mean; 0 below 3 points or variance 0."""
    a = np.asarray(x, dtype=np.float64)
    if a.size < 3:
        return 0.0
    d = a - a.mean()
    denom = float(np.dot(d, d))
    return float(np.dot(d[:-1], d[1:]) / denom) if denom > 0 else 0.0


def effective_size(n: float, r1: float) -> float:
    """``n (1 - r1) / (1 + r1)``: what ``n`` consecutive points of an AR(1) process with lag-1
    autocorrelation ``r1`` are worth, in independent points, for its mean (Var(mean) = sigma^2 / n_eff).

    ``r1`` is clipped to ``[0, 0.999]`` (a negative one is not credited) and the result to
    ``[min(n, 1), n]``: a mean is never more uncertain than one point.
    """
    r = min(max(r1, 0.0), MAX_R1)
    return float(min(n, max(min(n, 1.0), n * (1.0 - r) / (1.0 + r))))


def block_means(x: npt.ArrayLike, block: int) -> FloatArray:
    """Means of consecutive complete blocks of ``block`` points (an incomplete last block is dropped)."""
    a = np.asarray(x, dtype=np.float64)
    k = a.size // block
    return np.asarray(a[: k * block].reshape(k, block).mean(axis=1), dtype=np.float64)


def local_deviations(x: npt.ArrayLike, window: int) -> FloatArray:
    """``|x - median|`` within each consecutive window of ``window`` points (the last may be shorter)."""
    a = np.asarray(x, dtype=np.float64)
    out = np.empty(a.size)
    for start in range(0, a.size, window):
        part = a[start : start + window]
        out[start : start + window] = np.abs(part - np.median(part))
    return out


@dataclass(frozen=True)
class BlockMoments:
    """One statistic over the training window: its mean, the standard deviation (ddof=1), count and lag-1
    autocorrelation of its block means, and the standard deviation of single points."""

    mean: float
    block_sd: float
    blocks: int
    r1: float
    point_sd: float

    @classmethod
    def of(cls, x: npt.ArrayLike, block: int) -> BlockMoments:
        a = np.asarray(x, dtype=np.float64)
        means = block_means(a, block)
        sd = float(np.std(means, ddof=1)) if means.size > 1 else 0.0
        point_sd = float(np.std(a, ddof=1)) if a.size > 1 else 0.0
        return cls(float(a.mean()), sd, int(means.size), lag1_autocorrelation(means), point_sd)

    def n_eff(self, points: float, block: int) -> float:
        """What a mean of ``points`` consecutive points is worth in independent points, under this law."""
        if not self.block_sd > 0:
            return float(points)
        return self.point_sd**2 * effective_size(points / block, self.r1) / self.block_sd**2


@dataclass(frozen=True)
class Reference:
    """What the test keeps of the training residuals: points per ``block`` and per recent ``window``, the
    moments of the residuals (location) and of their deviations from their window's median (spread)."""

    block: int
    window: int
    location: BlockMoments
    spread: BlockMoments

    @classmethod
    def of(cls, residuals: npt.ArrayLike, block: int = 1, window: int | None = None) -> Reference:
        """``window`` (the length of the recent windows to come) defaults to six blocks."""
        w = WINDOW_BLOCKS * block if window is None else window
        if block < 1 or w < 1:
            raise ValueError(f"block and window must be positive numbers of points, got {block!r} and {w!r}")
        r = np.asarray(residuals, dtype=np.float64)
        if r.size < 2 * block:
            raise ValueError(f"{r.size} training residuals do not make two blocks of {block} points")
        return cls(block, w, BlockMoments.of(r, block), BlockMoments.of(local_deviations(r, w), block))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Reference:
        location, spread = BlockMoments(**d["location"]), BlockMoments(**d["spread"])
        return cls(int(d["block"]), int(d["window"]), location, spread)


@dataclass(frozen=True)
class TtestResult:
    statistic: float  # (recent mean - training mean) / its standard error
    pvalue: float  # two-sided
    df: float
    n_eff: tuple[float, float]  # (training, recent), in blocks


def ttest_effective(ref: BlockMoments, recent_mean: float, recent_points: int, block: int) -> TtestResult:
    """t-test of a recent mean against the training mean, each sample counted as its effective number of
    blocks (``effective_size`` with the training blocks' ``r1``), the variance of a block mean the
    training one: the statistic of ``scipy.stats.ttest_ind_from_stats`` with both ``std`` the training
    block sd and each ``nobs`` an effective number of blocks, on ``n_eff_train - 1`` degrees of freedom
    (the variance comes from the training blocks alone).
    """
    n_train = effective_size(ref.blocks, ref.r1)
    n_recent = effective_size(recent_points / block, ref.r1)
    diff = recent_mean - ref.mean
    se = ref.block_sd * math.sqrt(1.0 / n_train + 1.0 / n_recent)
    df = max(n_train - 1.0, 1.0)
    if not se > 0:  # a training window without variation: any difference is a change
        t = 0.0 if diff == 0 else math.copysign(math.inf, diff)
        return TtestResult(t, float(diff == 0), df, (n_train, n_recent))
    t = diff / se
    return TtestResult(float(t), float(2.0 * stats.t.sf(abs(t), df)), float(df), (n_train, n_recent))


@dataclass(frozen=True)
class DriftTestResult:
    """scipy.stats style: ``statistic``, ``pvalue`` and ``n_eff`` of the test, and its two parts.

    ``statistic`` is the t of the part with the smaller p-value, ``pvalue`` Bonferroni's over both
    parts, ``n_eff`` what the recent window is worth in independent points for that part's mean under
    the null (its length when nothing is autocorrelated).  ``shift``: recent mean minus training mean
    in training standard deviations; ``spread_ratio``: recent mean absolute deviation from the median
    over the training one.
    """

    statistic: float
    pvalue: float
    n_eff: float
    location: TtestResult
    spread: TtestResult
    shift: float
    spread_ratio: float


def drift_test(reference: Reference, recent: npt.ArrayLike) -> DriftTestResult:
    """Did the residuals move?  A recent window against the training residuals, on location and spread.

    Location: a t-test of the recent residuals' mean against the training mean.  Spread: the same on
    absolute deviations from the median of each window (Brown-Forsythe's statistic, which unlike an
    F-test of variances keeps its level under heavy tails; from the window's own median, so that a
    shift of the mean is not also a change of spread).  The residuals are grouped in blocks of
    ``reference.block`` points, and each sample counts ``n_eff = n (1 - r1) / (1 + r1)`` blocks, ``r1``
    the lag-1 autocorrelation of the *training* block means (the null's; the recent window has too
    few blocks to estimate its own, and a step inside it would make its own ``r1`` hide the step).
    Blocks make the correction hold on real series: memory longer than one step (an unmodelled slow
    cycle, a profile slightly off at some hours) shows in the variance of block means and hardly in
    the lag-1 autocorrelation of points.  With ``block=1`` it is the plain per-point correction.

    Assumptions: with no drift both windows come from one stationary process, of which the training
    window shows the law; its block means are close to AR(1), and means of the effective number of
    blocks are close to normal; residuals are of the same expectation in both windows.
    """
    r = np.asarray(recent, dtype=np.float64)
    if r.size == 0:
        raise ValueError("the recent window is empty")
    b = reference.block
    location = ttest_effective(reference.location, float(r.mean()), r.size, b)
    deviations = np.abs(r - np.median(r))
    spread = ttest_effective(reference.spread, float(deviations.mean()), r.size, b)
    first = location.pvalue <= spread.pvalue
    part, moments = (location, reference.location) if first else (spread, reference.spread)
    sd, mad = reference.location.point_sd, reference.spread.mean
    return DriftTestResult(
        statistic=part.statistic,
        pvalue=min(1.0, 2.0 * min(location.pvalue, spread.pvalue)),
        n_eff=moments.n_eff(r.size, b),
        location=location,
        spread=spread,
        shift=float((r.mean() - reference.location.mean) / sd) if sd > 0 else 0.0,
        spread_ratio=float(deviations.mean() / mad) if mad > 0 else math.inf,
    )
