"""Detection lag under load: the real worker scheduler scoring N series while a minute of samples arrives.

Lag of a window = when every shard's watermark has passed it, minus the window's end: how long a
complete minute waits for its scores (grace included). The worker's own gauge
(`tsmon_detection_lag_seconds`, scoring.job.detection_lags) is sampled alongside.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from apscheduler.schedulers.background import BackgroundScheduler
from psycopg_pool import ConnectionPool

from detection import CONFIG, build, drop, insert_minutes, rounded, score_pass
from ingest import scratch_database
from tsmon.scoring.configs import apply_yaml
from tsmon.scoring.job import GRACE, detection_lags
from tsmon.scoring.models import ModelCache
from tsmon.settings import Settings
from tsmon.windows.engine import current_engine, refresh_windows
from tsmon.windows.retention import RetentionSettings
from tsmon.worker import WorkerContext, WorkerMetrics, build_scheduler

MINUTE = timedelta(minutes=1)
FEED_SECOND = 30  # the minute's sample (stamped now) arrives half-way through it


def feed(url: str, stop: threading.Event, fed: list[tuple[datetime, float]]) -> None:
    """One sample per series stamped at second FEED_SECOND of every minute, written then."""
    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.is_set():
            now = datetime.now(UTC)
            minute = now.replace(second=0, microsecond=0)
            due = minute + timedelta(seconds=FEED_SECOND)
            if now >= due:
                due += MINUTE
            if stop.wait((due - now).total_seconds()):
                return
            t = time.perf_counter()
            insert_minutes(conn, due, due + MINUTE)  # one sample per series, stamped `due`
            fed.append((due, time.perf_counter() - t))


def monitor(url: str, stop: threading.Event, marks: list[tuple[datetime, datetime | None, float]]) -> None:
    """Every half second: (wall clock, slowest shard's watermark, the worker's lag gauge)."""
    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.wait(0.5):
            row = conn.execute("SELECT now(), min(watermark) FROM tsmon.detection_shards").fetchone()
            gauge = detection_lags(conn)
            assert row is not None and isinstance(row[0], datetime)
            mark = row[1] if isinstance(row[1], datetime) else None
            marks.append((row[0], mark, max(gauge.values(), default=0.0)))


def window_lags(marks: list[tuple[datetime, datetime | None, float]], since: datetime) -> dict[str, float]:
    """Seconds from each window's end (after ``since``) to the first poll with it scored everywhere."""
    lags: dict[str, float] = {}
    previous: datetime | None = None
    for at, mark, _ in marks:
        if mark is None:
            continue
        end = mark if previous is None else previous + MINUTE
        while previous is not None and end <= mark:  # every window the watermark passed since the last poll
            if end > since:
                lags[f"{end - MINUTE:%H:%M}"] = (at - end).total_seconds()
            end += MINUTE
        previous = mark
    return lags


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--series", type=int, default=50_000)
    ap.add_argument("--hours", type=float, default=2.5, help="history per series (the first run scores 1 h)")
    ap.add_argument("--minutes", type=int, default=5, help="live minutes measured (after one warm-up)")
    ap.add_argument("--detector", default="onset", help="registry name (default: the product default)")
    args = ap.parse_args()
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)  # as the worker: overlaps are normal
    name = f"tsmon_bench_detection_live_{args.series}"
    url = scratch_database(name)
    settings = Settings()
    out: dict[str, Any] = {"series": args.series, "detector": args.detector}
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            out["engine"] = current_engine(conn)
            end = datetime.now(UTC).replace(second=0, microsecond=0)
            t = time.perf_counter()
            out["samples"] = build(conn, args.series, args.hours, end)
            refresh_windows(conn, RetentionSettings(), now=end + MINUTE)
            out["build_s"] = time.perf_counter() - t
            apply_yaml(conn, CONFIG.format(detector=args.detector))
            print(f"[{args.series:,} series] built in {out['build_s']:.0f} s; first run (training) ...")
            now = datetime.now(UTC)
            insert_minutes(conn, end, now.replace(second=0, microsecond=0))  # minutes passed meanwhile
            first = score_pass(conn, now, ModelCache())
            out["first_run_s"] = first["seconds"]
            out["first_run_series_per_s"] = first["series"] / first["seconds"]
            print(f"first run: {first}")

        stop = threading.Event()
        fed: list[tuple[datetime, float]] = []
        marks: list[tuple[datetime, datetime | None, float]] = []
        threads = [
            threading.Thread(target=feed, args=(url, stop, fed), daemon=True),
            threading.Thread(target=monitor, args=(url, stop, marks), daemon=True),
        ]
        pool = ConnectionPool(url, min_size=1, max_size=4, kwargs={"autocommit": True})
        ctx = WorkerContext(settings, pool, WorkerMetrics())
        scheduler = build_scheduler(ctx, BackgroundScheduler(timezone=UTC), scrape_jobs=[])
        for thread in threads:
            thread.start()
        started = datetime.now(UTC)
        scheduler.start()
        warm = started.replace(second=0, microsecond=0) + 2 * MINUTE
        print(f"live from {started:%H:%M:%S}; measuring windows ending after {warm:%H:%M}")
        try:
            time.sleep(
                max(0.0, (warm + args.minutes * MINUTE + timedelta(seconds=50) - started).total_seconds())
            )
        finally:
            scheduler.shutdown(wait=True)
            stop.set()
            for thread in threads:
                thread.join(timeout=120)
            ctx.http.close()
            pool.close()
        lags = window_lags(marks, warm)
        gauge = [g for at, _, g in marks if at > warm]
        for minute, lag in lags.items():
            print(f"window {minute}: scored everywhere {lag:.1f} s after it ended")
        out |= {
            "grace_s": GRACE.total_seconds(),
            "window_lags_s": lags,
            "max_lag_s": max(lags.values()),
            "median_lag_s": statistics.median(lags.values()),
            "gauge_max_s": max(gauge, default=0.0),
            "feed_median_s": statistics.median(s for _, s in fed),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    finally:
        drop(name)
    print(
        f"{args.series:,} series ({args.detector}): windows scored {out['median_lag_s']:.1f} s (median), "
        f"{out['max_lag_s']:.1f} s (max) after they end; worker lag gauge max {out['gauge_max_s']:.1f} s"
    )
    print(json.dumps(rounded(out)))


if __name__ == "__main__":
    main()
