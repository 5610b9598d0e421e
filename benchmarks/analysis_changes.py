"""What-changed benchmark: `changes` over 10,000 series (1 h window, 4 h baseline) from 1m windows in SQL,
beside the same ranking computed from raw samples in numpy in the same run.

Data: gauges sampled once a minute (a daily sine per series plus noise), 1 % counters every 15 s, and
0.1 % of the gauges stepping up in the window. Ends with one JSON line:
{"changes_10k_s": ..., "changes_10k_raw_s": ..., "same_top10": ..., ...}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tsmon.analysis.changes import ChangesRequest, min_points, rank
from tsmon.db.connect import database_url
from tsmon.schema import migrate
from tsmon.settings import Settings
from tsmon.stats.minutes import minute_windows, volume_ranking
from windows import drop_database, materialise, scratch_database  # benchmarks/ is on sys.path

Conn = psycopg.Connection[tuple[object, ...]]
NAME = "tsmon_bench_changes"
WINDOW = timedelta(hours=1)
TARGET_S = 2.0
_RAW = np.dtype([("series_id", ">i8"), ("epoch", ">f8"), ("value", ">f8")])


def seed(conn: Conn, series: int, end: datetime) -> int:
    """``series`` series over the window and its baseline (5 h before ``end``); samples written."""
    conn.execute(
        "INSERT INTO tsmon.series (metric, labels) "
        "SELECT CASE WHEN i %% 100 = 99 THEN 'bench_requests_total' ELSE 'bench_gauge' END, "
        "jsonb_build_object('host', 'h' || i) FROM generate_series(0, %s - 1) i",
        (series,),
    )
    lo, start = end - 5 * WINDOW, end - WINDOW
    gauges = conn.execute(
        "INSERT INTO tsmon.samples (time, series_id, value) "
        "SELECT t, s.id, 50 + 20 * sin(extract(epoch FROM t) / 86400 * 2 * pi() + s.id) + 5 * random() "
        "+ CASE WHEN s.id %% 1000 = 7 AND t >= %s THEN 20 ELSE 0 END "
        "FROM tsmon.series s, generate_series(%s::timestamptz, %s::timestamptz - interval '1 minute', "
        "interval '1 minute') t WHERE s.metric = 'bench_gauge'",
        (start, lo, end),
    ).rowcount
    counters = conn.execute(
        "INSERT INTO tsmon.samples (time, series_id, value) "
        "SELECT t, s.id, (extract(epoch FROM t - %s::timestamptz) / 15)::bigint * (1 + s.id %% 7) "
        "FROM tsmon.series s, generate_series(%s::timestamptz, %s::timestamptz - interval '15 seconds', "
        "interval '15 seconds') t WHERE s.metric = 'bench_requests_total'",
        (lo, lo, end),
    ).rowcount
    conn.execute("VACUUM ANALYZE tsmon.samples")
    conn.execute("ANALYZE tsmon.series")
    return gauges + counters


def from_windows(conn: Conn, start: datetime, end: datetime) -> list[tuple[int, float]]:
    """The ranking as tsmon analyze changes computes it (tsmon.changes over the 1m windows)."""
    run = rank(conn, ChangesRequest(start, end, limit=10), end, None)
    return [(r.series_id, r.score) for r in run.results]


def from_raw(conn: Conn, start: datetime, end: datetime) -> list[tuple[int, float]]:
    """The same ranking from raw samples: read them packed, bucket into minutes, score with tsmon.stats."""
    first = start - 4 * (end - start)
    with conn.cursor(binary=True) as cur:
        row = cur.execute(
            "SELECT string_agg(int8send(series_id) || float8send(extract(epoch FROM time)::float8) "
            "|| float8send(value), ''::bytea) FROM tsmon.samples WHERE time >= %s AND time < %s",
            (first, end),
        ).fetchone()
    raw = np.frombuffer(row[0] if row and row[0] else b"", dtype=_RAW)
    onsets = dict(
        conn.execute(
            "SELECT series_id, extract(epoch FROM min(started_at))::float8 FROM tsmon.anomalies "
            "WHERE started_at < %s AND coalesce(ended_at, 'infinity') > %s GROUP BY 1",
            (end, start),
        ).fetchall()
    )
    min_w, min_b = min_points(start, end, end)
    ranked = volume_ranking(
        minute_windows(
            raw["series_id"].astype(np.int64),
            raw["epoch"].astype(np.float64),
            raw["value"].astype(np.float64),
        ),
        start.timestamp(),
        onsets,
        min_window=min_w,
        min_baseline=min_b,
    )
    return [(int(i), float(v)) for i, v in zip(ranked.series_id[:10], ranked.score[:10], strict=True)]


def timed(
    fn: Any, conn: Conn, start: datetime, end: datetime, runs: int
) -> tuple[float, list[tuple[int, float]]]:
    fn(conn, start, end)  # warm-up
    times, out = [], []
    for _ in range(runs):
        t = time.perf_counter()
        out = fn(conn, start, end)
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def measure_changes(url: str, end: datetime, runs: int = 3) -> dict[str, Any]:
    """`changes` over the seeded series (1 h window ending at ``end``) from windows and from raw samples."""
    start = end - WINDOW
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        series = conn.execute("SELECT count(*) FROM tsmon.series").fetchone()
        windows_s, ranked = timed(from_windows, conn, start, end, runs)
        raw_s, expected = timed(from_raw, conn, start, end, runs)
    same = [i for i, _ in ranked] == [i for i, _ in expected] and bool(
        np.allclose([s for _, s in ranked], [s for _, s in expected], rtol=1e-9)
    )
    return {
        "series": int(series[0]) if series else 0,
        "changes_10k_s": windows_s,
        "changes_10k_raw_s": raw_s,
        "same_top10": same,
        "top10": [i for i, _ in ranked],
    }


def _existing(name: str) -> str | None:
    """The URL of a seeded benchmark database ``name`` kept by --reuse, if there is one."""
    base = database_url(Settings())
    with psycopg.connect(base, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return None
    return make_conninfo(**{**conninfo_to_dict(base), "dbname": name})  # type: ignore[arg-type]


def run_changes(
    series: int = 10_000, engine: str = "auto", runs: int = 3, reuse: bool = False
) -> dict[str, Any]:
    """Seed (or, with ``reuse``, keep) the benchmark database, measure, print the figures; the result."""
    url = _existing(NAME) if reuse else None
    if url is None:
        end = datetime.now(UTC).replace(second=0, microsecond=0)
        url = scratch_database(NAME, engine)
        with psycopg.connect(url, autocommit=True) as conn:
            t = time.perf_counter()
            samples = seed(conn, series, end)
            print(f"{samples:,} samples of {series:,} series in {time.perf_counter() - t:.1f} s")
            print(f"windows materialised in {materialise(conn, end):.1f} s")
    with psycopg.connect(url, autocommit=True) as conn:
        # A kept database gets this tree's SQL.
        migrate(conn, Settings(windows_engine=engine))  # type: ignore[arg-type]
        row = conn.execute("SELECT max(time) FROM tsmon.samples").fetchone()
        assert row is not None and isinstance(row[0], datetime)
        end = row[0].replace(second=0, microsecond=0) + timedelta(minutes=1)
    try:
        result = measure_changes(url, end, runs)
    finally:
        if not reuse:
            drop_database(NAME)
    flag = "" if result["changes_10k_s"] < TARGET_S else "  OVER TARGET"
    print(
        f"changes over {result['series']:,} series, 1 h vs 4 h: {result['changes_10k_s']:.2f} s from 1m "
        f"windows (SQL){flag}, {result['changes_10k_raw_s']:.2f} s from raw samples (numpy); "
        f"same top 10: {result['same_top10']}"
    )
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--engine", choices=["auto", "tsmon", "continuous_aggregates"], default="auto")
    ap.add_argument("--runs", type=int, default=3, help="timed runs of each side (median)")
    ap.add_argument("--reuse", action="store_true", help=f"keep {NAME} and its data for the next run")
    args = ap.parse_args()
    print(json.dumps(run_changes(args.series, args.engine, args.runs, args.reuse)))


if __name__ == "__main__":
    main()
