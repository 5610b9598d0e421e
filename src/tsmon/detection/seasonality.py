"""Period detection (periodogram candidates checked by autocorrelation) and phase profiles."""

from __future__ import annotations

import numpy as np
from scipy import signal

from tsmon.detection._util import FloatArray, IntArray, robust_scale

HOUR = 3600.0
DAY = 86400.0
WEEK = 7 * DAY
CALENDAR_PERIODS = (HOUR, DAY, WEEK)
MIN_ACF = 0.3  # autocorrelation at the period needed to call a series seasonal
_TROUGH = 0.2  # a period's autocorrelation must exceed that at half the period by this much
# A longer period must beat a shorter one by this much. On a plain daily series the weekly lag wins
# by more than 0.05 about one time in ten (three weeks, noise 2/3 of the amplitude), a cheap mistake
# for the seasonal baseline, whose week is a day plus shrunken weekday deviations; quieter weekends
# win by more.
_PREFER_LONGER = 0.05


def _acf(x: FloatArray) -> FloatArray:
    """Autocorrelation at every lag, corrected for the shrinking overlap (unbiased)."""
    n = x.size
    x = x - x.mean()
    f = np.fft.rfft(x, 2 * n)
    raw = np.fft.irfft(f * np.conj(f))[:n]
    if raw[0] <= 0:
        return np.zeros(n)
    return np.asarray(raw / raw[0] * n / (n - np.arange(n)), dtype=np.float64)


def _prepared(values: FloatArray) -> FloatArray:
    x = np.asarray(values, dtype=np.float64)
    x = signal.detrend(x)
    # Clip spikes so one outlier cannot manufacture or hide a period.
    med, scale = float(np.median(x)), robust_scale(x)
    return np.asarray(np.clip(x, med - 5 * scale, med + 5 * scale), dtype=np.float64)


def _is_peak(acf: FloatArray, lag: int) -> bool:
    # A smooth slow signal correlates at every short lag; a real period has a trough before it.
    return bool(acf[lag] >= MIN_ACF and acf[lag] - acf[max(1, lag // 2)] >= _TROUGH)


def detect_period(values: FloatArray, spacing: float | None = None) -> int:
    """Dominant period in samples, or 0 when the series is not convincingly seasonal.

    With ``spacing`` (seconds between samples) only calendar periods are considered: an hour, a
    day or a week, in samples, when at least two cycles fit in the data.  Without it, the five
    highest peaks of the periodogram (scipy.signal.periodogram) propose periods, each moved to the
    nearby lag whose multiples correlate best, and at least three cycles must fit.  A candidate is
    kept when its autocorrelation is at least 0.3 and 0.2 above that at half the period; among
    kept ones a longer period must correlate 0.05 better than a shorter one (a weekly pattern wins
    over its daily part only when weekends differ).
    """
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    if n < 8 or np.ptp(x) == 0:
        return 0
    x = _prepared(x)
    acf = _acf(x)
    if spacing is not None:
        candidates = {round(p / spacing) for p in CALENDAR_PERIODS if p >= 2 * spacing}
    else:
        freqs, power = signal.periodogram(x, detrend=False)
        top = np.argsort(power[1:])[::-1][:5] + 1
        candidates = {_refine(acf, round(1.0 / freqs[i])) for i in top if freqs[i] > 0}
    # Three cycles, not two: a random walk's slow wander passes for two cycles of anything.
    cycles = 2 if spacing is not None else 3
    kept = sorted(p for p in candidates if 2 <= p <= n // cycles and _is_peak(acf, p))
    best = 0
    for p in kept:
        if best == 0 or acf[p] >= acf[best] + _PREFER_LONGER:
            best = p
    return best


def _refine(acf: FloatArray, period: int) -> int:
    """Nearby period whose multiples correlate best: one lag's peak is broad, the multiples' is sharp."""
    half = acf.size // 2
    lo, hi = max(2, int(period * 0.9)), min(half, int(np.ceil(period * 1.1)))
    if lo >= hi:
        return period
    lags = np.arange(lo, hi + 1)
    multiples = [acf[np.arange(p, half + 1, p)].mean() for p in lags]
    return int(lags[int(np.argmax(multiples))])


def resolve_period(period: int | None, values: FloatArray, spacing: float | None) -> int:
    """``period`` param semantics shared by the detectors: None detects, 0 (or 1) means none."""
    if period is None:
        return detect_period(values, spacing)
    if isinstance(period, bool) or not isinstance(period, int | np.integer) or period < 0:
        raise ValueError(f"period must be None or a non-negative int, got {period!r}")
    return 0 if period < 2 else int(period)


def phase_buckets(t: FloatArray, length: float, n_buckets: int) -> tuple[IntArray, IntArray, FloatArray]:
    """For interpolating a circular profile of ``n_buckets`` over ``length``: lower and upper bucket
    of each time and the weight of the upper one; buckets are valued at their centres."""
    u = np.mod(t, length) / (length / n_buckets) - 0.5
    lo = np.floor(u)
    w = u - lo
    lo_i = np.mod(lo, n_buckets).astype(np.int64)
    return lo_i, np.mod(lo_i + 1, n_buckets), w


def bucket_of(t: FloatArray, length: float, n_buckets: int) -> IntArray:
    idx = np.floor(np.mod(t, length) / (length / n_buckets)).astype(np.int64)
    return np.asarray(np.minimum(idx, n_buckets - 1), dtype=np.int64)


def bucket_medians(keys: IntArray, y: FloatArray, n_buckets: int) -> tuple[FloatArray, IntArray]:
    """Median of ``y`` per bucket (NaN where empty) and the count in each."""
    order = np.argsort(keys, kind="stable")
    ks, ys = keys[order], y[order]
    counts = np.bincount(ks, minlength=n_buckets).astype(np.int64)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    med = np.full(n_buckets, np.nan)
    for b in np.flatnonzero(counts):
        med[b] = np.median(ys[starts[b] : starts[b] + counts[b]])
    return med, counts
