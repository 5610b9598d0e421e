"""Every error is JSON: InfluxDB's {"code", "message"} on the Influx endpoints, {"error"} elsewhere."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.test_app import serve
from tsmon.settings import Settings

TOKEN = "s3cret"


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[str]:
    yield from serve(Settings(home=tmp_path, api_token=TOKEN, limit_body_bytes=4096), db_url)  # type: ignore[arg-type]


AUTH = {"Authorization": f"Token {TOKEN}"}


@pytest.mark.parametrize(
    ("path", "headers", "body", "status", "code"),
    [
        ("/api/v2/write", {}, b"x v=1", 401, "unauthorized"),
        ("/api/v2/write", {**AUTH, "Content-Encoding": "br"}, b"x v=1", 415, "unsupported media type"),
        ("/api/v2/write", {**AUTH, "Content-Encoding": "gzip"}, b"not gzip", 400, "invalid"),
        ("/api/v2/write", AUTH, b"x v=1" * 1000, 413, "request too large"),
        ("/api/v2/write?precision=d", AUTH, b"x v=1", 400, "invalid"),
        ("/write", {}, b"x v=1", 401, "unauthorized"),
        ("/write", {**AUTH, "Content-Encoding": "gzip"}, b"\x1f\x8bxx", 400, "invalid"),
    ],
)
def test_influx_endpoints_answer_in_influx_shape(
    api: str, path: str, headers: dict[str, str], body: bytes, status: int, code: str
) -> None:
    r = httpx.post(f"{api}{path}", content=body, headers=headers)
    assert r.status_code == status
    payload = r.json()
    assert payload["code"] == code and payload["message"]
    if path.startswith("/write"):
        assert payload["error"] == payload["message"]  # what InfluxDB 1.x clients read


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status"),
    [
        ("POST", "/api/v1/write", {}, b"", 401),
        ("POST", "/api/v1/write", {**AUTH, "Content-Encoding": "gzip"}, b"x", 415),
        (
            "POST",
            "/api/v1/write",
            {**AUTH, "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.request"},
            b"",
            415,
        ),
        ("POST", "/api/v1/write", {**AUTH, "Content-Encoding": "snappy"}, b"\xff\xff", 400),
        ("POST", "/api/v1/import", {**AUTH, "Content-Encoding": "gzip"}, b"nope", 400),
        ("POST", "/api/v1/import", AUTH, b"[" * 5000, 413),
        ("POST", "/api/v1/score", AUTH, b"{", 422),
        ("GET", "/no/such/route", {}, b"", 404),
        ("DELETE", "/healthz", {}, b"", 405),
    ],
)
def test_every_other_error_is_json_with_an_error_message(
    api: str, method: str, path: str, headers: dict[str, str], body: bytes, status: int
) -> None:
    r = httpx.request(method, f"{api}{path}", content=body, headers=headers)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/json")
    assert isinstance(r.json()["error"], str) and r.json()["error"]
    if status == 401:
        assert r.headers["www-authenticate"] == "Token"


@pytest.fixture
def roomy_api(db_url: str, tmp_path: Path) -> Iterator[str]:
    yield from serve(Settings(home=tmp_path, api_token=TOKEN), db_url)  # type: ignore[arg-type]


def test_a_400_echoes_a_bounded_answer(roomy_api: str) -> None:
    """Each listed problem is cut at 300 characters and at most 100 are listed: no 30 MB echo."""
    now = int(time.time())
    bad = "".join(f"m,h={'x' * 20_000}{i} v=1 {now}\n" for i in range(150))  # label values too long
    r = httpx.post(f"{roomy_api}/api/v2/write?precision=s", content=bad, headers=AUTH, timeout=30)
    assert r.status_code == 400
    assert len(r.content) < 100 * 400 + 1_000, len(r.content)
    assert "and 50 more" in r.json()["message"] and "characters)" in r.json()["message"]
    series = [
        {"metric": "m", "labels": {"h": "y" * 20_000 + str(i)}, "points": [[now, 1]]} for i in range(150)
    ]
    r = httpx.post(f"{roomy_api}/api/v1/import", json=series, headers=AUTH, timeout=30)
    assert r.status_code == 400 and len(r.content) < 100 * 400 + 1_000, len(r.content)


def test_a_database_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tsmon.api.errors import OutageLog

    outage = OutageLog()
    with caplog.at_level("WARNING", logger="tsmon.api"):
        for _ in range(2500):
            outage.failed("database unavailable: OperationalError")
        outage.succeeded()
        outage.succeeded()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0].startswith("database unavailable") and "2500 requests were answered 503" in lines[1]
