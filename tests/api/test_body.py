"""Request bodies: gzip with several members, trailing garbage, bombs, truncation."""

from __future__ import annotations

import gzip
import zlib

import httpx
import psycopg
import pytest

from tests.api.test_write import NOW_S, TOKEN, api, auth  # noqa: F401 - fixture
from tsmon.api.body import BadBodyError, gunzip
from tsmon.errors import BodyTooLargeError


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
