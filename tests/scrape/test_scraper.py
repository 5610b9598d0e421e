"""Scraping real /metrics endpoints on loopback through the worker job, and the scrape config file."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from wsgiref.simple_server import WSGIServer

import httpx
import psycopg
import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.parser import text_string_to_metric_families
from psycopg_pool import ConnectionPool

from tests.api.test_app import serve
from tsmon.ingest.remote_write import encode_remote_write
from tsmon.scrape.config import ScrapeConfigError, ScrapeJob, Target, load_scrape_config
from tsmon.settings import Settings
from tsmon.worker import WorkerContext, WorkerMetrics, scrape_targets

from .exporters import OPENMETRICS, fake_exporter, node_exporter


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def exporter() -> Iterator[tuple[str, Counter]]:
    registry = CollectorRegistry()
    requests = Counter("app_requests", "Requests.", ["code"], registry=registry)
    Histogram("app_latency_seconds", "Latency.", buckets=(0.1, 1.0), registry=registry).observe(0.3)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    yield f"127.0.0.1:{port}", requests
    assert isinstance(server, WSGIServer)
    server.shutdown()
    thread.join()


@pytest.fixture
def ctx(settings: Settings, db_url: str) -> Iterator[WorkerContext]:
    pool = ConnectionPool(db_url, min_size=1, max_size=2, kwargs={"autocommit": True}, open=True)
    c = WorkerContext(settings, pool, WorkerMetrics(), instance="test-host")
    yield c
    c.http.close()
    pool.close()


def test_scrape_job_stores_samples_up_and_duration(
    exporter: tuple[str, Counter], ctx: WorkerContext, db_url: str
) -> None:
    address, requests = exporter
    dead = f"127.0.0.1:{free_port()}"
    job = ScrapeJob("app", (Target(address, {"env": "test"}), Target(dead)), interval_s=15, timeout_s=2)
    requests.labels("200").inc(5)
    scrape_targets(ctx, job)
    requests.labels("200").inc(7)
    scrape_targets(ctx, job)
    with psycopg.connect(db_url) as conn:
        up = dict(
            conn.execute(
                """SELECT labels->>'instance', max(value) FROM tsmon.metric_samples
                   WHERE metric = 'up' AND labels->>'job' = 'app' GROUP BY 1"""
            ).fetchall()
        )
        assert up == {address: 1.0, dead: 0.0}
        counter = conn.execute(
            """SELECT labels, array_agg(value ORDER BY time) FROM tsmon.metric_samples
               WHERE metric = 'app_requests_total' GROUP BY labels"""
        ).fetchall()
        assert counter == [({"code": "200", "env": "test", "instance": address, "job": "app"}, [5.0, 12.0])]
        buckets = conn.execute(
            """SELECT labels->>'le', max(value) FROM tsmon.metric_samples
               WHERE metric = 'app_latency_seconds_bucket' GROUP BY 1 ORDER BY 1"""
        ).fetchall()
        assert buckets == [("+Inf", 1.0), ("0.1", 0.0), ("1.0", 1.0)]
        durations = conn.execute(
            "SELECT count(*) FROM tsmon.metric_samples WHERE metric = 'scrape_duration_seconds'"
        ).fetchone()
        assert durations == (4,)
    assert ctx.metrics.scrape_failures.labels("app")._value.get() == 2


def test_scrape_config_file() -> None:
    jobs = load_scrape_config(
        """
global: {scrape_interval: 30s}
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ["a:9100", "b:9100"]
        labels: {dc: west}
  - job_name: app
    scrape_interval: 500ms
    scrape_timeout: 250ms
    metrics_path: stats
