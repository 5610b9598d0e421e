"""Windows benchmark: materialisation, dashboard queries on windows vs raw samples, refresh cost."""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.types.json import Jsonb

from tsmon.db.connect import database_url
from tsmon.schema import migrate
from tsmon.settings import Settings
from tsmon.windows.engine import refresh_windows
from tsmon.windows.retention import RetentionSettings

Conn = psycopg.Connection[tuple[object, ...]]
MINUTE = timedelta(minutes=1)
RETENTION = RetentionSettings()
# Gauges: a daily sine per series plus noise. Counters (1% of series, *_total): a per-series
# rate, reset every 2,000 minutes (about 33 h) at a per-series phase.
VALUE = """CASE WHEN s.metric LIKE '%%\\_total'
    THEN ((extract(epoch FROM t)::bigint / 60 + s.id * 97) %% 2000) * (1 + s.id %% 7)
    ELSE 50 + 20 * sin(extract(epoch FROM t) / 86400 * 2 * pi() + s.id) + 5 * random() END"""
# Dashboard queries as (windows, raw) templates; {f} selects the series. Both sides return rows
# (key..., value) that must be equal.
A = (
    "SELECT bucket, avg FROM tsmon.metric_1m WHERE {f} AND bucket >= %(lo_1m)s AND bucket < %(hi)s "
    "ORDER BY 1",
    "SELECT time_bucket('1 minute', time), avg(value) FROM tsmon.metric_samples "
    "WHERE {f} AND time >= %(lo_1m)s AND time < %(hi)s GROUP BY 1 ORDER BY 1",
)
B = (
    "SELECT bucket, series_id, avg FROM tsmon.metric_1h WHERE {f} "
    "AND bucket >= %(lo_1h)s AND bucket < %(hi_1h)s ORDER BY 1, 2",
    "SELECT time_bucket('1 hour', time), series_id, avg(value) FROM tsmon.metric_samples "
    "WHERE {f} AND time >= %(lo_1h)s AND time < %(hi_1h)s GROUP BY 1, 2 ORDER BY 1, 2",
)
C = (
    "SELECT series_id, sum(sum) / sum(count) FROM tsmon.metric_1d WHERE {f} "
    "AND bucket >= %(lo_1d)s AND bucket < %(hi_1d)s GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
    "SELECT series_id, avg(value) FROM tsmon.metric_samples WHERE {f} "
    "AND time >= %(lo_1d)s AND time < %(hi_1d)s GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
)
HOST = "metric = 'bench_gauge' AND labels @> %(host)s"
RACK = "metric = 'bench_gauge' AND labels @> %(rack)s"
# Materialisation watermark of one resolution: windows at or after it are aggregated at query time.
WATERMARK = {
    "tsmon": "SELECT tsmon.window_watermark(%(res)s)",
    "continuous_aggregates": "SELECT _timescaledb_functions.to_timestamp(_timescaledb_functions."
    "cagg_watermark(mat_hypertable_id)) FROM _timescaledb_catalog.continuous_agg "
    "WHERE user_view_name = 'samples_' || %(res)s",
}
# A label filter as an id array (an InitPlan): pushed into both parts of the real-time views.
IDS = "series_id = ANY(ARRAY(SELECT series_id FROM tsmon.metric_series WHERE {}))"

# name: (templates, filter on windows, filter on raw samples)
QUERIES = {
    "a_24h_1m_one_series": (A, "series_id = %(one)s", "series_id = %(one)s"),
    "b_30d_1h_20_series": (B, "series_id = ANY(%(twenty)s)", "series_id = ANY(%(twenty)s)"),
    "c_top10_avg_7d": (C, "metric = 'bench_gauge'", "metric = 'bench_gauge'"),
}
# The same series chosen by labels, as people write it: the view's own metric / labels columns,
# a join on tsmon.metric_series, or an id array. Each must be within 2x of the by-id query above.
JOIN = "series_id IN (SELECT series_id FROM tsmon.metric_series m WHERE m.{})"
LABEL_QUERIES = {
    "a_by_labels": (A, HOST, HOST),
    "a_by_labels_join": (A, JOIN.format(HOST), HOST),
    "a_by_labels_id_array": (A, IDS.format(HOST), HOST),
    "b_by_labels": (B, RACK, RACK),
    "b_by_labels_join": (B, JOIN.format(RACK), RACK),
    "b_by_labels_id_array": (B, IDS.format(RACK), RACK),
}
# Which by-id query each label query is held to.
BY_ID = {"a": "a_24h_1m_one_series", "b": "b_30d_1h_20_series"}


def drop_database(name: str) -> str:
    """Drop ``name`` if it exists; the server's URL."""
    base = database_url(Settings())
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return base


