"""Read window averages of many series at once as numpy arrays (one packed value, no per-row objects)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
from psycopg import sql

from tsmon.db import Conn

_RECORD = np.dtype([("series_id", ">i8"), ("epoch", ">f8"), ("value", ">f8")])


@dataclass(frozen=True)
class SeriesWindows:
    """Windows of many series, sorted by series then time."""

    series_id: npt.NDArray[np.int64]
    epoch: npt.NDArray[np.float64]
    value: npt.NDArray[np.float64]

    def by_series(self) -> Iterator[tuple[int, npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
        """(series id, epoch seconds, values) per series."""
        if not self.series_id.size:
            return
        cuts = np.flatnonzero(np.diff(self.series_id)) + 1
        starts = np.concatenate(([0], cuts))
        ends = np.concatenate((cuts, [self.series_id.size]))
        for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
            yield int(self.series_id[lo]), self.epoch[lo:hi], self.value[lo:hi]


def fetch_windows(
    conn: Conn,
    resolution: str,
    series: list[int],
    start: datetime,
    stop: datetime,
    *,
    condition: sql.Composable | None = None,
    params: dict[str, object] | None = None,
) -> SeriesWindows:
    """Averages of ``tsmon.samples_<resolution>`` in [start, stop) for ``series``.

    ``condition`` is an extra SQL condition on the windows (alias ``w``) with named ``params``.
    """
    # One packed bytea of 24-byte records: a row per window would cost Python objects (or a COPY
    # message) each, far more than scoring it.
    query = sql.SQL(
        "SELECT string_agg(int8send(w.series_id) || float8send(extract(epoch FROM w.bucket)::float8) "
        "|| float8send(tsmon.window_avg(w.sum, w.count)), ''::bytea ORDER BY w.series_id, w.bucket) "
        "FROM {w} w "
        "WHERE w.series_id = ANY(%(ids)s) AND w.bucket >= %(start)s AND w.bucket < %(stop)s "
        "AND w.sum IS NOT NULL AND {extra}"
    ).format(
        w=sql.Identifier("tsmon", f"samples_{resolution}"),
        extra=condition if condition is not None else sql.SQL("true"),
    )
    bound = {"ids": series, "start": start, "stop": stop, **(params or {})}
    with conn.cursor(binary=True) as cur:
        row = cur.execute(query, bound).fetchone()
    packed = row[0] if row is not None and isinstance(row[0], bytes | memoryview) else b""
    rows = np.frombuffer(packed, dtype=_RECORD)
    return SeriesWindows(
        rows["series_id"].astype(np.int64), rows["epoch"].astype(np.float64), rows["value"].astype(np.float64)
    )
