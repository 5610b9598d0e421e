"""How the scheduler registers and runs the jobs: outcomes and misses as metrics, outages, scrape files."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from tsmon.ingest.batch import SampleBatch, datetime_to_us
from tsmon.ingest.writer import SampleWriter, SeriesCache
from tsmon.windows.engine import refresh_windows
from tsmon.windows.retention import RetentionSettings
from tsmon.worker import (
    WorkerContext,
    build_scheduler,
    record_own_metrics,
)


def test_job_outcomes_are_counted_and_stored(ctx: WorkerContext, db_url: str) -> None:
    scheduler = build_scheduler(ctx, BackgroundScheduler(), scrape_jobs=[])
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert set(jobs) == {
        "heartbeat",
        "collect_host_metrics",
        "record_own_metrics",
        "maintain_windows",
        "run_detection",
        "attach_changes",
    }
    for job in jobs.values():
        assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time > 0
    scheduler.start()
    try:
        with psycopg.connect(db_url) as conn:
            for _ in range(100):
                n = conn.execute(
                    "SELECT count(*) FROM tsmon.metric_samples WHERE metric = 'node_load1'"
                ).fetchone()
                if n and n[0]:
                    break
                time.sleep(0.1)
    finally:
        scheduler.shutdown(wait=True)
    ok = ctx.metrics.runs.labels("collect_host_metrics", "ok")._value.get()
    assert ok >= 1
    record_own_metrics(ctx)
    with psycopg.connect(db_url) as conn:
        stored = conn.execute(
            """SELECT value FROM tsmon.metric_samples WHERE metric = 'tsmon_job_runs_total'
               AND labels @> '{"job": "tsmon_worker", "job_id": "collect_host_metrics", "outcome": "ok"}'
               ORDER BY time DESC LIMIT 1"""
        ).fetchone()
    assert stored is not None and stored[0] >= 1


def failing_job(ctx: WorkerContext) -> None:
    raise RuntimeError("boom")


def test_detection_and_job_health_become_own_metrics(ctx: WorkerContext, db_url: str) -> None:
    """Runs, failures, misses, durations, windows scored and lag per config land in tsmon.samples."""
    from datetime import UTC

    from tsmon.ingest.batch import canonical_labels
    from tsmon.scoring.configs import apply_yaml

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with psycopg.connect(db_url, autocommit=True) as conn:
        batch = SampleBatch()
        for m in range(180, 0, -1):
            t = datetime_to_us(now - timedelta(minutes=m))
            batch.append("own_load", canonical_labels({"host": "h1"}), t, 5.0 + m % 7)
        SampleWriter(conn, SeriesCache(10)).write(batch)
        apply_yaml(
            conn, "configs:\n  - {name: own-load, metric: own_load, detector: mad, training_window: 1d}\n"
        )
        # Written below the windows' watermark (continuous aggregates materialised the template's
        # empty history): visible once refreshed, as the refresh policy does within a minute.
        refresh_windows(conn, RetentionSettings())
    scheduler = build_scheduler(ctx, BackgroundScheduler(timezone=UTC), scrape_jobs=[])
    scheduler.add_job(failing_job, args=[ctx], id="failing_job", next_run_time=datetime.now(UTC))
    scheduler.add_job(
        failing_job,
        "date",
        args=[ctx],
        id="late_job",
        run_date=now - timedelta(minutes=5),
        misfire_grace_time=1,
    )
    scheduler.start()
    try:
        for _ in range(600):  # detection's first run trains the model: give a loaded machine time
            scored = ctx.metrics.windows_scored.labels("own-load")._value.get()
            if scored and ctx.metrics.missed.labels("late_job")._value.get():
                break
            time.sleep(0.1)
    finally:
        scheduler.shutdown(wait=True)
    record_own_metrics(ctx)
    own = """SELECT value FROM tsmon.metric_samples WHERE metric = %s AND labels @> %s::jsonb
             ORDER BY time DESC LIMIT 1"""
    expected = {
        ("tsmon_job_runs_total", '{"job_id": "run_detection", "outcome": "ok"}'): lambda v: v >= 1,
        ("tsmon_job_runs_total", '{"job_id": "failing_job", "outcome": "error"}'): lambda v: v == 1,
        ("tsmon_job_missed_total", '{"job_id": "late_job"}'): lambda v: v == 1,
        ("tsmon_job_duration_seconds_count", '{"job_id": "run_detection"}'): lambda v: v >= 1,
        # The last hour; its newest minute waits for its 10 s grace when the run starts inside it.
        ("tsmon_detection_windows_scored_total", '{"config": "own-load"}'): lambda v: v in (59, 60),
        # Every complete window is scored: only the minute still inside its grace can wait.
        ("tsmon_detection_lag_seconds", '{"config": "own-load"}'): lambda v: 0 <= v <= 15,
    }
    with psycopg.connect(db_url) as conn:
        for (metric, labels), check in expected.items():
            row = conn.execute(own, (metric, labels)).fetchone()
            assert row is not None, f"{metric} {labels} not stored"
            assert check(float(row[0])), f"{metric} {labels} = {row[0]}"


def test_unknown_scrape_keys_are_warnings_not_a_dead_worker(
    ctx: WorkerContext, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "scrape.yml"
    path.write_text(
        "global: {scrape_interval: 30s, evaluation_interval: 1m}\n"
        "scrape_configs:\n"
        "  - {job_name: app, scrape_interval: 5s, sample_limit: 100, color: blue,\n"
        "     static_configs: [{targets: ['127.0.0.1:9']}]}\n"
    )
    ctx.settings = ctx.settings.model_copy(update={"scrape_config": path})
    with caplog.at_level(logging.WARNING, logger="tsmon.scrape"):
        scheduler = build_scheduler(ctx, BackgroundScheduler())
    assert "scrape:app" in {j.id for j in scheduler.get_jobs()}
    messages = "\n".join(r.getMessage() for r in caplog.records)
    for key in ("evaluation_interval", "sample_limit", "'color'"):
        assert key in messages


def database_down(ctx: WorkerContext) -> None:
    raise psycopg.OperationalError("connection refused")


def test_an_outage_is_logged_once_not_per_run(ctx: WorkerContext, caplog: pytest.LogCaptureFixture) -> None:
    scheduler = build_scheduler(ctx, BackgroundScheduler(timezone=UTC), scrape_jobs=[])
    scheduler.add_job(database_down, "interval", seconds=0.2, args=[ctx], id="database_down", max_instances=1)
    with caplog.at_level("WARNING", logger="tsmon.worker"):
        scheduler.start()
        try:
            for _ in range(100):
                if ctx.metrics.runs.labels("database_down", "error")._value.get() >= 5:
                    break
                time.sleep(0.1)
            scheduler.remove_job("database_down")
            for _ in range(100):  # the next successful run says the database is back
                if ctx.outage_since is None:
                    break
                time.sleep(0.1)
        finally:
            scheduler.shutdown(wait=True)
    said = [
        r.getMessage() for r in caplog.records if r.name == "tsmon.worker" and "database" in r.getMessage()
    ]
    assert ctx.metrics.runs.labels("database_down", "error")._value.get() >= 5
    assert len(said) == 2 and said[0].startswith("database unavailable"), said
    assert said[1].startswith("database available again")
