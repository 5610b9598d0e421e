"""One scrape job over time: its targets (static and file_sd, relabelled), scraped concurrently."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from tsmon.ingest.batch import ParseResult, canonical_labels
from tsmon.scrape.config import ScrapeJob
from tsmon.scrape.fields import ScrapeConfigError
from tsmon.scrape.labels import ScrapeTarget, resolve_target
from tsmon.scrape.scraper import REPORT_METRICS, ScrapeOutcome, scrape
from tsmon.scrape.staleness import Staleness
from tsmon.scrape.targets import FileTargets

log = logging.getLogger("tsmon.scrape")

SCRAPE_THREADS = 8


@dataclass
class JobRun:
    """What one run of a job stores, and which targets failed (their URL and why)."""

    result: ParseResult = field(default_factory=ParseResult)
    failures: list[tuple[ScrapeTarget, str]] = field(default_factory=list)
    targets: int = 0
    stale_markers: int = 0


class ScrapePool:
    """A job's targets and their state between runs; the worker keeps one per job."""

    def __init__(self, job: ScrapeJob) -> None:
        self.job = job
        self.files = FileTargets(job.file_sd_configs)
        self._invalid: set[str] = set()  # target errors already logged
        self.staleness = Staleness()

    def targets(self) -> list[ScrapeTarget]:
        """The job's targets now: static ones and file_sd's, after relabel_configs, each once."""
        found: dict[str, ScrapeTarget] = {}
        invalid: set[str] = set()
        for discovered in (*self.job.targets, *self.files.targets()):
            try:
                target = resolve_target(self.job, discovered)
            except ScrapeConfigError as exc:
                invalid.add(str(exc))
                continue
            if target is not None:
                found.setdefault(target.key, target)
        for message in sorted(invalid - self._invalid):  # once, not at every run
            log.error("scrape job %s: dropping %s", self.job.job_name, message)
        self._invalid = invalid
        return list(found.values())

    def run(self, client: httpx.Client, now: float | None = None) -> JobRun:
        """Scrape every target once, concurrently: one batch of samples and staleness markers."""
        now = time.time() if now is None else now
        targets = self.targets()
        run = JobRun(targets=len(targets))
        if targets:
            with ThreadPoolExecutor(max_workers=min(SCRAPE_THREADS, len(targets))) as pool:
                outcomes: list[ScrapeOutcome] = list(
                    pool.map(lambda t: scrape(client, self.job, t, now), targets)
                )
        else:
            outcomes = []
        for target, outcome in zip(targets, outcomes, strict=True):
            if outcome.error:
                run.failures.append((target, outcome.error))
            _extend(run.result, outcome.result)
            key = canonical_labels(target.labels)
            report = [(metric, key) for metric in REPORT_METRICS]
            batch = run.result.batch
            run.stale_markers += self.staleness.scraped(
                target.key, outcome.tracked, report, outcome.time_us, batch
            )
        run.stale_markers += self.staleness.gone(
            {t.key for t in targets}, int(now * 1_000_000), run.result.batch
        )
        return run


def _extend(into: ParseResult, part: ParseResult) -> None:
    b = part.batch
    for row in zip(b.metrics, b.labels, b.times_us, b.values, strict=True):
        into.batch.append(*row)
    into.rejections += part.rejections
    for reason, n in part.skipped.items():
        into.skipped[reason] = into.skipped.get(reason, 0) + n


class ScrapePools:
    """The worker's pools, one per job name; a changed job definition starts a new pool."""

    def __init__(self) -> None:
        self._pools: dict[str, ScrapePool] = {}

    def get(self, job: ScrapeJob) -> ScrapePool:
        pool = self._pools.get(job.job_name)
        if pool is None or pool.job != job:
            pool = self._pools[job.job_name] = ScrapePool(job)
        return pool
