"""Per-minute windows of raw samples and per-series change inputs from them, as the 1m windows hold them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tsmon.stats.changes import co_anomaly_boost, counter_like, skip_reasons, volume

Float = npt.NDArray[np.float64]
Int = npt.NDArray[np.int64]


@dataclass(frozen=True)
class MinuteWindows:
    """One row per (series, minute) with data, sorted by series then minute."""

    series_id: Int
    minute: Int  # epoch seconds of the minute's start
    count: Int
    mean: Float
    first: Float
    last: Float
    increase: Float  # reset-aware: the sum of rises, a drop counting its new value (as tsmon's windows)


def minute_windows(series_id: Int, epoch: Float, value: Float) -> MinuteWindows:
    """Bucket raw samples into minutes (NaN values left out, as in tsmon's windows)."""
    keep = ~np.isnan(value)
    sid, t, v = np.asarray(series_id)[keep], np.asarray(epoch)[keep], np.asarray(value)[keep]
    order = np.lexsort((t, sid))
    sid, t, v = sid[order], t[order], v[order]
    minute = (np.floor(t / 60.0) * 60).astype(np.int64)
    new = np.ones(sid.size, dtype=bool)
    new[1:] = (sid[1:] != sid[:-1]) | (minute[1:] != minute[:-1])
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], sid.size)
    step = np.diff(v, prepend=np.nan)
    step = np.where(step >= 0, step, v)  # a drop is a reset: the new value is the increase
    step[starts] = 0.0  # no step into a minute's first sample
    return MinuteWindows(
        sid[starts],
        minute[starts],
        (ends - starts).astype(np.int64),
        np.add.reduceat(v, starts) / (ends - starts) if sid.size else np.zeros(0),
        v[starts],
        v[ends - 1],
        np.add.reduceat(step, starts) if sid.size else np.zeros(0),
    )


@dataclass(frozen=True)
class ChangeInputs:
    """Per series: its kind and the window's and baseline's per-minute value summaries."""

    series_id: Int
    counter: npt.NDArray[np.bool_]
    window_points: Int
    baseline_points: Int
    window_mean: Float
    baseline_mean: Float
    baseline_stddev: Float  # NaN with fewer than two baseline minutes
    low: Float  # smallest per-minute value over both
    high: Float


def change_inputs(w: MinuteWindows, window_start: float) -> ChangeInputs:
    """Summaries per series; minutes before ``window_start`` (epoch seconds) are the baseline.

    The per-minute value is the minute's mean for a gauge and its increase for a counter
    (see ``counter_like``).
    """
    ids, inverse = np.unique(w.series_id, return_inverse=True)
    n = ids.size

    def total(x: npt.NDArray[np.float64] | npt.NDArray[np.bool_], mask: npt.NDArray[np.bool_]) -> Float:
        out = np.bincount(inverse[mask], weights=np.asarray(x, dtype=np.float64)[mask], minlength=n)
        return out.astype(np.float64)

    every = np.ones(w.series_id.size, dtype=bool)
    multi = w.count >= 2
    tolerance = 1e-9 * (np.abs(w.last) + np.abs(w.first))
    drops = multi & (w.increase > w.last - w.first + tolerance)
    max_increase = np.full(n, -np.inf)
    np.maximum.at(max_increase, inverse, w.increase)
    counter = counter_like(
        total(every, multi).astype(np.int64),
        total(every, drops).astype(np.int64),
        total(every, every).astype(np.int64),
        max_increase,
    )
    value = np.where(counter[inverse], w.increase, w.mean)
    in_window = w.minute >= window_start
    nw, nb = total(every, in_window), total(every, ~in_window)
    with np.errstate(divide="ignore", invalid="ignore"):
        wm = total(value, in_window) / nw
        bm = total(value, ~in_window) / nb
        centred = (value - bm[inverse]) ** 2
        sd = np.where(nb >= 2, np.sqrt(total(centred, ~in_window) / (nb - 1)), np.nan)
    low, high = np.full(n, np.inf), np.full(n, -np.inf)
    np.minimum.at(low, inverse, value)
    np.maximum.at(high, inverse, value)
    return ChangeInputs(
        ids.astype(np.int64), counter, nw.astype(np.int64), nb.astype(np.int64), wm, bm, sd, low, high
    )


@dataclass(frozen=True)
class VolumeRanking:
    """Ranked series (best first): id, kind ("gauge" or "counter") and boosted volume score."""

    series_id: Int
    kind: npt.NDArray[np.str_]
    score: Float


def volume_ranking(
    w: MinuteWindows,
    window_start: float,
    onsets: dict[int, float],
    *,
    min_window: int,
    min_baseline: int,
) -> VolumeRanking:
    """The volume ranking of ``tsmon.changes`` computed from per-minute windows of raw samples.

    Constant and sparse series are left out (``skip_reasons``); ``onsets`` maps a series to the
    earliest onset (epoch seconds) of its anomaly events overlapping the window (``co_anomaly_boost``).
    Ties keep the lower series id first, as the SQL does.
    """
    inputs = change_inputs(w, window_start)
    keep = (
        skip_reasons(
            inputs.window_points,
            inputs.baseline_points,
            inputs.low,
            inputs.high,
            min_window=min_window,
            min_baseline=min_baseline,
        )
        == ""
    )
    stat = volume(
        inputs.window_mean[keep], inputs.baseline_mean[keep], inputs.baseline_stddev[keep]
    ).statistic
    ids = inputs.series_id[keep]
    score, _ = co_anomaly_boost(stat, np.array([onsets.get(int(i), np.nan) for i in ids], dtype=np.float64))
    order = np.lexsort((ids, -score))
    kinds = np.where(inputs.counter[keep], "counter", "gauge")
    return VolumeRanking(ids[order], kinds[order], score[order])
