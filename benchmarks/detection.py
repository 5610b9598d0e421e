"""Detection benchmark: scoring job throughput (first run, steady state), a day later (retraining),
peak RSS, /api/v1/score latency."""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import pstats
import resource
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import httpx
import numpy as np
import psycopg
from psycopg import sql

from ingest import scratch_database, start_server  # benchmarks/ is on sys.path when run as a script
from tsmon.db.connect import database_url
from tsmon.scoring import policy
from tsmon.scoring.configs import apply_yaml, load_configs
from tsmon.scoring.job import GRACE, claim_shards, release, score_shard
from tsmon.scoring.models import ModelCache
from tsmon.settings import Settings
from tsmon.windows.definitions import floor_time
from tsmon.windows.engine import current_engine, refresh_windows
from tsmon.windows.retention import RetentionSettings

Conn = psycopg.Connection[tuple[object, ...]]
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
OWNER = "bench-detection"
LEASE = timedelta(minutes=2)
SHARDS_PER_CLAIM = 1  # as the worker: a lease covers one shard's work
WORKER_BUDGET_S = 45.0  # a single worker keeps lag < 60 s while one pass over all series takes less
CONFIG = """
configs:
  - name: bench
    metric: bench_cpu
    resolution: 1m
    detector: {detector}
    training_window: 1d
    shards: 16
"""
# A daily sine per series plus noise: one sample per minute.
VALUE = "50 + 20 * sin(extract(epoch FROM t) / 86400 * 2 * pi() + s.id) + 5 * random()"


def insert_minutes(conn: Conn, lo: datetime, hi: datetime) -> int:
    """One sample per series at each minute in [lo, hi), generated server-side.

    No tsmon.note_samples_written: fresh samples above the windows' watermark; it would log them as
    late data to re-score only because the wall clock has moved on since ``end``.
    """
    cur = conn.execute(
        f"INSERT INTO tsmon.samples (time, series_id, value) SELECT t, s.id, {VALUE} "
        "FROM tsmon.series s, generate_series(%s::timestamptz, %s::timestamptz - interval '1 minute', "
        "interval '1 minute') t",
        (lo, hi),
    )
    return max(cur.rowcount, 0)


def build(conn: Conn, series: int, hours: float, end: datetime) -> int:
    conn.execute(
        "INSERT INTO tsmon.series (metric, labels) SELECT 'bench_cpu', jsonb_build_object('i', i::text) "
        "FROM generate_series(0, %s - 1) i",
        (series,),
    )
    rows, lo = 0, end - timedelta(hours=hours)
    while lo < end:
        hi = min(lo + timedelta(hours=2), end)
        rows, lo = rows + insert_minutes(conn, lo, hi), hi
    conn.execute("VACUUM ANALYZE tsmon.samples")
    conn.execute("ANALYZE tsmon.series")
    return rows


def score_pass(conn: Conn, now: datetime, cache: ModelCache) -> dict[str, float]:
    """What worker.run_detection does, repeated until no shard is due: seconds, series, windows."""
    configs = {c.id: c for c in load_configs(conn)}
    t = time.perf_counter()
    seen: set[tuple[int, int]] = set()
    series = windows = 0
    while True:
        claimed = [c for c in claim_shards(conn, OWNER, LEASE, SHARDS_PER_CLAIM, now) if c not in seen]
        if not claimed:
            break
        for config_id, shard in claimed:
            seen.add((config_id, shard))
            try:
                result = score_shard(conn, configs[config_id], shard, OWNER, now, cache=cache)
            finally:
                release(conn, OWNER, config_id, shard)
            if result.scored:
                series += result.series
                windows += result.windows
    return {"seconds": time.perf_counter() - t, "series": series, "windows": windows, "shards": len(seen)}


def check_watermarks(conn: Conn, expected: datetime) -> None:
    row = conn.execute("SELECT min(watermark), max(watermark) FROM tsmon.detection_shards").fetchone()
    assert row == (expected, expected), f"shards not scored up to {expected}: {row}"