def scratch_database(name: str, engine: str) -> str:
    """A fresh migrated database ``name`` on TSMON_DATABASE_URL's server or the embedded one."""
    base = drop_database(name)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_conninfo(**{**conninfo_to_dict(base), "dbname": name})  # type: ignore[arg-type]
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn, Settings(windows_engine=engine))  # type: ignore[arg-type]
        # Background policies (continuous aggregates) would race the refreshes timed here.
        conn.execute(
            "SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs "
            "WHERE job_id >= 1000"
        )
    return url


def insert_minutes(conn: Conn, lo: datetime, hi: datetime) -> int:
    """Samples of every series at each minute in [lo, hi); tells tsmon's windows about late data."""
    with conn.transaction():
        cur = conn.execute(
            f"INSERT INTO tsmon.samples (time, series_id, value) SELECT t, s.id, {VALUE} "
            "FROM tsmon.series s, generate_series(%s::timestamptz, %s::timestamptz - interval '1 minute', "
            "interval '1 minute') t",
            (lo, hi),
        )
        conn.execute("SELECT tsmon.note_samples_written(%s, %s)", (lo, hi))
    return max(cur.rowcount, 0)


def build(conn: Conn, series: int, days: float, end: datetime) -> int:
    """``series`` series with one sample a minute in [end - days, end), in daily slices."""
    conn.execute(
        "INSERT INTO tsmon.series (metric, labels) SELECT CASE WHEN i %% 100 = 99 "
        "THEN 'bench_requests_total' ELSE 'bench_gauge' END, "
        "jsonb_build_object('host', 'h' || i, 'rack', 'r' || i %% 50) FROM generate_series(0, %s - 1) i",
        (series,),
    )
    rows, lo = 0, end - timedelta(days=days)
    while lo < end:
        hi = min(lo + timedelta(days=1), end)
        rows += insert_minutes(conn, lo, hi)
        lo = hi
    conn.execute("VACUUM ANALYZE tsmon.samples")
    conn.execute("ANALYZE tsmon.series")
    return rows


def materialise(conn: Conn, end: datetime) -> float:
    """Refresh all windows as at ``end`` (tsmon: its last minute stays real-time), ANALYZE; seconds."""
    t = time.perf_counter()
    refresh_windows(conn, RETENTION, now=end)
    elapsed = time.perf_counter() - t
    conn.execute("ANALYZE")
    return elapsed


def time_query(conn: Conn, query: str, params: dict[str, object], runs: int) -> tuple[float, list]:
    """Median wall milliseconds (client side, rows fetched) over ``runs`` after one warm-up."""
    rows = conn.execute(query, params).fetchall()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        rows = conn.execute(query, params).fetchall()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000, rows


def same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(
        x[:-1] == y[:-1] and math.isclose(x[-1], y[-1], rel_tol=1e-9, abs_tol=1e-9)
        for x, y in zip(a, b, strict=True)
    )


def bench_queries(conn: Conn, end: datetime, runs: int, result: dict[str, Any]) -> None:
    hour, day = end.replace(minute=0), end.replace(hour=0, minute=0)
    params: dict[str, Any] = {"host": Jsonb({"host": "h17"}), "rack": Jsonb({"rack": "r7"}), "hi": end}
    params |= {"lo_1m": end - timedelta(hours=24), "hi_1h": hour + timedelta(hours=1)}
    params |= {"lo_1h": params["hi_1h"] - timedelta(days=30), "hi_1d": day + timedelta(days=1)}
    params["lo_1d"] = params["hi_1d"] - timedelta(days=8)  # whole days covering the last 7
    params["one"] = conn.execute(f"SELECT id FROM tsmon.series WHERE {HOST}", params).fetchall()[0][0]
    params["twenty"] = [r[0] for r in conn.execute(f"SELECT id FROM tsmon.series WHERE {RACK}", params)]
    realtime = result["realtime_rows"] = {}
    if result["engine"] == "tsmon":
        # The coarser levels' unfinished buckets are provisional rows (one per series) merged with
        # the raw samples after the minute watermark.
        mark = conn.execute(WATERMARK["tsmon"], {"res": "1m"}).fetchall()[0][0]
        query = "SELECT count(*) FROM tsmon.samples WHERE time >= %s"
        realtime["raw_samples_after_1m_watermark"] = conn.execute(query, (mark,)).fetchall()[0][0]
        for res in ("1h", "1d"):
            mark = conn.execute(WATERMARK["tsmon"], {"res": res}).fetchall()[0][0]
            query = f"SELECT count(*) FROM tsmon._windows_{res} WHERE bucket >= %s"
            realtime[f"provisional_{res}_rows"] = conn.execute(query, (mark,)).fetchall()[0][0]
    else:
        for res, finer in (("1h", "1m"), ("1d", "1h")):
            watermark = conn.execute(WATERMARK[result["engine"]], {"res": res}).fetchall()[0][0]
            query = f"SELECT count(*) FROM tsmon.samples_{finer} WHERE bucket >= %s"
            realtime[f"{finer}_rows_in_{res}"] = conn.execute(query, (watermark,)).fetchall()[0][0]
    print(f"data ends {end:%H:%M} UTC; aggregated at query time (real-time parts): {realtime}")
    for key, queries in (("queries", QUERIES), ("label_queries", LABEL_QUERIES)):
        out = result[key] = {}
        for name, ((windows_q, raw_q), windows_f, raw_f) in queries.items():
            windows_ms, windows_rows = time_query(conn, windows_q.format(f=windows_f), params, runs)
            raw_ms, raw_rows = time_query(conn, raw_q.format(f=raw_f), params, runs)
            assert len(windows_rows) == len(raw_rows) > 0, (name, len(windows_rows), len(raw_rows))
            assert same(windows_rows, raw_rows), f"{name}: windows and raw samples disagree"
            out[name] = {"windows_ms": windows_ms, "raw_ms": raw_ms, "speedup": raw_ms / windows_ms}
            print(
                f"{name:22} windows {windows_ms:8.2f} ms  raw {raw_ms:9.2f} ms  "
                f"speedup {raw_ms / windows_ms:7.1f}x  ({len(raw_rows)} rows)"
            )


