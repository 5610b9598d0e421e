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


# tsmon.window_sums' records: the bucket as timestamptz_send gives it (µs since 2000-01-01).
_PG_EPOCH_S = 946_684_800.0
_MOMENTS = np.dtype(
    [
        ("series_id", ">i8"),
        ("bucket_us", ">i8"),
        ("count", ">i8"),
        ("sum", ">f8"),
        ("sum_sq", ">f8"),
        ("min", ">f8"),
        ("max", ">f8"),
    ]
)
_SUMS = np.dtype(
    [("series_id", ">i8"), ("bucket_us", ">i8"), ("count", ">i8"), ("sum", ">f8"), ("sum_sq", ">f8")]
)
_FIELDS = ("series_id", "epoch", "count", "sum", "sum_sq", "min", "max")


@dataclass(frozen=True)
class SeriesSums:
    """Sufficient statistics of each window (count, sum, sum of squares, min, max) of many series,
    sorted by series then time: everything a mean, variance or t-test over windows needs."""

    series_id: npt.NDArray[np.int64]
    epoch: npt.NDArray[np.float64]
    count: npt.NDArray[np.float64]
    sum: npt.NDArray[np.float64]
    sum_sq: npt.NDArray[np.float64]
    min: npt.NDArray[np.float64]
    max: npt.NDArray[np.float64]

    def segments(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(series ids, index of each series' first window), in order."""
        if not self.series_id.size:
            return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
        starts = np.concatenate(([0], np.flatnonzero(np.diff(self.series_id)) + 1)).astype(np.int64)
        return self.series_id[starts], starts

    def select(self, mask: npt.NDArray[np.bool_]) -> SeriesSums:
        """The windows where ``mask`` holds (order kept)."""
        return SeriesSums(*(getattr(self, f)[mask] for f in _FIELDS))


def fetch_sums(
    conn: Conn,
    resolution: str,
    series: list[int],
    ranges: list[tuple[datetime, datetime]],
    *,
    extremes: bool = True,
) -> SeriesSums:
    """Count, sum, sum of squares, min and max of each window of ``tsmon.samples_<resolution>``
    whose bucket starts in one of ``ranges`` ([start, stop) each), for ``series``.

    Windows hold no NaN; their sums are as sql/50_windows.sql describes (squares of values beyond
    1e150 are +Infinity). One packed bytea, as :func:`fetch_windows`; without ``extremes`` min and
    max are not read (NaN): a third less to pack where only the sums are needed.
    """
    if not ranges:
        raise ValueError("fetch_sums needs at least one range")
    # tsmon.window_sums (sql/80_analysis.sql) packs them: a definer function, so the analyses can
    # run as tsmon_reader, which may not read the windows' tables.
    with conn.cursor(binary=True) as cur:
        row = cur.execute(
            "SELECT tsmon.window_sums(%s, %s::bigint[], %s::timestamptz[], %s::timestamptz[], %s)",
            (resolution, series, [a for a, _ in ranges], [b for _, b in ranges], extremes),
        ).fetchone()
    packed = row[0] if row is not None and isinstance(row[0], bytes | memoryview) else b""
    rows = np.frombuffer(packed, dtype=_MOMENTS if extremes else _SUMS)
    order = np.lexsort((rows["bucket_us"], rows["series_id"]))
    rows = rows[order]
    nan = np.full(rows.size, np.nan)
    return SeriesSums(
        series_id=rows["series_id"].astype(np.int64),
        epoch=rows["bucket_us"].astype(np.int64) / 1e6 + _PG_EPOCH_S,
        count=rows["count"].astype(np.float64),
        sum=rows["sum"].astype(np.float64),
        sum_sq=rows["sum_sq"].astype(np.float64),
        min=rows["min"].astype(np.float64) if extremes else nan,
        max=rows["max"].astype(np.float64) if extremes else nan,
    )