"""
        + "    static_configs: [{targets: ['c:8080']}]\n"
    )
    assert [(j.job_name, j.interval_s, len(j.targets)) for j in jobs] == [("node", 30.0, 2), ("app", 0.5, 1)]
    assert jobs[0].targets[0].labels == {"dc": "west"}
    assert jobs[1].url(jobs[1].targets[0]) == "http://c:8080/stats"
    for bad, message in [
        ("scrape_configs: [{job_name: x}]", "no targets"),
        (
            "scrape_configs: [{job_name: x, scrape_interval: 5 minutes, static_configs: [{targets: [a:1]}]}]",
            "not a duration",
        ),
        (
            "scrape_configs: [{job_name: x, scrape_timeout: 1m, static_configs: [{targets: [a:1]}]}]",
            "longer than",
        ),
        ("scrape_configs: [{job_name: x, tragets: [], static_configs: [{targets: [a:1]}]}]", "unknown keys"),
    ]:
        with pytest.raises(ScrapeConfigError, match=message):
            load_scrape_config(bad)


def test_openmetrics_target_keeps_its_sample_times(ctx: WorkerContext, db_url: str) -> None:
    exposed_at = int(time.time()) - 60
    body = (
        f"# TYPE temp gauge\ntemp 21.5 {exposed_at}.250\n# TYPE lat histogram\n"
        f'lat_bucket{{le="1"}} 3 # {{trace_id="t1"}} 0.4 {exposed_at - 86_400 * 400}\n'
        'lat_bucket{le="+Inf"} 3\nlat_count 3\nlat_sum 1.2\n# EOF\n'
    )
    with fake_exporter(body, OPENMETRICS) as target:
        scrape_targets(ctx, ScrapeJob("om", (Target(target.address),), interval_s=15, timeout_s=2))
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            """SELECT metric, coalesce(labels->>'le', ''), time, value FROM tsmon.metric_samples
               WHERE labels @> jsonb_build_object('job', 'om', 'instance', %s::text)""",
            [target.address],
        ).fetchall()
    times = {(metric, le): t for metric, le, t, _ in rows}
    assert [v for metric, _, _, v in rows if metric == "up"] == [1.0]
    assert times["temp", ""] == datetime.fromtimestamp(exposed_at + 0.25, UTC)
    # An exemplar's (old) timestamp is the exemplar's: the bucket is stored at the scrape's time.
    assert times["lat_bucket", "1"] == times["up", ""]


def test_node_exporter_series_are_the_series_remote_write_stores(
    ctx: WorkerContext, db_url: str, settings: Settings
) -> None:
    with node_exporter("os", "netclass", "uname") as address:
        exposed = httpx.get(f"http://{address}/metrics").text
        scrape_targets(ctx, ScrapeJob("node", (Target(address),), interval_s=15, timeout_s=5))
    samples = [s for f in text_string_to_metric_families(exposed) for s in f.samples]
    with_empty = [s for s in samples if "" in s.labels.values()]
    if not with_empty:
        pytest.skip("this machine's node_exporter exposes no label with an empty value")
    # The same series as Prometheus would remote-write them after scraping this node_exporter.
    target = {"job": "node", "instance": address}
    now_ms = int(time.time() * 1000)
    series = [({"__name__": s.name, **s.labels, **target}, [(now_ms, s.value)]) for s in with_empty]
    body = encode_remote_write(series)
    for api in serve(settings, db_url):
        headers = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"}
        assert httpx.post(f"{api}/api/v1/write", content=body, headers=headers).status_code == 204
    with psycopg.connect(db_url) as conn:
        counts = conn.execute(
            "SELECT metric, count(*) FROM tsmon.metric_series WHERE metric = ANY(%s) GROUP BY 1",
            [[s.name for s in with_empty]],
        ).fetchall()
        empty = conn.execute(
            "SELECT count(*) FROM tsmon.series, jsonb_each_text(labels) WHERE value = ''"
        ).fetchone()
    by_metric: dict[str, int] = {}
    for s in with_empty:
        by_metric[s.name] = by_metric.get(s.name, 0) + 1
    assert dict(counts) == by_metric  # one series per exposed series: scrape and remote write agree
    assert empty == (0,)
