"""The worker's context (one per process, passed to every job) and its own metrics."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from psycopg_pool import ConnectionPool

from tsmon.ingest.batch import ParseResult, SampleBatch, canonical_labels, datetime_to_us
from tsmon.ingest.limits import Limits
from tsmon.ingest.service import IngestMetrics, IngestService
from tsmon.ingest.writer import SeriesCache
from tsmon.scoring.models import ModelCache
from tsmon.scrape.config import WORKER_JOB
from tsmon.scrape.host import host_name
from tsmon.scrape.pool import ScrapePools
from tsmon.settings import Settings


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
        self.changes_attached = Counter(
            "tsmon_analysis_changes_attached", "Anomaly events given a what-changed run.", registry=r
        )
        self.changes_failures = Counter(
            "tsmon_analysis_changes_failures",
            "Anomaly events whose what-changed run failed (stored with the error, not retried).",
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


def own_samples(metrics: WorkerMetrics, instance: str) -> list[tuple[str, dict[str, str], float]]:
    """The worker's own metrics as (name, labels, value), labelled as record_own_metrics stores them."""
    base = {"job": WORKER_JOB, "instance": instance}
    return [
        (s.name, {**base, **s.labels}, s.value)
        for family in metrics.registry.collect()
        for s in family.samples
        if not s.name.endswith("_created")
    ]
