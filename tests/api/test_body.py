"""Request bodies: gzip with several members, trailing garbage, bombs, truncation."""

from __future__ import annotations

import gzip
import socket
import time
import zlib
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.api.test_app import serve
from tests.api.test_write import NOW_S, TOKEN, api, auth  # noqa: F401 - fixture
from tsmon.api.body import BadBodyError, gunzip
from tsmon.errors import BodyTooLargeError
from tsmon.settings import Settings


def test_every_member_is_decompressed() -> None:
    body = gzip.compress(b"first\n") + gzip.compress(b"second\n") + gzip.compress(b"third\n")
    assert gunzip(body, 1024) == b"first\nsecond\nthird\n"


def test_members_share_the_cap() -> None:
    body = gzip.compress(b"x" * 600) + gzip.compress(b"y" * 600)
    with pytest.raises(BodyTooLargeError):
        gunzip(body, 1000)
    assert len(gunzip(body, 1200)) == 1200


def test_trailing_bytes_that_are_not_gzip_are_an_error() -> None:
    with pytest.raises(BadBodyError, match="5 bytes after the gzip data at byte"):
        gunzip(gzip.compress(b"ok\n") + b"extra", 1024)
    assert gunzip(gzip.compress(b"ok\n") + b"\x00\x00\x00", 1024) == b"ok\n"  # zero padding


def test_broken_second_member_and_truncation() -> None:
    first = gzip.compress(b"ok\n")
    with pytest.raises(BadBodyError, match="member starting at byte"):
        gunzip(first + b"\x1f\x8b" + b"\x00" * 20, 1024)
    with pytest.raises(BadBodyError, match="truncated"):
        gunzip(first[:-4], 1024)
    raw = zlib.compress(b"not gzip framing")
    with pytest.raises(BadBodyError, match="not valid gzip"):
        gunzip(raw, 1024)


def test_concatenated_gzip_over_http_stores_every_member(api: str, db_url: str) -> None:  # noqa: F811
    lines = [f"cat,n={i} value={i} {NOW_S}000000000\n".encode() for i in range(3)]
    body = b"".join(gzip.compress(line) for line in lines)
    r = httpx.post(f"{api}/api/v2/write", content=body, headers={**auth(), "Content-Encoding": "gzip"})
    assert r.status_code == 204, r.text
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM tsmon.metric_samples").fetchone() == (3,)
    bad = httpx.post(
        f"{api}/api/v2/write", content=body + b"junk", headers={**auth(), "Content-Encoding": "gzip"}
    )
    assert bad.status_code == 400 and "not gzip" in bad.text


def test_bytes_in_flight_are_bounded(db_url: str, tmp_path: Path) -> None:
    """A body that would pass the in-flight bound is answered 503 + Retry-After before it is read."""
    settings = Settings(home=tmp_path, api_token=TOKEN, limit_body_bytes=10_000, limit_inflight_bytes=15_000)  # type: ignore[arg-type]
    body = (f"m,h=a v=1 {NOW_S}000000000\n" * 400)[:9_000].rsplit("\n", 1)[0] + "\n"
    body = body.ljust(9_000, "\n")
    for url in serve(settings, db_url):
        host, port = url.removeprefix("http://").split(":")
        slow = socket.create_connection((host, int(port)))
        head = (
            f"POST /api/v2/write HTTP/1.1\r\nHost: x\r\nAuthorization: Token {TOKEN}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        slow.sendall(head.encode() + body[:100].encode())  # holds 9,000 bytes of the budget
        for _ in range(100):
            busy = httpx.post(f"{url}/api/v2/write", content=body, headers=auth())
            if busy.status_code == 503:
                break
            time.sleep(0.05)  # until the slow request has reached the server
        assert busy.status_code == 503 and busy.headers["Retry-After"].isdigit(), busy.text
        assert "TSMON_LIMIT_INFLIGHT_BYTES" in busy.json()["message"]
        slow.sendall(body[100:].encode())
        assert slow.recv(4096).startswith(b"HTTP/1.1 204")
        slow.close()
        assert httpx.post(f"{url}/api/v2/write", content=body, headers=auth()).status_code == 204
