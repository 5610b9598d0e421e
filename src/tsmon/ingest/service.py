"""Ingest service: parsed samples -> limits -> the writer, with counters; used by the API, CLI and worker."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Histogram
from psycopg_pool import ConnectionPool

from tsmon.db import TRANSIENT_ERRORS
from tsmon.errors import DatabaseUnavailableError
from tsmon.ingest.batch import ParseResult, Rejection, SampleBatch
from tsmon.ingest.limits import Limits
from tsmon.ingest.writer import SampleWriter, SeriesCache, SeriesKey, WriteResult


class IngestMetrics:
    """tsmon's own ingest counters, registered in the given registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.accepted = Counter(
            "tsmon_ingest_samples_accepted", "Samples stored.", ["protocol"], registry=registry
        )
        self.rejected = Counter(
            "tsmon_ingest_samples_rejected",
            "Samples refused, by reason.",
            ["protocol", "reason"],
            registry=registry,
        )
        self.skipped = Counter(
            "tsmon_ingest_values_skipped",
            "Valid input values that are not numbers (e.g. string fields), by reason.",
            ["protocol", "reason"],
            registry=registry,
        )
        self.batch = Histogram(
            "tsmon_ingest_batch_samples",
            "Samples per write.",
            ["protocol"],
            registry=registry,
            buckets=(1, 10, 100, 1_000, 5_000, 10_000, 50_000, 100_000, 500_000),
        )
        self.write_seconds = Histogram(
            "tsmon_ingest_db_write_seconds", "Time to store one batch.", registry=registry
        )
        self.series_created = Counter("tsmon_ingest_series_created", "New series.", registry=registry)
        self.cache_hits = Counter("tsmon_series_cache_hits", "Series id cache hits.", registry=registry)
        self.cache_misses = Counter("tsmon_series_cache_misses", "Series id cache misses.", registry=registry)


@dataclass
class IngestOutcome:
    accepted: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)  # every one; callers cap what they show
    skipped: dict[str, int] = field(default_factory=dict)


def _series_name(metric: str, labels: str) -> str:
    return f"series {metric}{labels}"


def filter_times(
    batch: SampleBatch, oldest_us: int, newest_us: int, limits: Limits
) -> tuple[SampleBatch, list[Rejection]]:
    """Drop samples outside the accepted time window, one rejection per series and reason."""
    try:
        times = np.asarray(batch.times_us, dtype=np.int64)
    except OverflowError:  # a timestamp beyond int64 µs: clamp, it is refused as out of the window anyway
        times = np.asarray([min(max(t, -(2**63)), 2**63 - 1) for t in batch.times_us], dtype=np.int64)
    too_old, too_new = times < oldest_us, times > newest_us
    bad = too_old | too_new
    if not bad.any():
        return batch, []
    counts: dict[tuple[SeriesKey, str], int] = {}
    for i in np.flatnonzero(bad):
        key = ((batch.metrics[i], batch.labels[i]), "too_old" if too_old[i] else "too_far_in_future")
        counts[key] = counts.get(key, 0) + 1
    reasons = {
        "too_old": f"older than the raw retention ({limits.max_age_seconds / 86_400:g} days)",
        "too_far_in_future": f"more than {limits.max_future_seconds:g} s in the future",
    }
    rejections = [
        Rejection(_series_name(*key), f"{n} samples {reasons[code]}", code, n)
        for (key, code), n in counts.items()
    ]
    keep = np.flatnonzero(~bad).tolist()
    kept = SampleBatch(
        [batch.metrics[i] for i in keep],
        [batch.labels[i] for i in keep],
        [batch.times_us[i] for i in keep],
        [batch.values[i] for i in keep],
    )
    return kept, rejections


class IngestService:
    """Stores ParseResults through a connection pool; thread-safe (the series cache is shared)."""

    def __init__(
        self,
        pool: ConnectionPool,
        limits: Limits,
        cache: SeriesCache,
        metrics: IngestMetrics,
        *,
        clock: Callable[[], float] = time.time,
        pool_timeout: float = 2.0,
    ) -> None:
        self.pool, self.limits, self.cache, self.metrics = pool, limits, cache, metrics
        self.clock = clock
        self.pool_timeout = pool_timeout

    def ingest(self, parsed: ParseResult, protocol: str) -> IngestOutcome:
        """Store what can be stored; DatabaseUnavailableError (nothing committed) on transient failures."""
        outcome = IngestOutcome(rejections=list(parsed.rejections), skipped=dict(parsed.skipped))
        now_us = int(self.clock() * 1e6)
        batch, late = filter_times(parsed.batch, *self.limits.time_window_us(now_us), self.limits)
        outcome.rejections.extend(late)
        result = self._write(batch) if len(batch) else WriteResult(0, 0, upserted=False)
        for r in result.rejected:
            where, reason = _series_name(r.metric, r.labels), f"{r.refusal.reason} ({r.samples} samples)"
            outcome.rejections.append(Rejection(where, reason, r.refusal.code, r.samples))
        outcome.accepted = result.rows
        rejected_by_code: dict[str, int] = {}
        for rej in outcome.rejections:
            rejected_by_code[rej.code] = rejected_by_code.get(rej.code, 0) + rej.samples
        outcome.rejected = sum(rejected_by_code.values())
        m = self.metrics
        m.accepted.labels(protocol).inc(result.rows)
        for code, n in rejected_by_code.items():
            m.rejected.labels(protocol, code).inc(n)
        for reason, n in parsed.skipped.items():
            m.skipped.labels(protocol, reason).inc(n)
        m.batch.labels(protocol).observe(len(parsed.batch))
        m.series_created.inc(result.new_series)
        return outcome

    def ingest_parts(self, parts: Iterable[ParseResult], protocol: str) -> IngestOutcome:
        """ingest() for each part of one body (parsed lazily, so only one part is in memory at a time).

        Each part is its own transaction. On DatabaseUnavailableError the parts before it stay
        stored; the sender's retry of the whole body stores each sample once (re-sends are upserts).
        """
        total = IngestOutcome()
        for part in parts:
            outcome = self.ingest(part, protocol)
            total.accepted += outcome.accepted
            total.rejected += outcome.rejected
            total.rejections.extend(outcome.rejections)
            for reason, n in outcome.skipped.items():
                total.skipped[reason] = total.skipped.get(reason, 0) + n
        return total

    def _write(self, batch: SampleBatch) -> WriteResult:
        hits, misses = self.cache.hits, self.cache.misses
        start = time.perf_counter()
        try:
            with self.pool.connection(timeout=self.pool_timeout) as conn:
                result = SampleWriter(conn, self.cache, self.limits).write(batch)
        except TRANSIENT_ERRORS as exc:
            raise DatabaseUnavailableError(f"database unavailable: {type(exc).__name__}: {exc}") from exc
        self.metrics.write_seconds.observe(time.perf_counter() - start)
        self.metrics.cache_hits.inc(max(self.cache.hits - hits, 0))
        self.metrics.cache_misses.inc(max(self.cache.misses - misses, 0))
        return result
