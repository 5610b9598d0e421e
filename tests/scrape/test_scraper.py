"""Scraping real /metrics endpoints on loopback through the worker job, and the scrape config file."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from wsgiref.simple_server import WSGIServer

import httpx
import psycopg
import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from tests.api.test_app import serve
from tsmon.ingest.remote_write import encode_remote_write
from tsmon.scrape.config import ScrapeJob, Target, load_scrape_file
from tsmon.settings import Settings
from tsmon.worker import WorkerContext, scrape_targets

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


EXPOSED = (
    "# TYPE app_requests_total counter\n"
    'app_requests_total{job="app",code="200"} 5\n'
    "# TYPE go_goroutines gauge\ngo_goroutines 12\n"
    "# TYPE app_build_info gauge\n"
    'app_build_info{version="1.2"} 1 {ms}\n'
)


def test_a_job_scrapes_as_prometheus_does(ctx: WorkerContext, db_url: str, tmp_path: Path) -> None:
    exposed_ms = (int(time.time()) - 120) * 1000
    with (
        fake_exporter(EXPOSED.replace("{ms}", str(exposed_ms))) as a,
        fake_exporter(EXPOSED.replace("{ms}", str(exposed_ms))) as b,
    ):
        (tmp_path / "password").write_text("pa55\n")
        (tmp_path / "targets").mkdir()
        (tmp_path / "targets" / "app.json").write_text(
            json.dumps([{"targets": [a.address], "labels": {"env": "prod"}}])
        )
        config = f"""
scrape_configs:
  - job_name: app
    scrape_interval: 5s
    params: {{module: [http_2xx]}}
    basic_auth: {{username: admin, password_file: password}}
    file_sd_configs: [{{files: [targets/*.json]}}]
    relabel_configs:
      - {{source_labels: [__meta_filepath], regex: '.*/(.*)\\.json', target_label: file}}
    metric_relabel_configs:
      - {{source_labels: [__name__], regex: 'go_.*', action: drop}}
      - {{source_labels: [__name__], regex: 'app_(.*)', target_label: __name__, replacement: 'svc_$1'}}
  - job_name: federate
    honor_labels: true
    honor_timestamps: false
    authorization: {{credentials: t0ken}}
    static_configs: [{{targets: ["{b.address}"]}}]
"""
        (tmp_path / "scrape.yml").write_text(config)
        app, federate = load_scrape_file(tmp_path / "scrape.yml")
        before = time.time()
        scrape_targets(ctx, app)
        scrape_targets(ctx, federate)
    request = a.requests[0]
    assert request.path == "/metrics?module=http_2xx"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"admin:pa55").decode()
    assert request.headers["accept"].startswith("text/plain;version=0.0.4;q=0.6,application/openmetrics-text")
    assert request.headers["x-prometheus-scrape-timeout-seconds"] == "5"
    assert b.requests[0].headers["authorization"] == "Bearer t0ken"
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            """SELECT metric, labels, extract(epoch FROM time) FROM tsmon.metric_samples
               WHERE metric NOT LIKE 'scrape_%' ORDER BY metric, labels::text"""
        ).fetchall()
    app_labels = {"job": "app", "instance": a.address, "env": "prod", "file": "app"}
    fed_labels = {"job": "federate", "instance": b.address}
    stored = {(m, json.dumps(lab, sort_keys=True)): float(t) for m, lab, t in rows}
    key = lambda m, lab: (m, json.dumps(lab, sort_keys=True))  # noqa: E731
    # honor_labels false: the target's job wins, the exposed one is kept as exported_job.
    assert key("svc_requests_total", {**app_labels, "code": "200", "exported_job": "app"}) in stored
    assert stored[key("svc_build_info", {**app_labels, "version": "1.2"})] == exposed_ms / 1000
    assert not any(m.startswith("go_") and lab.get("job") == "app" for m, lab, _ in rows)
    # honor_labels true: the exposed job wins; honor_timestamps false: stored at the scrape's time.
    assert key("app_requests_total", {**fed_labels, "job": "app", "code": "200"}) in stored
    assert stored[key("app_build_info", {**fed_labels, "version": "1.2"})] >= before
    assert key("go_goroutines", fed_labels) in stored
    assert {(lab["job"], lab["instance"]) for m, lab, _ in rows if m == "up"} == {
        ("app", a.address),
        ("federate", b.address),
    }