def bench_series(url: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    cache = ModelCache()  # models cached per (config, series): ids repeat per database
    retention = RetentionSettings()
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    out: dict[str, Any] = {"series": n}
    with psycopg.connect(url, autocommit=True) as conn:
        out["engine"] = current_engine(conn)
        t = time.perf_counter()
        out["samples"] = build(conn, n, args.hours, end)
        out["build_s"], t = time.perf_counter() - t, time.perf_counter()
        refresh_windows(conn, retention, now=end)
        conn.execute("ANALYZE")
        out["materialise_s"] = time.perf_counter() - t
        print(f"[{n:,} series] built: {out}")
        apply_yaml(conn, CONFIG.format(detector=args.detector))

        # (a) First run: models trained for every series, then the last hour scored.
        now = end + timedelta(seconds=30)  # the minute before `end` is past the scoring grace
        first = score_pass(conn, now, cache)
        check_watermarks(conn, end)
        assert first["series"] == n, first
        out["first_run_s"], out["first_run_series_per_s"] = first["seconds"], n / first["seconds"]
        out["first_run_points_per_s"] = first["windows"] / first["seconds"]
        print(f"[{n:,} series] first run (training + {first['windows'] // n} windows each): {first}")

        # (b) Steady state: one new minute for every series, then one pass (a minute later).
        passes, refresh_s = [], []
        profiler = cProfile.Profile()  # entered only with --profile
        for _ in range(args.steady_minutes):
            minute, now = end, end + MINUTE + timedelta(seconds=30)
            insert_minutes(conn, minute, minute + MINUTE)
            t = time.perf_counter()
            refresh_windows(conn, retention, now=now)  # what maintain_windows does every minute
            refresh_s.append(time.perf_counter() - t)
            conn.execute("UPDATE tsmon.detection_shards SET scored_at = NULL")  # a minute has passed
            with profiler if args.profile else contextlib.nullcontext():
                p = score_pass(conn, now, cache)
            end += MINUTE
            check_watermarks(conn, end)
            assert p["series"] == n and p["windows"] == n, p
            passes.append(p["seconds"])
            print(f"[{n:,} series] steady-state pass at {end:%H:%M}: {p['seconds']:.2f} s")
        pass_s = statistics.median(passes)
        out |= {
            "steady_pass_s": pass_s,
            "steady_pass_max_s": max(passes),
            "series_per_s": n / pass_s,
            "points_per_s": n / pass_s,  # one new window per series
            "windows_refresh_s": statistics.median(refresh_s),
        }
        if args.profile:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return out


def pass_at(conn: Conn, start: datetime, cache: ModelCache) -> dict[str, float]:
    """One pass scoring the window at ``start``, the ones before it taken as scored (a jump in time)."""
    conn.execute("UPDATE tsmon.detection_shards SET watermark = %s, scored_at = NULL", (start,))
    before = conn.execute("SELECT count(*) FROM tsmon.models").fetchone()
    p = score_pass(conn, start + MINUTE + timedelta(seconds=30), cache)
    after = conn.execute("SELECT count(*) FROM tsmon.models").fetchone()
    assert before is not None and after is not None
    return p | {"retrained": int(str(after[0])) - int(str(before[0]))}


def bench_retrain_day(url: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """A day after a first run, when every first-run model is due for its daily retraining.

    The day is walked in hourly jumps (each a one-window pass that retrains what came due since),
    then one pass a minute from 10 minutes before the first run's models turn a day old; those from
    5 minutes before to 5 after are measured:
    once with daily retraining spread over the day (each series at its slot, policy.retrain_offset),
    and once, from the same first run, with the rule before it (a model is due once a day old), the
    baseline. With one worker, a minute's lag is the grace plus its pass.
    """
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    trained = floor_time(end - 27 * HOUR, HOUR) + 20 * MINUTE  # measured passes stay inside an hour
    out: dict[str, Any] = {"series": n}
    with psycopg.connect(url, autocommit=True) as conn:
        t = time.perf_counter()
        hours = (end - trained + DAY) / HOUR + 0.5  # the first run's training day, and the day after
        out["samples"] = build(conn, n, hours, end)
        refresh_windows(conn, RetentionSettings(), now=end)
        conn.execute("ANALYZE")
        out["build_s"] = time.perf_counter() - t
        apply_yaml(conn, CONFIG.format(detector=args.detector))
        cache = ModelCache()
        first = score_pass(conn, trained + HOUR + timedelta(seconds=30), cache)  # windows from `trained`
        assert conn.execute("SELECT DISTINCT train_end FROM tsmon.models").fetchall() == [(trained,)]
        out["first_run_s"] = first["seconds"]
        print(
            f"[{n:,} series, a day later] built in {out['build_s']:.0f} s; first run {first['seconds']:.1f} s"
        )
        for variant in ("slots", "baseline"):
            conn.execute("DELETE FROM tsmon.models WHERE version > 1")
            conn.execute("DELETE FROM tsmon.drift_events")
            cache.clear()
            # The baseline: no slot, so retrain_reason is the age rule of before.
            no_slots = mock.patch.object(policy, "retrain_offset", lambda *a: None)
            with no_slots if variant == "baseline" else contextlib.nullcontext():
                # The day in hourly jumps, then ten minutes of passes a minute apart before measuring.
                jumps = [trained + h * HOUR for h in range(1, 24)] + [trained + DAY - 10 * MINUTE]
                day = [pass_at(conn, at, cache) for at in jumps]
                day += [pass_at(conn, trained + DAY + k * MINUTE, cache) for k in range(-9, -5)]
                passes = [pass_at(conn, trained + DAY + k * MINUTE, cache) for k in range(-5, 6)]
            slowest = max(passes, key=lambda p: p["seconds"])
            out[variant] = {
                "day_retrained": sum(p["retrained"] for p in day),
                "pass_s": [round(p["seconds"], 2) for p in passes],
                "retrained": [p["retrained"] for p in passes],
                "max_pass_s": slowest["seconds"],
                "median_pass_s": statistics.median(p["seconds"] for p in passes),
                "max_lag_s": GRACE.total_seconds() + slowest["seconds"],
            }
            print(f"[{n:,} series, a day later] {variant}: {out[variant]}")
    # What one model's training adds to a pass: the baseline's pass that retrains all n, less a pass.
    out["train_s_per_model"] = (out["baseline"]["max_pass_s"] - out["baseline"]["median_pass_s"]) / n
    return out


def lag_at(series: int, series_per_s: float, day: dict[str, Any]) -> dict[str, float]:
    """A day after a first run at ``series``, one worker's worst lag: the grace, a steady pass at the
    throughput measured, and the trainings of one pass (the most one slot holds, or all of them)."""
    steady = GRACE.total_seconds() + series / series_per_s
    one_slot = -(-series // policy.RETRAIN_SLOTS)  # ceil: series sharing the busiest slot
    return {
        "slots": steady + one_slot * day["train_s_per_model"],
        "baseline": steady + series * day["train_s_per_model"],
    }


def bench_score_api(url: str, requests: int) -> dict[str, float]:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT min(series_id) FROM tsmon.models").fetchone()
    assert row is not None and row[0] is not None
    start = int(time.time()) // 60 * 60 - 1000 * 60
    rng = np.random.default_rng(7)
    points = [[start + 60 * i, float(v)] for i, v in enumerate(50 + 5 * rng.standard_normal(1000))]
    # Encoded once, as a load generator sends it: the figure is the round trip, not the client's json.dumps.
    body = json.dumps({"series_id": int(str(row[0])), "points": points}).encode()
    headers = {"content-type": "application/json"}
    proc, base = start_server(url)
    latencies = []
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            for i in range(10 + requests):
                t = time.perf_counter()
                r = client.post("/api/v1/score", content=body, headers=headers)
                elapsed = time.perf_counter() - t
                if r.status_code != 200:
                    raise SystemExit(f"/api/v1/score: {r.status_code} {r.text[:300]}")
                if i >= 10:  # after a warm-up (model loaded, connections open)
                    latencies.append(elapsed * 1000)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert len(r.json()["scores"]) == 1000
    p50, p99 = np.percentile(latencies, [50, 99])
    return {"score_p50_ms": float(p50), "score_p99_ms": float(p99), "score_requests": requests}


def drop(name: str) -> None:
    with psycopg.connect(database_url(Settings()), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def rounded(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: rounded(x) for k, x in v.items()}
    return round(v, 3) if isinstance(v, float) else v


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--series", type=int, nargs="+", default=[1_000, 10_000])
    ap.add_argument("--hours", type=float, default=26.0, help="history per series (1-day training + 1 h)")
    ap.add_argument("--detector", default="onset", help="registry name (default: the product default)")
    ap.add_argument("--steady-minutes", type=int, default=3, help="steady-state passes (median reported)")
    ap.add_argument("--requests", type=int, default=200, help="POST /api/v1/score requests")
    ap.add_argument("--profile", action="store_true", help="print a profile of the steady-state passes")
    ap.add_argument(
        "--day-series", type=int, default=2_000, help="series of the day-later run (retraining); 0: skip it"
    )
    args = ap.parse_args()
    runs, names, url = {}, [], ""
    try:
        for n in sorted(args.series):
            names.append(f"tsmon_bench_detection_{n}")
            url = scratch_database(names[-1])
            runs[n] = bench_series(url, n, args)
            if n != max(args.series):
                drop(names[-1])
        largest = runs[max(runs)]
        result: dict[str, Any] = {
            "detector": args.detector,
            "series": sorted(runs),
            "series_per_s": largest["series_per_s"],
            "points_per_s": largest["points_per_s"],
            "max_series_at_lag_lt_60s": int(largest["series_per_s"] * WORKER_BUDGET_S),
            "first_run_series_per_s": largest["first_run_series_per_s"],
        }
        for n, r in runs.items():  # peak_rss_mb_10k: RSS is a process maximum, so runs go smallest first
            result[f"peak_rss_mb_{f'{n // 1000}k' if n % 1000 == 0 else n}"] = r["peak_rss_mb"]
        result |= bench_score_api(url, args.requests)  # on the largest run's database
        if args.day_series:
            names.append(f"tsmon_bench_detection_day_{args.day_series}")
            day = bench_retrain_day(scratch_database(names[-1]), args.day_series, args)
            result["day_later"] = day
            result["day_later_max_lag_s"] = day["slots"]["max_lag_s"]
            result["day_later_baseline_max_lag_s"] = day["baseline"]["max_lag_s"]
            at_50k = lag_at(50_000, result["series_per_s"], day)
            result["day_later_lag_s_at_50k"] = at_50k["slots"]
            result["day_later_baseline_lag_s_at_50k"] = at_50k["baseline"]
    finally:
        for name in names:
            drop(name)
    for n, r in runs.items():
        print(
            f"{n:,} series: first run {r['first_run_series_per_s']:,.0f} series/s "
            f"({r['first_run_points_per_s']:,.0f} points/s); steady state {r['series_per_s']:,.0f} series/s "
            f"= {r['steady_pass_s']:.2f} s per minute (max {r['steady_pass_max_s']:.2f} s; windows refresh "
            f"{r['windows_refresh_s']:.2f} s); peak RSS {r['peak_rss_mb']:.0f} MB"
        )
    print(
        f"one worker keeps lag < 60 s up to ~{result['max_series_at_lag_lt_60s']:,} series "
        f"({WORKER_BUDGET_S:.0f} s of scoring per minute); POST /api/v1/score, 1,000 points: p50 "
        f"{result['score_p50_ms']:.1f} ms, p99 {result['score_p99_ms']:.1f} ms ({args.requests} requests)"
    )
    if args.day_series:
        slots, before = result["day_later"]["slots"], result["day_later"]["baseline"]
        print(
            f"a day after a first run ({args.day_series:,} series): slowest pass {slots['max_pass_s']:.1f} s "
            f"with retraining spread over the day (at most {max(slots['retrained'])} models in one pass) vs "
            f"{before['max_pass_s']:.1f} s when every model is due a day later "
            f"({max(before['retrained'])} in one pass): lag {slots['max_lag_s']:.0f} s vs "
            f"{before['max_lag_s']:.0f} s; at 50,000 series (steady throughput of the largest run, "
            f"{result['day_later']['train_s_per_model'] * 1000:.1f} ms per training) "
            f"~{result['day_later_lag_s_at_50k']:.0f} s vs ~{result['day_later_baseline_lag_s_at_50k']:.0f} s"
        )
    result["runs"] = {str(n): r for n, r in runs.items()}
    print(json.dumps(rounded(result)))


if __name__ == "__main__":
    main()
