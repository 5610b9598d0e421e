"""The `tsmon worker` process: an APScheduler 3 scheduler whose jobs are module-level functions."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from psycopg_pool import ConnectionPool

from tsmon import heartbeats
from tsmon.db import TRANSIENT_ERRORS, is_transient
from tsmon.ingest.batch import ParseResult, SampleBatch, canonical_labels, datetime_to_us
from tsmon.ingest.limits import Limits
from tsmon.ingest.service import IngestMetrics, IngestService
from tsmon.ingest.writer import SeriesCache
from tsmon.scoring import failures
from tsmon.scoring.configs import load_configs
from tsmon.scoring.job import claim_shards, detection_lags, forget_consumed_rescores, release, score_shard
from tsmon.scoring.models import ModelCache
from tsmon.scrape.config import WORKER_JOB, ScrapeJob
from tsmon.scrape.host import collect_host_samples, host_name
from tsmon.scrape.own import jobs_from_settings
from tsmon.scrape.pool import ScrapePools
from tsmon.settings import Settings
from tsmon.windows import maintained
from tsmon.windows.engine import CatchUp, catch_up, current_engine
from tsmon.windows.retention import RetentionSettings

log = logging.getLogger("tsmon.worker")

HOST_METRICS_INTERVAL_S = 15
OWN_METRICS_INTERVAL_S = 15
# Often, so a window is scored soon after its grace: a run with nothing due is one cheap query.
DETECTION_INTERVAL_S = 5
DETECTION_LEASE = timedelta(minutes=2)
DETECTION_BUDGET_S = 60  # a run stops leasing after this; the next run (coalesced) goes on
WINDOWS_INTERVAL_S = 60
HEARTBEAT_INTERVAL_S = 15


@dataclass
class WorkerMetrics:
    """The worker's own counters; written into tsmon.samples by record_own_metrics."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.runs = Counter("tsmon_job_runs", "Job runs by outcome.", ["job_id", "outcome"], registry=r)
        self.missed = Counter(
            "tsmon_job_missed", "Runs skipped past their misfire grace.", ["job_id"], registry=r
        )
        self.duration = Histogram("tsmon_job_duration_seconds", "Job run time.", ["job_id"], registry=r)
        self.scrape_failures = Counter(
            "tsmon_scrape_failures",
            "Scrapes that failed (target down or invalid).",
            ["scrape_job"],
            registry=r,
        )
        self.ingest = IngestMetrics(r)
        self.shard_failures = Counter(
            "tsmon_detection_shard_failures",
            "Shard runs that failed (the shard backs off).",
            ["config"],
            registry=r,
        )
        self.windows_scored = Counter(
            "tsmon_detection_windows_scored", "Windows scored.", ["config"], registry=r
        )
        self.detection_lag = Gauge(
            "tsmon_detection_lag_seconds",
            "Age of the oldest complete window of a config not scored yet (0: all scored).",
            ["config"],
            registry=r,
        )
        self.windows_lag = Gauge(
            "tsmon_windows_lag_seconds", "Now minus the 1m windows' materialisation watermark.", registry=r
        )
        self.windows_fallback = Counter(
            "tsmon_windows_fallback_refreshes",
            "Refreshes of the continuous aggregates by the worker because their policies fell behind.",
            registry=r,
        )
        job = ["job_id", "proc", "relation"]
        self.job_failing = Gauge(
            "tsmon_timescaledb_job_failing", "1 when a policy job's last run failed.", job, registry=r
        )
        self.job_failures = Gauge(
            "tsmon_timescaledb_job_failures", "Failed runs of a policy job (job_stats).", job, registry=r
        )


@dataclass
class WorkerContext:
    """Everything a job needs, passed by the scheduler; one per worker process."""

    settings: Settings
    pool: ConnectionPool
    metrics: WorkerMetrics
    instance: str = field(default_factory=host_name)
    owner: str = field(default_factory=lambda: f"{host_name()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")
    models: ModelCache = field(default_factory=ModelCache)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    covering_for_policies: bool = False
    outage_since: float | None = None
    jobs: list[str] = field(default_factory=list)
    scrapes: ScrapePools = field(default_factory=ScrapePools)  # targets and their last scrapes, per job
    ingest: IngestService = field(init=False)
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        cache = SeriesCache(self.settings.series_cache_size)
        self.ingest = IngestService(
            self.pool, Limits.from_settings(self.settings), cache, self.metrics.ingest
        )
        self.http = httpx.Client(follow_redirects=True)

    def write(self, samples: list[tuple[str, dict[str, str], float]], at: datetime, protocol: str) -> int:
        batch = SampleBatch()
        t = datetime_to_us(at)
        for name, labels, value in samples:
            batch.append(name, canonical_labels(labels), t, value)
        return self.ingest.ingest(ParseResult(batch), protocol).accepted


# -- jobs (module-level, registered by reference) ------------------------------------------------
def heartbeat(ctx: WorkerContext) -> None:
    """Say this worker is alive (its first run is what `tsmon up` waits for)."""
    with ctx.pool.connection() as conn:
        me = heartbeats.Heartbeat(
            ctx.owner, ctx.instance, os.getpid(), ctx.started_at, datetime.now(UTC), ctx.jobs
        )
        heartbeats.beat(conn, me)


def collect_host_metrics(ctx: WorkerContext) -> None:
    """Read this host's metrics and store them."""
    with ctx.metrics.duration.labels("collect_host_metrics").time():
        ctx.write(collect_host_samples(ctx.instance), datetime.now(UTC), "host")


