"""Scrape one target like Prometheus does: fetch, parse, add job/instance, record up and duration."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from tsmon.ingest.batch import ParseResult, canonical_labels
from tsmon.ingest.exposition import Exposition, read_exposition
from tsmon.scrape.config import ScrapeJob, Target

ACCEPT = "text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1"
OPENMETRICS = "application/openmetrics-text"


@dataclass
class ScrapeOutcome:
    result: ParseResult
    up: bool
    error: str | None = None


def is_openmetrics(content_type: str | None) -> bool:
    """The format is the answer's Content-Type: OpenMetrics, else the Prometheus text format."""
    return (content_type or "").split(";", 1)[0].strip().lower() == OPENMETRICS


def _with_target_labels(exposed: Exposition, labels: dict[str, str], now_us: int) -> ParseResult:
    out = ParseResult(rejections=exposed.rejections, skipped=exposed.skipped)
    for name, sample_labels, t, value in exposed.samples:
        for key, target_value in labels.items():
            if key in sample_labels:  # Prometheus' honor_labels: false
                sample_labels[f"exported_{key}"] = sample_labels[key]
            sample_labels[key] = target_value
        out.batch.append(name, canonical_labels(sample_labels), now_us if t is None else t, value)
    return out


def scrape(client: httpx.Client, job: ScrapeJob, target: Target, now: float | None = None) -> ScrapeOutcome:
    """Samples of one scrape plus `up`, `scrape_duration_seconds` and `scrape_samples_scraped`."""
    now = time.time() if now is None else now
    now_us = int(now * 1_000_000)
    labels = {**target.labels, "job": job.job_name, "instance": target.address}
    labels = {k: v for k, v in labels.items() if v}  # empty is absent
    start = time.perf_counter()
    error: str | None = None
    try:
        response = client.get(job.url(target), timeout=job.timeout_s, headers={"Accept": ACCEPT})
        response.raise_for_status()
        exposed = read_exposition(response.text, is_openmetrics(response.headers.get("content-type")))
        result = _with_target_labels(exposed, labels, now_us)
        if result.rejections:
            # Prometheus fails a scrape with an invalid line; keep the good lines but say it is not up.
            error = f"{len(result.rejections)} invalid lines, first: {result.rejections[0]}"
    except httpx.HTTPError as exc:
        result, error = ParseResult(), f"{type(exc).__name__}: {exc}"
    duration = time.perf_counter() - start
    scraped = len(result.batch)
    key = canonical_labels(labels)
    result.batch.append("up", key, now_us, 0.0 if error else 1.0)
    result.batch.append("scrape_duration_seconds", key, now_us, duration)
    result.batch.append("scrape_samples_scraped", key, now_us, float(scraped))
    return ScrapeOutcome(result, up=error is None, error=error)
