"""Scrape one target like Prometheus does: fetch, parse, label, relabel, and record up and duration."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx

from tsmon import __version__
from tsmon.ingest.batch import ParseResult, Rejection, canonical_labels
from tsmon.ingest.exposition import Exposition, read_exposition
from tsmon.scrape.config import ScrapeJob
from tsmon.scrape.fields import ScrapeConfigError
from tsmon.scrape.labels import ScrapeTarget, sample_labels
from tsmon.scrape.protocols import is_openmetrics
from tsmon.scrape.relabel import relabel

REPORT_METRICS = (
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
)

SeriesKey = tuple[str, str]  # (metric, canonical labels JSON)


@dataclass
class ScrapeOutcome:
    result: ParseResult
    up: bool
    error: str | None = None
    time_us: int = 0
    # Series stored at the scrape's own time: the ones a later scrape marks stale when they are gone.
    tracked: set[SeriesKey] = field(default_factory=set)


def _headers(job: ScrapeJob, target: ScrapeTarget) -> dict[str, str]:
    headers = {
        "Accept": job.accept,
        "User-Agent": f"tsmon/{__version__}",
        "X-Prometheus-Scrape-Timeout-Seconds": f"{target.timeout_s:g}",
    }
    if not job.enable_compression:
        headers["Accept-Encoding"] = "identity"
    if job.auth is not None:
        headers["Authorization"] = job.auth.header()
    return headers


def _samples(job: ScrapeJob, target: ScrapeTarget, exposed: Exposition, now_us: int) -> ScrapeOutcome:
    """The exposed samples with the target's labels, after metric_relabel_configs."""
    out = ScrapeOutcome(ParseResult(rejections=exposed.rejections, skipped=exposed.skipped), up=True)
    append = out.result.batch.append
    for exposed_name, exposed_labels, t, value in exposed.samples:
        name, labels = exposed_name, sample_labels(exposed_labels, target.labels, job.honor_labels)
        if job.metric_relabel_configs:
            kept = relabel({**labels, "__name__": name}, job.metric_relabel_configs)
            if kept is None:
                continue
            name = kept.pop("__name__", "")
            if not name:
                where = f"series {canonical_labels(kept)}"
                out.result.rejections.append(Rejection(where, "metric_relabel_configs removed __name__"))
                continue
            labels = kept
        key = canonical_labels(labels)
        explicit = t is not None and job.honor_timestamps
        append(name, key, t if explicit and t is not None else now_us, value)
        if not explicit or job.track_timestamps_staleness:  # as Prometheus: explicit times are not tracked
            out.tracked.add((name, key))
    return out


def scrape(
    client: httpx.Client, job: ScrapeJob, target: ScrapeTarget, now: float | None = None
) -> ScrapeOutcome:
    """Samples of one scrape plus `up`, `scrape_duration_seconds` and the sample counts."""
    now = time.time() if now is None else now
    now_us = int(now * 1_000_000)
    start = time.perf_counter()
    exposed = Exposition()
    try:
        response = client.get(
            target.url,
            timeout=target.timeout_s,
            headers=_headers(job, target),
            follow_redirects=job.follow_redirects,
        )
        response.raise_for_status()
        exposed = read_exposition(response.text, is_openmetrics(response.headers.get("content-type")))
        outcome = _samples(job, target, exposed, now_us)
        if outcome.result.rejections:
            # Prometheus fails a scrape with an invalid line; keep the good lines but say it is not up.
            rejections = outcome.result.rejections
            outcome.error = f"{len(rejections)} invalid lines, first: {rejections[0]}"
    except (httpx.HTTPError, ScrapeConfigError) as exc:  # a secret file that cannot be read, too
        outcome = ScrapeOutcome(ParseResult(), up=False, error=f"{type(exc).__name__}: {exc}")
    outcome.up, outcome.time_us = outcome.error is None, now_us
    duration = time.perf_counter() - start
    key = canonical_labels(target.labels)
    report = (1.0 if outcome.up else 0.0, duration, len(exposed.samples), len(outcome.result.batch))
    for metric, value in zip(REPORT_METRICS, report, strict=True):
        outcome.result.batch.append(metric, key, now_us, float(value))
    return outcome
