"""Every error is JSON: InfluxDB's {"code", "message"} on the Influx endpoints, {"error"} elsewhere."""

from __future__ import annotations

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
