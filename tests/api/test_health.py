"""InfluxDB's /ping and /health, as the official influxdb-client (and datasource test buttons) use them."""

from __future__ import annotations

import httpx
from influxdb_client import InfluxDBClient

from tests.api.test_app import api, api_without_db  # noqa: F401 (fixtures)


def test_influxdb_client_ping_version_and_health(api: str) -> None:  # noqa: F811
    with InfluxDBClient(url=api, token="t", org="o") as client:
        assert client.ping() is True
        assert client.version() == "2.7.0"
        health = client.health()
        assert health.status == "pass" and health.name == "tsmon"
    for method in ("GET", "HEAD"):
        r = httpx.request(method, f"{api}/ping")
        assert r.status_code == 204 and r.headers["X-Influxdb-Version"] == "2.7.0"


def test_health_fails_while_the_database_is_down(api_without_db: str) -> None:  # noqa: F811
    r = httpx.get(f"{api_without_db}/health", timeout=10)
    assert r.status_code == 503 and r.json()["status"] == "fail"
    assert "database unreachable" in r.json()["message"]
    assert httpx.get(f"{api_without_db}/ping").status_code == 204  # the process answers
