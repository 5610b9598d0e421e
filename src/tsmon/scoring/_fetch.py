"""Read window averages of many series at once as numpy arrays (binary COPY, no per-row objects)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import sql

Conn = psycopg.Connection[tuple[object, ...]]
# PostgreSQL binary COPY: a 19-byte header, then per row a field count (int16) and, per field, a
# length (int32) and the value; an int16 -1 ends the stream. Three 8-byte fields, never NULL.
_HEADER = 19
_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("len_id", ">i4"),
        ("series_id", ">i8"),
        ("len_t", ">i4"),
        ("epoch", ">f8"),
        ("len_v", ">i4"),
        ("value", ">f8"),
    ]
)


@dataclass(frozen=True)
class SeriesWindows:
    """Windows of many series, sorted by series then time; ``slices`` index each series' rows."""

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
    query = sql.SQL(
        "COPY (SELECT w.series_id, extract(epoch FROM w.bucket)::float8, w.sum / w.count FROM {w} w "
        "WHERE w.series_id = ANY({ids}) AND w.bucket >= {start} AND w.bucket < {stop} "
        "AND w.sum IS NOT NULL AND {extra} ORDER BY w.series_id, w.bucket) TO STDOUT (FORMAT binary)"
    ).format(
        w=sql.Identifier("tsmon", f"samples_{resolution}"),
        ids=sql.Placeholder("ids"),
        start=sql.Placeholder("start"),
        stop=sql.Placeholder("stop"),
        extra=condition if condition is not None else sql.SQL("true"),
    )
    bound = {"ids": series, "start": start, "stop": stop, **(params or {})}
    chunks = []
    with conn.cursor() as cur, cur.copy(query, bound) as copy:  # bound client-side by psycopg
        for block in copy:
            chunks.append(bytes(block))
    data = b"".join(chunks)
    rows = np.frombuffer(data, dtype=_ROW, offset=_HEADER, count=(len(data) - _HEADER - 2) // _ROW.itemsize)
    return SeriesWindows(
        rows["series_id"].astype(np.int64),
        rows["epoch"].astype(np.float64),
        rows["value"].astype(np.float64),
    )
