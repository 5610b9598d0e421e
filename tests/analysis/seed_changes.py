"""Seeded series for the "what changed" tests: catalogue rows, samples by binary COPY, windows refreshed."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import orjson
import psycopg

from tsmon.windows.engine import refresh_windows
from tsmon.windows.retention import RetentionSettings

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def add_series(
    conn: psycopg.Connection[tuple[object, ...]], metric: str, labels: list[dict[str, str]]
) -> list[int]:
    """Series ids of ``metric`` with each label set, created in one statement."""
    rows = conn.execute(
        "INSERT INTO tsmon.series (metric, labels) "
        "SELECT %s, l FROM unnest(%s::jsonb[]) WITH ORDINALITY u(l, i) ORDER BY i RETURNING id",
        (metric, [orjson.dumps(x).decode() for x in labels]),
    ).fetchall()
    return [int(r[0]) for r in rows]


_ROW = np.dtype(
    [("n", ">i2"), ("lt", ">i4"), ("t", ">i8"), ("ls", ">i4"), ("s", ">i8"), ("lv", ">i4"), ("v", ">f8")]
)
_PG_EPOCH_S = 946_684_800  # 2000-01-01: binary timestamptz counts microseconds from it


def copy_samples(
    conn: psycopg.Connection[tuple[object, ...]], series_id: np.ndarray, epoch: np.ndarray, value: np.ndarray
) -> None:
    """Write samples (epoch seconds) with one binary COPY, the rows packed by numpy."""
    rows = np.empty(len(series_id), dtype=_ROW)
    rows["n"], rows["lt"], rows["ls"], rows["lv"] = 3, 8, 8, 8
    rows["t"] = np.round((np.asarray(epoch, dtype=np.float64) - _PG_EPOCH_S) * 1e6).astype(np.int64)
    rows["s"], rows["v"] = series_id, value
    with conn.cursor().copy("COPY tsmon.samples (time, series_id, value) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8)
        step = 1_000_000
        for lo in range(0, rows.size, step):
            copy.write(rows[lo : lo + step].tobytes())
        copy.write(b"\xff\xff")


def refresh(conn: psycopg.Connection[tuple[object, ...]], now: datetime) -> None:
    refresh_windows(conn, RetentionSettings(), now=now)
