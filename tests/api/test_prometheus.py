"""Acceptance: Debian's Prometheus 2.42 scraping node_exporter and tsmon, remote-writing to tsmon, beside
tsmon's own scraper on the same node_exporter. Nothing lost, no series interleaved, no send failures.

TSMON_PROMETHEUS_SECONDS sets how long it runs (default 60; the closing notes quote a 600 s run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.api.test_app import _free_port
from tests.cli.test_stack import _tsmon, stack_env  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow
SECONDS = float(os.environ.get("TSMON_PROMETHEUS_SECONDS", "60"))


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(
            f"{name} is not installed (apt-get install prometheus prometheus-node-exporter; .ci/run does)"
        )
    return path


def _wait_http(url: str) -> None:
    for _ in range(300):
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


@pytest.fixture
def node_exporter() -> Iterator[str]:
    address = f"127.0.0.1:{_free_port()}"
    proc = subprocess.Popen(
        [_binary("prometheus-node-exporter"), f"--web.listen-address={address}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_http(f"http://{address}/metrics")
    yield address
    proc.terminate()
    proc.wait(timeout=20)


def _prom_query(base: str, query: str, at: float) -> list[dict[str, object]]:
    r = httpx.get(f"{base}/api/v1/query", params={"query": query, "time": at}, timeout=30)
    assert r.status_code == 200, r.text
    result: list[dict[str, object]] = r.json()["data"]["result"]
    return result


def _prom_metric(base: str, name: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    values = [float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines() if ln.startswith(name + "{")]
    return sum(values)


def test_prometheus_remote_write_beside_tsmons_scraper(
    stack_env: dict[str, str],  # noqa: F811
    db_url: str,
    node_exporter: str,
    tmp_path: Path,
) -> None:
    prometheus = _binary("prometheus")
    api = f"127.0.0.1:{stack_env['TSMON_API_PORT']}"
    scrape = tmp_path / "tsmon-scrape.yml"
    scrape.write_text(  # as the README says: tsmon's job for the same target has a name of its own
        "scrape_configs:\n"
        "  - job_name: node_direct\n"
        "    scrape_interval: 5s\n"
        f"    static_configs: [{{targets: ['{node_exporter}']}}]\n"
    )
    env = {**stack_env, "TSMON_SCRAPE_CONFIG": str(scrape)}
    up = _tsmon(env, "up")
    assert up.returncode == 0, up.stdout + up.stderr
    prom_address = f"127.0.0.1:{_free_port()}"
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 5s, evaluation_interval: 5s}\n"
        "scrape_configs:\n"
        f"  - {{job_name: node, static_configs: [{{targets: ['{node_exporter}']}}]}}\n"
        f"  - {{job_name: tsmon, static_configs: [{{targets: ['{api}']}}]}}\n"
        "remote_write:\n"
        f"  - url: http://{api}/api/v1/write\n"
        "    queue_config: {batch_send_deadline: 5s}\n"
    )
    log = (tmp_path / "prometheus.log").open("wb")
    prom = subprocess.Popen(
        [
            prometheus,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address={prom_address}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://{prom_address}"
    try:
        _wait_http(f"{base}/-/ready")
        start = time.time()
        time.sleep(SECONDS)
        # Everything up to the newest timestamp Prometheus has sent is in tsmon.
        for _ in range(120):
            sent = _prom_metric(base, "prometheus_remote_storage_queue_highest_sent_timestamp_seconds")
            if sent > start + SECONDS - 10:
                break
            time.sleep(1)
        failed = _prom_metric(base, "prometheus_remote_storage_samples_failed_total")
        retried = _prom_metric(base, "prometheus_remote_storage_samples_retried_total")
        span = int(sent - start) - 5
        raw = _prom_query(base, f'{{job=~"node|tsmon"}}[{span}s]', sent)  # every raw sample in the span
        in_prometheus = sum(len(r["values"]) for r in raw)  # type: ignore[arg-type]
        status = _tsmon(env, "status")
    finally:
        prom.terminate()
        prom.wait(timeout=60)
        log.close()
    with psycopg.connect(db_url) as conn:
        in_tsmon = conn.execute(
            "SELECT count(*) FROM tsmon.metric_samples WHERE labels ->> 'job' IN ('node', 'tsmon') "
            "AND time > to_timestamp(%s) AND time <= to_timestamp(%s)",
            (sent - span, sent),
        ).fetchone()
        # Three senders of node_load1 for this machine, three series: none interleaved.
        jobs = conn.execute(
            "SELECT labels ->> 'job', count(*), min(gap) FROM (SELECT series_id, labels, time - lag(time) "
            "OVER (PARTITION BY series_id ORDER BY time) AS gap FROM tsmon.metric_samples "
            "WHERE metric = 'node_load1') g GROUP BY series_id, 1 ORDER BY 1"
        ).fetchall()
    text = (tmp_path / "prometheus.log").read_text(errors="replace")
    assert failed == 0 and retried == 0, f"Prometheus failed {failed}, retried {retried} samples"
    assert "broken pipe" not in text.lower() and "failed to send" not in text.lower(), text[-3000:]
    assert in_tsmon == (in_prometheus,), f"Prometheus holds {in_prometheus} samples, tsmon {in_tsmon}"
    assert in_prometheus > SECONDS / 5 * 100  # hundreds of series every 5 s
    assert [j[0] for j in jobs] == ["node", "node_direct", "tsmon_host"], jobs
    for job, n, gap in jobs:  # one clock per series: samples a scrape interval apart, never closer
        assert n >= 3 and gap.total_seconds() >= 4, (job, n, gap)
    assert status.returncode == 0, status.stdout
    print(f"{SECONDS:.0f} s: {in_prometheus} samples in Prometheus and in tsmon; 0 failed, 0 retried")
