"""The worker's jobs: module-level functions of the context, registered by reference."""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime, timedelta

from tsmon import heartbeats
from tsmon.analysis import changes_events
from tsmon.db import TRANSIENT_ERRORS
from tsmon.scoring import failures
from tsmon.scoring.configs import load_configs
from tsmon.scoring.job import claim_shards, detection_lags, forget_consumed_rescores, release, score_shard
from tsmon.scrape.config import ScrapeJob
from tsmon.scrape.host import collect_host_samples
from tsmon.windows import maintained
from tsmon.windows.engine import CatchUp, catch_up, current_engine
from tsmon.windows.retention import RetentionSettings
from tsmon.worker.context import WorkerContext, own_samples

log = logging.getLogger("tsmon.worker")

HOST_METRICS_INTERVAL_S = 15
OWN_METRICS_INTERVAL_S = 15
# Often, so a window is scored soon after its grace: a run with nothing due is one cheap query.
DETECTION_INTERVAL_S = 5
# The lease only bridges the claim and score_shard's transaction, whose row lock (FOR UPDATE, which
# claims skip) holds the shard for the run however long it takes and dies with the session: a
# killed worker's shard waits out these seconds, not a run's length.
DETECTION_LEASE = timedelta(seconds=15)
DETECTION_BUDGET_S = 60  # a run stops leasing after this; the next run (coalesced) goes on
WINDOWS_INTERVAL_S = 60
HEARTBEAT_INTERVAL_S = 15
CHANGES_INTERVAL_S = 15
CHANGES_PER_PASS = 5  # a burst of events is worked off over a few passes, each one short


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
            _cover_for_policies(ctx, catch_up(conn), now)
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


def attach_changes(ctx: WorkerContext) -> None:
    """What changed with every new anomaly event: its top 10 stored linked to it (tsmon.anomaly_changes)."""
    with ctx.metrics.duration.labels("attach_changes").time(), ctx.pool.connection() as conn:
        report = changes_events.attach_changes(
            conn, datetime.now(UTC), ctx.settings.retention_1m_days, CHANGES_PER_PASS
        )
    ctx.metrics.changes_attached.inc(len(report.attached) + len(report.unranked))
    ctx.metrics.changes_failures.inc(len(report.failed))


def feed_demo(ctx: WorkerContext) -> None:
    """The demo workload's live samples (TSMON_DEMO): normal behaviour after the backfilled history."""
    from tsmon.demo import feed

    with ctx.pool.connection() as conn:
        feed(conn, datetime.now(UTC))
