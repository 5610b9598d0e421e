"""The worker's model decisions, pure: when to (re)train, on which rows, with how much scoring context.

The scoring job (`job._models`, `models.training_data`, `scores.write_scores`) and the NAB replay
(`tsmon.evaluation.replay`) both follow these rules, so an offline evaluation measures what the
worker does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from tsmon.windows.definitions import floor_time

# Periods of anomaly events: (started_at, ended_at or None while open, still open).
EventPeriod = tuple[float, float | None, bool]


def retrain_reason(train_end: datetime | None, start: datetime, retrain_every: timedelta) -> str:
    """'initial' without a model, 'schedule' once it is ``retrain_every`` old at ``start``, else ''.

    Drift (the third reason) is tested separately, and only when :func:`drift_check_due`.
    """
    if train_end is None:
        return "initial"
    return "schedule" if start - train_end >= retrain_every else ""


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
    """Rows (epoch seconds ``times``) of the training window ``[end - window, end)`` outside events.

    An event covers ``[started_at, ended_at]`` (to infinity while open); ``keep_open`` keeps rows
    of open events: after drift the ongoing condition is the new normal.  This is the row set
    `models.training_data` selects in SQL.
    """
    mask = (times >= end - window) & (times < end)
    for started, ended, is_open in events:
        if is_open and keep_open:
            continue
        mask &= ~((times >= started) & (times <= (np.inf if ended is None else ended)))
    return mask
