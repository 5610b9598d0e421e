"""The scheduler: every job registered with coalescing, one instance, an explicit misfire grace."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from psycopg_pool import ConnectionPool

from tsmon.db import is_transient
from tsmon.scrape.config import ScrapeJob
from tsmon.scrape.own import jobs_from_settings
from tsmon.settings import Settings
from tsmon.worker.context import WorkerContext, WorkerMetrics
from tsmon.worker.jobs import (
    CHANGES_INTERVAL_S,
    DETECTION_INTERVAL_S,
    HEARTBEAT_INTERVAL_S,
    HOST_METRICS_INTERVAL_S,
    OWN_METRICS_INTERVAL_S,
    WINDOWS_INTERVAL_S,
    attach_changes,
    collect_host_metrics,
    feed_demo,
    heartbeat,
    maintain_windows,
    record_own_metrics,
    run_detection,
    scrape_targets,
)

log = logging.getLogger("tsmon.worker")


def build_scheduler(
    ctx: WorkerContext, scheduler: BaseScheduler | None = None, scrape_jobs: list[ScrapeJob] | None = None
) -> BaseScheduler:
    """Register every job with coalescing, one instance at a time and an explicit misfire grace."""
    scheduler = scheduler or BlockingScheduler(timezone=UTC)

    def every(seconds: float, func: Callable[..., None], job_id: str, *args: object) -> None:
        # The grace equals the interval: a run later than that is skipped (and counted as missed).
        scheduler.add_job(
            func,
            "interval",
            seconds=seconds,
            args=[ctx, *args],
            id=job_id,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(int(seconds), 1),
            next_run_time=datetime.now(UTC),
        )

    every(HEARTBEAT_INTERVAL_S, heartbeat, "heartbeat")
    every(HOST_METRICS_INTERVAL_S, collect_host_metrics, "collect_host_metrics")
    every(OWN_METRICS_INTERVAL_S, record_own_metrics, "record_own_metrics")
    every(WINDOWS_INTERVAL_S, maintain_windows, "maintain_windows")
    every(DETECTION_INTERVAL_S, run_detection, "run_detection")
    every(CHANGES_INTERVAL_S, attach_changes, "attach_changes")
    if ctx.settings.demo:
        every(HOST_METRICS_INTERVAL_S, feed_demo, "feed_demo")
    if scrape_jobs is None:
        scrape_jobs = jobs_from_settings(ctx.settings)
    for job in scrape_jobs:
        every(job.interval_s, scrape_targets, f"scrape:{job.job_name}", job)

    def on_event(event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MISSED:
            ctx.metrics.missed.labels(event.job_id).inc()
            log.warning("job %s missed its run at %s", event.job_id, event.scheduled_run_time)
            return
        outcome = "error" if event.code == EVENT_JOB_ERROR else "ok"
        ctx.metrics.runs.labels(event.job_id, outcome).inc()
        if event.exception is not None and is_transient(event.exception):
            # An outage fails every job every few seconds: said once when it starts and once when it ends.
            if ctx.outage_since is None:
                ctx.outage_since = time.monotonic()
                log.warning("database unavailable (%s): jobs fail until it is back", event.exception)
        elif event.exception is not None:
            log.error("job %s failed: %s", event.job_id, event.exception, exc_info=event.exception)
        elif ctx.outage_since is not None:
            log.warning("database available again after %.0f s", time.monotonic() - ctx.outage_since)
            ctx.outage_since = None

    scheduler.add_listener(on_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    ctx.jobs[:] = [j.id for j in scheduler.get_jobs()]
    return scheduler


def run_worker(settings: Settings, database_url: str) -> None:
    """Run the scheduler until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per run is noise
    # "skipped: maximum number of running instances": a detection run working through its queue for
    # longer than the interval is normal at scale (runs coalesce); missed runs are counted and logged.
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Its executor logs each failed run's traceback; on_event logs failures once (outages once).
    logging.getLogger("apscheduler.executors").setLevel(logging.CRITICAL)
    pool = ConnectionPool(
        database_url,
        min_size=1,
        max_size=4,
        open=True,
        kwargs={"application_name": "tsmon-worker", "autocommit": True},
        # A connection broken by a database restart is found before a job gets it; and reconnecting
        # gives up after 10 s, so the next job's request starts over instead of waiting out an
        # exponential backoff that, after a 75 s outage, reconnected 41 s late.
        check=ConnectionPool.check_connection,
        reconnect_timeout=10.0,
    )
    ctx = WorkerContext(settings, pool, WorkerMetrics())
    scheduler = build_scheduler(ctx)
    log.info("worker started on %s; jobs: %s", ctx.instance, ", ".join(j.id for j in scheduler.get_jobs()))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        ctx.http.close()
        pool.close()
