"""The `tsmon worker` process: an APScheduler 3 scheduler whose jobs are module-level functions."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from prometheus_client import CollectorRegistry, Counter, Histogram
from psycopg_pool import ConnectionPool

from tsmon.ingest.batch import SampleBatch, canonical_labels, datetime_to_us
from tsmon.ingest.writer import SampleWriter, SeriesCache
from tsmon.scrape.host import collect_host_samples, host_name
from tsmon.settings import Settings

log = logging.getLogger("tsmon.worker")

HOST_METRICS_INTERVAL_S = 15
OWN_METRICS_INTERVAL_S = 15


@dataclass
class WorkerMetrics:
    """The worker's own counters; written into tsmon.samples by record_own_metrics."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.runs = Counter(
            "tsmon_job_runs", "Job runs by outcome.", ["job_id", "outcome"], registry=self.registry
        )
        self.missed = Counter(
            "tsmon_job_missed", "Runs skipped past their misfire grace.", ["job_id"], registry=self.registry
        )
        self.duration = Histogram(
            "tsmon_job_duration_seconds", "Job run time.", ["job_id"], registry=self.registry
        )


@dataclass
class WorkerContext:
    """Everything a job needs, passed by the scheduler; one per worker process."""

    settings: Settings
    pool: ConnectionPool
    metrics: WorkerMetrics
    instance: str = field(default_factory=host_name)
    cache: SeriesCache = field(init=False)

    def __post_init__(self) -> None:
        self.cache = SeriesCache(self.settings.series_cache_size)

    def write(self, samples: list[tuple[str, dict[str, str], float]], at: datetime) -> int:
        batch = SampleBatch()
        t = datetime_to_us(at)
        for name, labels, value in samples:
            batch.append(name, canonical_labels(labels), t, value)
        with self.pool.connection() as conn:
            return SampleWriter(conn, self.cache).write(batch).rows


# -- jobs (module-level, registered by reference) ------------------------------------------------
def collect_host_metrics(ctx: WorkerContext) -> None:
    """Read this host's metrics and store them."""
    with ctx.metrics.duration.labels("collect_host_metrics").time():
        ctx.write(collect_host_samples(ctx.instance), datetime.now(UTC))


def record_own_metrics(ctx: WorkerContext) -> None:
    """Store the worker's own counters (job runs, failures, misses, durations) like any other metric."""
    base = {"job": "tsmon-worker", "instance": ctx.instance}
    samples = [
        (s.name, {**base, **s.labels}, s.value)
        for family in ctx.metrics.registry.collect()
        for s in family.samples
        if not s.name.endswith("_created")
    ]
    ctx.write(samples, datetime.now(UTC))


# -- scheduler -----------------------------------------------------------------------------------
def build_scheduler(ctx: WorkerContext, scheduler: BaseScheduler | None = None) -> BaseScheduler:
    """Register every job with coalescing, one instance at a time and an explicit misfire grace."""
    scheduler = scheduler or BlockingScheduler(timezone=UTC)
    common = {"coalesce": True, "max_instances": 1, "args": [ctx], "next_run_time": datetime.now(UTC)}
    scheduler.add_job(
        collect_host_metrics,
        "interval",
        seconds=HOST_METRICS_INTERVAL_S,
        id="collect_host_metrics",
        misfire_grace_time=HOST_METRICS_INTERVAL_S,
        **common,
    )
    scheduler.add_job(
        record_own_metrics,
        "interval",
        seconds=OWN_METRICS_INTERVAL_S,
        id="record_own_metrics",
        misfire_grace_time=OWN_METRICS_INTERVAL_S,
        **common,
    )

    def on_event(event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MISSED:
            ctx.metrics.missed.labels(event.job_id).inc()
            log.warning("job %s missed its run at %s", event.job_id, event.scheduled_run_time)
            return
        outcome = "error" if event.code == EVENT_JOB_ERROR else "ok"
        ctx.metrics.runs.labels(event.job_id, outcome).inc()
        if event.exception is not None:
            log.error("job %s failed: %s", event.job_id, event.exception)

    scheduler.add_listener(on_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    return scheduler


def run_worker(settings: Settings, database_url: str) -> None:
    """Run the scheduler until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per run is noise
    pool = ConnectionPool(
        database_url,
        min_size=1,
        max_size=4,
        open=True,
        kwargs={"application_name": "tsmon-worker", "autocommit": True},
    )
    ctx = WorkerContext(settings, pool, WorkerMetrics())
    scheduler = build_scheduler(ctx)
    log.info("worker started on %s; jobs: %s", ctx.instance, ", ".join(j.id for j in scheduler.get_jobs()))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        pool.close()
