"""Dashboards benchmark: every panel, variable and annotation query of the generated dashboards (and every
alert query), expanded as Grafana does for each dashboard's default range, timed as tsmon_reader on the
windows benchmark's dataset (1,000 series x 7 days) plus the series those dashboards read.

Ends with one JSON line: {"panels": {"<dashboard uid>/<query key>": ms, ...}, "max_ms": ..., ...}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from tsmon.grafana import alerting
from tsmon.grafana.build import dashboard_json
from tsmon.grafana.catalog import GrafanaQuery, alert_queries, dashboard_queries, shape_problems
from tsmon.grafana.macros import QueryContext, expand, panel_interval
from tsmon.scrape.host import collect_host_samples
from tsmon.worker import WorkerMetrics, own_samples
from windows import build, drop_database, materialise, scratch_database  # benchmarks/ is on sys.path

Conn = psycopg.Connection[tuple[object, ...]]
NAME = "tsmon_bench_dashboards"
TARGET_MS = 200.0
INSTANCE = "bench-host"
SCORED_SERIES = 50  # bench_gauge series with 7 days of 1-minute scores


def dashboard_series(conn: Conn) -> int:
    """The series the host and tsmon dashboards read (names from the real collectors), created before the
    windows builder runs, so it writes their 7 days of samples too (counters for *_total names)."""
    m = WorkerMetrics()
    m.runs.labels("run_detection", "ok").inc()
    m.runs.labels("run_detection", "error").inc()
    m.missed.labels("run_detection").inc()
    m.duration.labels("run_detection").observe(1)
    m.scrape_failures.labels("tsmon").inc()
    m.ingest.accepted.labels("host").inc()
    m.ingest.rejected.labels("remote_write", "too_old").inc()
    m.windows_scored.labels("bench").inc()
    m.detection_lag.labels("bench").set(1)
    own = [(name, labels) for name, labels, _ in own_samples(m, INSTANCE)]
    host = [(name, labels) for name, labels, _ in collect_host_samples(INSTANCE)]
    rows = [(name, json.dumps(labels, sort_keys=True)) for name, labels in own + host]
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO tsmon.series (metric, labels) VALUES (%s, %s::jsonb)", rows)
    return len(rows)


def detection_output(conn: Conn, end: datetime) -> None:
    """Configs, 7 days of scores for SCORED_SERIES bench_gauge series, and anomaly events over the week."""
    conn.execute(
        "INSERT INTO tsmon.detection_configs (name, metric, min_duration, shards) "
        "VALUES ('bench', 'bench_gauge', '2 minutes', 4)"
    )
    conn.execute(
        "INSERT INTO tsmon.detection_shards (config_id, shard, watermark, scored_at) "
        "SELECT 1, k, %s - interval '1 minute', %s FROM generate_series(0, 3) k",
        (end, end),
    )
    ids = "SELECT id FROM tsmon.series WHERE metric = 'bench_gauge' ORDER BY id LIMIT %s"
    conn.execute(
        "INSERT INTO tsmon.anomaly_scores (time, series_id, config_id, detector, model_version, score, "
        "expected, lower, upper, is_anomaly) "
        "SELECT t, s.id, 1, 'ensemble', 1, (s.id * 7 + extract(epoch FROM t)::bigint / 60) %% 1000 / 1000.0, "
        "50, 40, 60, (s.id * 7 + extract(epoch FROM t)::bigint / 60) %% 1000 >= 998 "
        f"FROM ({ids}) s, "
        "generate_series(%s - interval '7 days', %s - interval '1 minute', interval '1 minute') t",
        (SCORED_SERIES, end, end),
    )
    conn.execute(
        "INSERT INTO tsmon.anomalies (series_id, config_id, detector, model_version, started_at, ended_at, "
        "peak_score, peak_at, severity, status, feedback) "
        "SELECT s.id, 1, 'ensemble', 1, %s - k * interval '3 hours', "
        "CASE WHEN k > 1 THEN %s - k * interval '3 hours' + interval '20 minutes' END, 0.9999, "
        "%s - k * interval '3 hours', (ARRAY['info', 'warning', 'critical'])[1 + k %% 3], "
        "CASE WHEN k > 1 THEN 'closed' ELSE 'open' END, CASE WHEN k %% 4 = 0 THEN 'true_positive' END "
        f"FROM ({ids}) s, generate_series(1, 56) k WHERE (s.id + k) %% 10 = 0",
        (end, end, end, SCORED_SERIES),
    )
    conn.execute("ANALYZE")


def variables(conn: Conn) -> dict[str, Any]:
    one = conn.execute(
        "SELECT id FROM tsmon.series WHERE metric = 'bench_gauge' ORDER BY id LIMIT 1"
    ).fetchall()
    return {
        "metric": "bench_gauge",
        "label": "rack",
        "label_value": ["r0"],
        "series": [str(one[0][0])],
        "instance": [INSTANCE],
    }


def timed(conn: Conn, sql: str, runs: int) -> tuple[float, list[Any], list[tuple[Any, ...]]]:
    """Median wall ms (rows fetched) over ``runs`` after one warm-up."""
    cur = conn.execute(sql)  # type: ignore[call-overload]
    rows = cur.fetchall()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        cur = conn.execute(sql)  # type: ignore[call-overload]
        rows = cur.fetchall()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000, list(cur.description or []), rows


def span_of(uid: str, dashboards: dict[str, dict[str, Any]]) -> timedelta:
    amount, unit = (
        dashboards[uid]["time"]["from"].removeprefix("now-")[:-1],
        dashboards[uid]["time"]["from"][-1],
    )
    return timedelta(hours=int(amount) * (24 if unit == "d" else 1))


def bench_panels(conn: Conn, end: datetime, runs: int) -> dict[str, float]:
    dashboards = dashboard_json()
    chosen = variables(conn)
    queries: list[GrafanaQuery] = [q for d in dashboards.values() for q in dashboard_queries(d)]
    queries += list(alert_queries(alerting.provisioning()))
    out = {}
    conn.execute("SET ROLE tsmon_reader")  # Grafana's role: the same privileges and plans as in production
    for q in queries:
        span = timedelta(seconds=q.range_seconds) if q.kind == "alert" else span_of(q.source, dashboards)
        ctx = QueryContext(start=end - span, end=end, interval=panel_interval(span), variables=chosen)
        ms, description, rows = timed(conn, expand(q.sql, ctx), runs)
        problems = shape_problems(q, [c.name for c in description], rows, [c.type_code for c in description])
        assert not problems, (q.source, q.key, problems)
        out[f"{q.source}/{q.key}"] = ms
        flag = "" if ms < TARGET_MS else "  OVER TARGET"
        print(f"{q.source:16} {q.key:24} {q.title[:38]:38} {ms:8.1f} ms {len(rows):6} rows{flag}")
    conn.execute("RESET ROLE")
    return out


def bench_baseline(conn: Conn, end: datetime, runs: int) -> dict[str, float]:
    """The same 6 h of one rack's 1m windows: ids pushed into the windows (as the dashboards do) vs a join
    on labels (which aggregates every series' real-time part first)."""
    lo = (end - timedelta(hours=6)).isoformat()
    rack = "metric = 'bench_gauge' AND labels @> '{\"rack\": \"r0\"}'"
    ids = f"ARRAY(SELECT series_id FROM tsmon.metric_series WHERE {rack})"
    fast = (
        f"SELECT time, series_id, avg FROM tsmon.series_windows({ids}, '{lo}', '{end.isoformat()}', 100) "
        "ORDER BY 1, 2"
    )
    slow = (
        f"SELECT bucket, series_id, avg FROM tsmon.metric_1m WHERE {rack} "
        f"AND bucket >= '{lo}' AND bucket < '{end.isoformat()}' ORDER BY 1, 2"
    )
    fast_ms, _, fast_rows = timed(conn, fast, runs)
    slow_ms, _, slow_rows = timed(conn, slow, runs)
    assert len(fast_rows) == len(slow_rows) > 0, (len(fast_rows), len(slow_rows))
    print(
        f"baseline: 6 h of one rack, ids pushed down {fast_ms:.1f} ms vs label join {slow_ms:.1f} ms "
        f"({slow_ms / fast_ms:.1f}x)"
    )
    return {"series_windows_ms": fast_ms, "label_join_ms": slow_ms, "speedup": slow_ms / fast_ms}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--days", type=float, default=7)
    ap.add_argument("--engine", choices=["auto", "tsmon", "continuous_aggregates"], default="auto")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per query (median)")
    ap.add_argument(
        "--keep", action="store_true", help=f"keep database {NAME} afterwards (to EXPLAIN queries)"
    )
    args = ap.parse_args()
    # Data ends on the last full minute: the dashboards' default ranges end at "now".
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    url = scratch_database(NAME, args.engine)
    result: dict[str, Any] = {}
    try:
        with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
            t = time.perf_counter()
            extra = dashboard_series(conn)
            samples = build(conn, args.series, args.days, end)
            detection_output(conn, end)
            print(
                f"{samples:,} samples ({args.series} bench series + {extra} host/tsmon series) "
                f"in {time.perf_counter() - t:.1f} s"
            )
            print(f"windows materialised in {materialise(conn, end):.1f} s")
            result["engine"], result["edition"] = conn.execute(
                "SELECT engine, (SELECT edition FROM tsmon.capabilities()) FROM tsmon.windows_engine"
            ).fetchall()[0]
            result["baseline"] = bench_baseline(conn, end, args.runs)
            result["panels"] = bench_panels(conn, end, args.runs)
    finally:
        if not args.keep:
            drop_database(NAME)
    result["max_ms"] = max(result["panels"].values())
    result["target_ms"] = TARGET_MS
    result["over_target"] = sorted(k for k, v in result["panels"].items() if v >= TARGET_MS)
    print(f"slowest query: {result['max_ms']:.1f} ms (target < {TARGET_MS:.0f} ms)")  # then one JSON line
    print(json.dumps(json.loads(json.dumps(result), parse_float=lambda x: round(float(x), 2))))


if __name__ == "__main__":
    main()
