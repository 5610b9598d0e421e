"""Seed samples for analysis tests through the product's writer, then materialise the windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg

from tsmon.ingest.batch import SampleBatch, canonical_labels, datetime_to_us
from tsmon.ingest.writer import SampleWriter, SeriesCache
from tsmon.windows.engine import refresh_windows
from tsmon.windows.retention import RetentionSettings

Conn = psycopg.Connection[tuple[object, ...]]
# Whole days ago, so 1m / 1h / 1d windows all start on the range boundaries the tests use.
BASE = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)


def write(conn: Conn, metric: str, labels: dict[str, str], times: np.ndarray, values: np.ndarray) -> None:
    """One series' samples (times in epoch seconds) through SampleWriter."""
    write_many(conn, metric, [labels], [times], [values])


def write_many(
    conn: Conn, metric: str, labels: list[dict[str, str]], times: list[np.ndarray], values: list[np.ndarray]
) -> None:
    writer = SampleWriter(conn, SeriesCache(100_000))
    batch = SampleBatch()
    for lab, ts, vs in zip(labels, times, values, strict=True):
        key = canonical_labels(lab)
        batch.metrics.extend([metric] * ts.size)
        batch.labels.extend([key] * ts.size)
        batch.times_us.extend((np.round(ts * 1e6)).astype(np.int64).tolist())
        batch.values.extend(vs.astype(float).tolist())
        if len(batch) > 200_000:
            writer.write(batch)
            batch = SampleBatch()
    writer.write(batch)


def refresh(conn: Conn) -> None:
    refresh_windows(conn, RetentionSettings(), datetime.now(UTC))


def epoch(t: datetime) -> float:
    return datetime_to_us(t) / 1e6


def raw_values(conn: Conn, series_id: int, start: datetime, stop: datetime) -> np.ndarray:
    rows = conn.execute(
        "SELECT value FROM tsmon.metric_samples WHERE series_id = %s AND time >= %s AND time < %s "
        "ORDER BY time",
        (series_id, start, stop),
    ).fetchall()
    return np.array([r[0] for r in rows], dtype=np.float64)


def as_reader(conn: Conn, query: str, params: tuple[object, ...]) -> list[dict[str, object]]:
    """Rows of ``query`` run as tsmon_reader (Grafana's role), as dicts."""
    with conn.transaction():
        conn.execute("SET LOCAL ROLE tsmon_reader")
        cur = conn.execute(query, params)  # type: ignore[arg-type]
        names = [c.name for c in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