def own_samples(metrics: WorkerMetrics, instance: str) -> list[tuple[str, dict[str, str], float]]:
    """The worker's own metrics as (name, labels, value), labelled as record_own_metrics stores them."""
    base = {"job": WORKER_JOB, "instance": instance}
    return [
        (s.name, {**base, **s.labels}, s.value)
        for family in metrics.registry.collect()
        for s in family.samples
        if not s.name.endswith("_created")
    ]


def record_own_metrics(ctx: WorkerContext) -> None:
    """Store the worker's own counters (job runs, failures, misses, durations) like any other metric."""
    ctx.write(own_samples(ctx.metrics, ctx.instance), datetime.now(UTC), "self")


def scrape_targets(ctx: WorkerContext, job: ScrapeJob) -> None:
    """Scrape every target of one job concurrently and store the samples, `up` included."""
    with ctx.metrics.duration.labels(f"scrape:{job.job_name}").time():
        run = ctx.scrapes.get(job).run(ctx.http)
        for target, error in run.failures:
            ctx.metrics.scrape_failures.labels(job.job_name).inc()
            log.warning("scrape %s %s failed: %s", job.job_name, target.url, error)
        ctx.ingest.ingest(run.result, "scrape")


def maintain_windows(ctx: WorkerContext) -> None:
    """Keep the windows current: tsmon's own refresh and retention (Apache edition), or, on the full
    edition, a refresh of the continuous aggregates whenever their policies fall behind.

    Catches up after downtime in bounded steps, for at most one interval per run.
    """
    with ctx.metrics.duration.labels("maintain_windows").time(), ctx.pool.connection() as conn:
        engine = current_engine(conn)
        now = datetime.now(UTC)
        if engine == "continuous_aggregates":
            _cover_for_policies(ctx, catch_up(conn, now), now)
            return
        if engine != "tsmon":
            return
        oldest = now - timedelta(days=ctx.settings.raw_retention_days)
        deadline = time.monotonic() + WINDOWS_INTERVAL_S
        while True:
            report = maintained.refresh(conn, now, oldest=oldest)
            if report.caught_up or time.monotonic() > deadline:
                break
        if "1m" in report.watermarks:
            ctx.metrics.windows_lag.set((now - report.watermarks["1m"]).total_seconds())
        maintained.apply_retention(conn, RetentionSettings.from_settings(ctx.settings))


def _cover_for_policies(ctx: WorkerContext, report: CatchUp, now: datetime) -> None:
    m = ctx.metrics
    if report.behind:
        m.windows_fallback.inc()
        if not ctx.covering_for_policies:  # said once per episode, not every minute
            log.warning(
                "continuous aggregates %s were behind (refresh policies failing or not running): "
                "the worker refreshes them until the policies keep up",
                ", ".join(report.behind),
            )
    elif ctx.covering_for_policies:
        log.info("continuous aggregates keep up by their policies again")
    ctx.covering_for_policies = bool(report.behind)
    mark = report.watermarks.get("1m")
    if mark is not None:
        m.windows_lag.set((now - mark).total_seconds())
    for job in report.jobs:
        labels = (str(job.job_id), job.proc, job.relation)
        m.job_failing.labels(*labels).set(1.0 if job.failing else 0.0)
        m.job_failures.labels(*labels).set(job.total_failures)


def run_detection(ctx: WorkerContext) -> None:
    """Lease due (config, shard) pairs and score them; other workers take the rest, and a dead one's share."""
    with ctx.metrics.duration.labels("run_detection").time(), ctx.pool.connection() as conn:
        configs = {c.id: c for c in load_configs(conn)}
        if not configs:
            return
        # One shard leased at a time: a lease covers one shard's work however long the queue is.
        deadline = time.monotonic() + DETECTION_BUDGET_S
        while time.monotonic() < deadline:
            now = datetime.now(UTC)
            claimed = claim_shards(conn, ctx.owner, DETECTION_LEASE, 1, now)
            if not claimed:
                break
            (config_id, shard), config = claimed[0], configs.get(claimed[0][0])
            try:
                if config is not None:
                    result = score_shard(conn, config, shard, ctx.owner, now, cache=ctx.models)
                    ctx.metrics.windows_scored.labels(config.name).inc(result.windows)
                    failures.clear_failures(conn, config_id, shard)
            except TRANSIENT_ERRORS:
                raise  # the database, not the shard: the whole run is retried
            except Exception as exc:  # one shard's failure must not stop the others
                n, delay = failures.record_failure(conn, config_id, shard, exc)
                name = config.name if config is not None else str(config_id)
                ctx.metrics.shard_failures.labels(name).inc()
                log.exception(
                    "detection config %s shard %s failed (%s in a row); retry in %s", name, shard, n, delay
                )
            finally:
                release(conn, ctx.owner, config_id, shard)
        forget_consumed_rescores(conn)
        for name, lag in detection_lags(conn).items():
            ctx.metrics.detection_lag.labels(name).set(lag)


def feed_demo(ctx: WorkerContext) -> None:
    """The demo workload's live samples (TSMON_DEMO): normal behaviour after the backfilled history."""
    from tsmon.demo import feed

    with ctx.pool.connection() as conn:
        feed(conn, datetime.now(UTC))


# -- scheduler -----------------------------------------------------------------------------------
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
