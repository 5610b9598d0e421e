"""Series identity: tsmon's own collectors never share a series with outside Prometheus or node_exporter."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.api.test_app import serve
from tsmon.ingest.remote_write import encode_remote_write
from tsmon.scrape.config import ScrapeConfigError
from tsmon.scrape.own import jobs_from_settings, self_scrape_job, self_scrape_url
from tsmon.settings import Settings
from tsmon.worker import WorkerContext, collect_host_metrics, scrape_targets

from .exporters import node_exporter


def test_the_self_scrape_target() -> None:
    assert self_scrape_url(Settings(_env_file=None)) == "http://127.0.0.1:8428/metrics"  # type: ignore[call-arg]
    wildcard = Settings(_env_file=None, api_host="0.0.0.0", api_port=9000)  # type: ignore[call-arg]
    assert self_scrape_url(wildcard) == "http://127.0.0.1:9000/metrics"
    assert self_scrape_url(Settings(_env_file=None, api_host="::1")) == "http://[::1]:8428/metrics"  # type: ignore[call-arg]
    assert self_scrape_url(Settings(_env_file=None, self_scrape_url="")) is None  # type: ignore[call-arg]
    assert jobs_from_settings(Settings(_env_file=None, self_scrape_url="")) == []  # type: ignore[call-arg]
    job = self_scrape_job("https://api:8428/own/metrics?x=1")
    assert (job.job_name, job.targets[0].address, job.scheme, job.metrics_path) == (
        "tsmon_self",
        "api:8428",
        "https",
        "/own/metrics",
    )
    assert job.params == {"x": ("1",)}
    for bad in ("api:8428/metrics", "ftp://api/metrics", "http:///metrics"):
        with pytest.raises(ScrapeConfigError, match="TSMON_SELF_SCRAPE_URL"):
            self_scrape_job(bad)


def test_a_scrape_file_cannot_take_tsmon_job_names(tmp_path: Path) -> None:
    for name in ("tsmon_self", "tsmon_host", "tsmon_worker"):
        (tmp_path / "scrape.yml").write_text(
            f"scrape_configs: [{{job_name: {name}, static_configs: [{{targets: [a:1]}}]}}]"
        )
        settings = Settings(_env_file=None, scrape_config=tmp_path / "scrape.yml")  # type: ignore[call-arg]
        with pytest.raises(ScrapeConfigError, match=f"job_name {name} is reserved"):
            jobs_from_settings(settings)


def series(db_url: str, metric: str) -> list[tuple[str, str]]:
    query = (
        "SELECT labels->>'job', labels->>'instance' FROM tsmon.metric_series WHERE metric = %s ORDER BY 1, 2"
    )
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(query, [metric]).fetchall()
    return [(str(job), str(instance)) for job, instance in rows]


def test_an_external_prometheus_scraping_tsmon_gets_series_of_its_own(
    ctx: WorkerContext, db_url: str, settings: Settings
) -> None:
    for api in serve(settings, db_url):
        address = api.removeprefix("http://")
        ctx.settings = settings.model_copy(update={"self_scrape_url": f"{api}/metrics"})
        (own,) = jobs_from_settings(ctx.settings)
        scrape_targets(ctx, own)
        # Prometheus scraping the same API as job "tsmon", remote-writing what it got.
        metric = "tsmon_ingest_series_created_total"
        body = encode_remote_write(
            [({"__name__": metric, "job": "tsmon", "instance": address}, [(int(time.time() * 1000), 0.0)])]
        )
        httpx.post(
            f"{api}/api/v1/write", content=body, headers={"Content-Encoding": "snappy"}
        ).raise_for_status()
    assert series(db_url, "tsmon_ingest_series_created_total") == [
        ("tsmon", address),
        ("tsmon_self", address),
    ]
    assert series(db_url, "up") == [("tsmon_self", address)]


def test_a_real_node_exporter_for_this_host_keeps_series_of_its_own(
    ctx: WorkerContext, db_url: str, tmp_path: Path
) -> None:
    with node_exporter("loadavg", "meminfo") as address:
        # Scraped as job "node", relabelled to this host's name: exactly the host collector's instance.
        (tmp_path / "scrape.yml").write_text(
            f"scrape_configs: [{{job_name: node, static_configs: [{{targets: ['{address}']}}],\n"
            f"  relabel_configs: [{{target_label: instance, replacement: {ctx.instance}}}]}}]"
        )
        ctx.settings = ctx.settings.model_copy(
            update={"scrape_config": tmp_path / "scrape.yml", "self_scrape_url": ""}
        )
        (node,) = jobs_from_settings(ctx.settings)
        scrape_targets(ctx, node)
    collect_host_metrics(ctx)
    for metric in ("node_load1", "node_memory_MemAvailable_bytes"):
        assert series(db_url, metric) == [("node", ctx.instance), ("tsmon_host", ctx.instance)]