def bench_refresh(conn: Conn, end: datetime, reps: int) -> float:
    """Median ms of the refresh folding in one new minute of samples (one warm-up first)."""
    times = []
    for i in range(reps + 1):
        minute = end + i * MINUTE
        insert_minutes(conn, minute, minute + MINUTE)
        t = time.perf_counter()
        refresh_windows(conn, RETENTION, now=minute + 2 * MINUTE)
        times.append(time.perf_counter() - t)
    return statistics.median(times[1:]) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--days", type=float, default=7)
    ap.add_argument("--engine", choices=["auto", "tsmon", "continuous_aggregates"], default="auto")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per query (median)")
    ap.add_argument("--refreshes", type=int, default=7, help="timed one-minute refreshes (median)")
    args = ap.parse_args()
    # Data ends on the hour, early enough for the refresh benchmark's new minutes. tsmon refreshes up to
    # it (its unfinished hour and day are provisional rows); continuous aggregates refresh to now(),
    # leaving their still-open hour and day to real-time aggregation.
    end = (datetime.now(UTC) - (args.refreshes + 5) * MINUTE).replace(minute=0, second=0, microsecond=0)
    result: dict[str, Any] = {}
    refresh_ms = {}
    for label, days in (("7d", args.days), ("1d", 1.0)):
        name = f"tsmon_bench_windows_{label}"
        url = scratch_database(name, args.engine)
        try:
            with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
                t = time.perf_counter()
                samples = build(conn, args.series, days, end)
                print(f"[{label}] {samples:,} samples in {time.perf_counter() - t:.1f} s")
                materialise_s = materialise(conn, end)
                print(f"[{label}] windows materialised in {materialise_s:.1f} s")
                if label == "7d":
                    result["engine"], result["edition"] = conn.execute(
                        "SELECT engine, (SELECT edition FROM tsmon.capabilities()) FROM tsmon.windows_engine"
                    ).fetchall()[0]
                    result |= {"samples": samples, "materialise_s": materialise_s}
                    bench_queries(conn, end, args.runs, result)
                refresh_ms[label] = bench_refresh(conn, end, args.refreshes)
                print(
                    f"[{label}] refresh of one new minute ({args.series} samples): {refresh_ms[label]:.1f} ms"
                )
        finally:
            drop_database(name)
    queries = result["queries"].values()
    result["label_vs_id"] = {
        name: q["windows_ms"] / result["queries"][BY_ID[name[0]]]["windows_ms"]
        for name, q in result["label_queries"].items()
    }
    result |= {
        "max_label_vs_id": max(result["label_vs_id"].values()),
        "min_speedup": min(q["speedup"] for q in queries),
        "max_windows_ms": max(q["windows_ms"] for q in queries),
        "refresh_1d_ms": refresh_ms["1d"],
        "refresh_7d_ms": refresh_ms["7d"],
        "refresh_ratio_7d_vs_1d": refresh_ms["7d"] / refresh_ms["1d"],
    }
    print(f"refresh 7d/1d history: {result['refresh_ratio_7d_vs_1d']:.2f}")  # then one JSON line
    print(json.dumps(json.loads(json.dumps(result), parse_float=lambda x: round(float(x), 3))))


if __name__ == "__main__":
    main()
