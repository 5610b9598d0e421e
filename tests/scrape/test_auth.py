"""A job's Authorization header: basic_auth and authorization, secrets in files re-read at every scrape."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tsmon.scrape.auth import parse_auth
from tsmon.scrape.fields import ScrapeConfigError


def test_secret_files_are_read_at_every_scrape(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("first\n")
    auth = parse_auth({"basic_auth": {"username": "u", "password_file": "pw"}}, "job", tmp_path)
    assert auth is not None
    assert auth.header() == "Basic " + base64.b64encode(b"u:first").decode()
    (tmp_path / "pw").write_text("rotated")
    assert auth.header() == "Basic " + base64.b64encode(b"u:rotated").decode()
    (tmp_path / "pw").unlink()
    with pytest.raises(ScrapeConfigError, match=r"cannot read .*pw"):
        auth.header()


def test_authorization_types() -> None:
    for raw, header in [
        ({"authorization": {"credentials": "t"}}, "Bearer t"),
        ({"authorization": {"type": "Token", "credentials": "t"}}, "Token t"),
        ({"bearer_token": "t"}, "Bearer t"),
    ]:
        auth = parse_auth(raw, "job", Path("/"))
        assert auth is not None and auth.header() == header
    assert parse_auth({}, "job", Path("/")) is None
