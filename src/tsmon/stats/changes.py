"""What changed: per-series change scores of a window against the baseline just before it (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

Alternative = Literal["two-sided", "greater", "less"]
ALTERNATIVES: tuple[str, ...] = ("two-sided", "greater", "less")
BASELINE_FACTOR = 4  # the baseline is four times as long as the window and ends where it starts
# A counter may reset a few times; a gauge with two or more samples a minute drops inside most minutes.
COUNTER_DROPS_ALLOWED = 2
COUNTER_DROP_SHARE = 0.02
# Boosts for co-anomalies: a series with its own event overlapping the window, and the earliest one.
CO_ANOMALY_BOOST = 2.0
CANDIDATE_CAUSE_BOOST = 3.0
Float = npt.NDArray[np.float64]
Int = npt.NDArray[np.int64]


@dataclass(frozen=True)
class VolumeResult:
    """Volume scores of many series (arrays aligned with the inputs).

    ``statistic`` is ``|window_mean - baseline_mean| / spread`` (signed part only for a one-sided
    ``alternative``); ``spread`` is the baseline's sample standard deviation of the per-minute values,
    floored at 1e-6 of the larger mean (and 1e-300) so a constant baseline does not divide by zero.
    """

    statistic: Float
    delta: Float
    relative_delta: Float  # delta / |baseline mean|; NaN when the baseline mean is 0
    spread: Float


def volume(
    window_mean: Float,
    baseline_mean: Float,
    baseline_stddev: Float,
    *,
    alternative: Alternative = "two-sided",
) -> VolumeResult:
    """Netdata-like "volume" score: the shift of the mean in units of the baseline's spread.

    Assumes each series' per-minute values (1m window averages, or per-minute increases of a
    counter) are comparable within the baseline, i.e. the baseline describes normal behaviour; it
    does not model seasonality or autocorrelation, so it is a ranking score, not a test.
    ``alternative``: ``two-sided`` scores any shift, ``greater`` only rises, ``less`` only falls.
    """
    wm = np.asarray(window_mean, dtype=np.float64)
    bm = np.asarray(baseline_mean, dtype=np.float64)
    sd = np.nan_to_num(np.asarray(baseline_stddev, dtype=np.float64), nan=0.0)
    delta = wm - bm
    spread = np.maximum(np.maximum(sd, 1e-6 * np.maximum(np.abs(bm), np.abs(wm))), 1e-300)
    if alternative == "two-sided":
        shift = np.abs(delta)
    elif alternative == "greater":
        shift = np.maximum(delta, 0.0)
    elif alternative == "less":
        shift = np.maximum(-delta, 0.0)
    else:
        raise ValueError(f"alternative must be one of {', '.join(ALTERNATIVES)}, not {alternative!r}")
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(bm != 0, delta / np.abs(bm), np.nan)
    return VolumeResult(shift / spread, delta, relative, spread)


@dataclass(frozen=True)
class KS2Result:
    """Two-sample Kolmogorov-Smirnov of one series' window values against its baseline values."""

    statistic: float  # D: the largest distance between the two empirical distribution functions
    pvalue: float
    window_points: int
    baseline_points: int


def ks2(window: Float, baseline: Float, *, alternative: Alternative = "two-sided") -> KS2Result:
    """KS2 as Netdata's metric correlations use it, via ``scipy.stats.ks_2samp``.

    Assumes independent values (per-minute values are usually autocorrelated, so the p-value is
    optimistic; rank by the statistic). ``alternative`` as in scipy ("greater": the window's
    distribution function lies above the baseline's, i.e. window values tend to be smaller).
    """
    res = sps.ks_2samp(window, baseline, alternative=alternative)
    return KS2Result(float(res.statistic), float(res.pvalue), len(window), len(baseline))


def counter_like(
    multi_sample_minutes: Int, drop_minutes: Int, total_minutes: Int, max_increase: Float
) -> npt.NDArray[np.bool_]:
    """Which series behave as counters (monotonic, with resets).

    Decided from 1m windows alone (tsmon stores no metric types): at least half of the minutes hold
    two or more samples, at most max(2, 2 %) of those minutes hold a drop (a reset), and the series
    increased at all. A drop is a minute whose reset-aware increase exceeds last - first.
    """
    multi = np.asarray(multi_sample_minutes)
    counter: npt.NDArray[np.bool_] = (
        (multi * 2 >= np.asarray(total_minutes))
        & (np.asarray(drop_minutes) <= np.maximum(COUNTER_DROPS_ALLOWED, COUNTER_DROP_SHARE * multi))
        & (np.asarray(max_increase) > 0)
    )
    return counter


def skip_reasons(
    window_points: Int, baseline_points: Int, low: Float, high: Float, *, min_window: int, min_baseline: int
) -> npt.NDArray[np.str_]:
    """'' for a series to rank, 'sparse' (too few minutes with data), or 'constant' (one value throughout)."""
    sparse = (np.asarray(window_points) < min_window) | (np.asarray(baseline_points) < min_baseline)
    constant = np.asarray(low) == np.asarray(high)
    return np.where(sparse, "sparse", np.where(constant, "constant", ""))


def co_anomaly_boost(statistic: Float, onset: Float) -> tuple[Float, Int]:
    """Combine scores with co-anomalies: anomaly events of the ranked series overlapping the window.

    ``onset`` is each series' earliest overlapping event start (epoch seconds, NaN: none). Series with
    an event are ordered by onset (1 = earliest, the candidate cause; 0: no event); their score is the
    statistic times 2, the candidate cause's times 3, so co-anomalous series rise without hiding a
    large change that no detector flagged. Ties in onset keep the input order.
    """
    stat = np.asarray(statistic, dtype=np.float64)
    on = np.asarray(onset, dtype=np.float64)
    order = np.zeros(stat.shape, dtype=np.int64)
    flagged = np.flatnonzero(~np.isnan(on))
    if flagged.size:
        ranked = flagged[np.argsort(on[flagged], kind="stable")]
        order[ranked] = np.arange(1, ranked.size + 1)
    boost = np.where(order == 1, CANDIDATE_CAUSE_BOOST, np.where(order > 0, CO_ANOMALY_BOOST, 1.0))
    return stat * boost, order
