"""The worker's model decisions, pure: when to (re)train, on which rows, with how much scoring context.

The scoring job (`job._models`, `training.train_many`, `scores.write_scores`) and the NAB replay
(`tsmon.evaluation.replay`) both follow these rules, so an offline evaluation measures what the
worker does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from tsmon.windows.definitions import floor_time

# Periods of anomaly events: (started_at, ended_at or None while open, still open, feedback or None).
EventPeriod = tuple[float, float | None, bool, str | None]
# Events judged false alarms or ignored stay out of training; confirmed and unjudged ones stay in:
# a model trained without the bursts a series has had calls the next ordinary burst extremely rare
# (measured on NAB: docs/detection.md).
EXCLUDED_FEEDBACK = ("false_positive", "ignored")


# Scheduled retraining is spread over each period in this many slots (the minutes of a day, for
# daily retraining): a first run trains every series at once, and without slots they would all be
# due again at once a period later, one pass training the whole config while its windows wait.
RETRAIN_SLOTS = 1440


def retrain_offset(series_id: int, shards: int, every: timedelta) -> timedelta:
    """When in each ``every`` (from the epoch) a series is retrained on schedule.

    Shard ``s`` of ``shards`` (series ``id % shards``) owns the slots ``s, s + shards, s + 2 shards,
    ...`` of the period's RETRAIN_SLOTS, and its series take them in turn by id: every shard's
    retraining is spread over the whole period, and the shards' slots interleave.
    """
    per_shard = max(1, RETRAIN_SLOTS // shards)
    slot = series_id % shards + shards * (series_id // shards % per_shard)
    return every * slot / (shards * per_shard)


def retrain_reason(
    train_end: datetime | None, start: datetime, retrain_every: timedelta, offset: timedelta | None = None
) -> str:
    """'initial' without a model, 'schedule' when due at ``start``, else ''.

    With an ``offset`` (:func:`retrain_offset`, the worker) a model is due at the series' slot, that
    far into each period, once the slot's last passing came at least half a period after training:
    then every period at the same time, whenever the first model came (its first retraining is half
    a period to one and a half after it). Without (the NAB replay, one series) once it is
    ``retrain_every`` old. Drift, the third reason, is tested separately (:func:`drift_check_due`).
    """
    if train_end is None:
        return "initial"
    if offset is None:
        return "schedule" if start - train_end >= retrain_every else ""
    slot = floor_time(start - offset, retrain_every) + offset  # the slot's last passing, <= start
    return "schedule" if slot - train_end >= retrain_every / 2 else ""


def first_window(
    times: npt.NDArray[np.float64], lower: float, window: float, step: float, min_points: int
) -> float | None:
    """Where a series never scored starts: the first window from ``lower`` with a model's worth of data.

    That is the first window start ``w >= lower`` whose training window ``[w - window, w)`` holds
    ``min_points`` of the rows ``times`` (sorted epoch seconds of window starts, ``step`` apart at
    least); None when none does. The count only grows at ``lower`` and just after a row, so those
    are the candidates.
    """
    later = times[times + step > lower] + step
    candidates = np.concatenate(([lower], later[later > lower]))
    inside = np.searchsorted(times, candidates, "left") - np.searchsorted(times, candidates - window, "left")
    enough = np.flatnonzero(inside >= min_points)
    return float(candidates[enough[0]]) if enough.size else None


def drift_check_due(start: datetime, stop: datetime, every: timedelta) -> bool:
    """Drift is tested once per ``every``: when the batch ``[start, stop)`` crosses that boundary."""
    return floor_time(start, every) != floor_time(stop, every)


def training_rows(
    times: npt.NDArray[np.float64],
    end: float,
    window: float,
    events: Sequence[EventPeriod],
    *,
    keep_open: bool,
) -> npt.NDArray[np.bool_]:
    """Rows (epoch seconds ``times``) of the training window ``[end - window, end)`` outside excluded events.

    An event covers ``[started_at, ended_at]`` (to infinity while open) and is excluded when its
    feedback is in ``EXCLUDED_FEEDBACK``; ``keep_open`` keeps rows of open events: after drift the
    ongoing condition is the new normal.  This is the row set `training.train_many` selects in SQL.
    """
    mask = (times >= end - window) & (times < end)
    kept = [
        (s, np.inf if e is None else e)
        for s, e, is_open, feedback in events
        if feedback in EXCLUDED_FEEDBACK and not (is_open and keep_open)
    ]
    if kept:
        starts, ends = (np.array(v, dtype=np.float64) for v in zip(*sorted(kept), strict=True))
        # Periods are sorted by start; a row is inside one when some period starting at or before it
        # has not ended yet: the latest end among those that started.
        reach = np.maximum.accumulate(ends)
        at = np.searchsorted(starts, times, side="right") - 1
        inside = (at >= 0) & (times <= reach[np.maximum(at, 0)])
        mask &= ~inside
    return mask
