"""tsmon's own series: the self-scrape of its API and the scrape jobs to schedule, from the settings."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tsmon.scrape.config import SELF_JOB, ScrapeJob, load_scrape_file
from tsmon.scrape.fields import ScrapeConfigError
from tsmon.scrape.targets import Target
from tsmon.settings import Settings

# The rule (README, "Series identity"): whatever tsmon collects itself carries a job name of its own,
# tsmon_self (its API's /metrics, scraped by the worker), tsmon_host (this machine, collected by the
# worker) or tsmon_worker (the worker's own counters). A scrape file cannot take these names, so an
# external Prometheus scraping tsmon (as job "tsmon", say) or a real node_exporter (job "node") never
# lands in the series of tsmon's own collectors: no series mixes two processes' counters.
SELF_INTERVAL_S, SELF_TIMEOUT_S = 15.0, 5.0


def self_scrape_url(settings: Settings) -> str | None:
    """TSMON_SELF_SCRAPE_URL; unset: this host's API (`tsmon serve`'s address); empty: no self-scrape."""
    if settings.self_scrape_url is not None:
        return settings.self_scrape_url.strip() or None
    host = settings.api_host
    if host in {"0.0.0.0", "::", ""}:  # noqa: S104 - compared, not bound: a wildcard bind is reached on loopback
        host = "127.0.0.1"
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.api_port}/metrics"


def self_scrape_job(url: str) -> ScrapeJob:
    """The `tsmon_self` job: one target, the API's /metrics at ``url``; instance is its host:port."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.username or parts.fragment:
        raise ScrapeConfigError(
            f"TSMON_SELF_SCRAPE_URL: {url!r} is not an http(s) URL like http://api:8428/metrics"
        )
    return ScrapeJob(
        SELF_JOB,
        (Target(parts.netloc),),
        interval_s=SELF_INTERVAL_S,
        timeout_s=SELF_TIMEOUT_S,
        metrics_path=parts.path or "/metrics",
        scheme=parts.scheme,
        params={name: tuple(values) for name, values in parse_qs(parts.query).items()},
    )


def jobs_from_settings(settings: Settings) -> list[ScrapeJob]:
    """The self-scrape (unless TSMON_SELF_SCRAPE_URL is empty), then the jobs of TSMON_SCRAPE_CONFIG."""
    url = self_scrape_url(settings)
    jobs = [self_scrape_job(url)] if url else []
    if settings.scrape_config is not None:
        jobs += load_scrape_file(settings.scrape_config)
    return jobs
