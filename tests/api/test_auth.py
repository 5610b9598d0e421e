"""Tokens: a blank TSMON_API_TOKEN is no token; an empty credential never matches; ?p= on v1 routes only."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.test_app import serve
from tsmon.settings import Settings

TOKEN = "s3cret"
NOW_NS = time.time_ns()


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[str]:
    yield from serve(Settings(home=tmp_path, api_token=TOKEN), db_url)  # type: ignore[arg-type]


@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_a_blank_token_is_unset(blank: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TSMON_API_TOKEN", blank)
    assert Settings().api_token is None


def _basic(password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"u:{password}".encode()).decode()}


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": "Bearer"}, {"Authorization": "Token"}, _basic("")],
)
def test_an_empty_credential_never_matches(api: str, headers: dict[str, str]) -> None:
    r = httpx.post(f"{api}/api/v2/write", content=f"m v=1 {NOW_NS}", headers=headers)
    assert r.status_code == 401


def test_query_string_credentials_only_on_influx_v1_routes(api: str) -> None:
    body = f"m v=1 {NOW_NS}"
    assert httpx.post(f"{api}/write?p={TOKEN}", content=body).status_code == 204
    assert httpx.post(f"{api}/query?p={TOKEN}").status_code == 200
    assert httpx.post(f"{api}/api/v2/write?p={TOKEN}", content=body).status_code == 401
    assert httpx.post(f"{api}/api/v1/import?p={TOKEN}", content="[]").status_code == 401
    assert httpx.post(f"{api}/write?p=", content=body).status_code == 401
    assert httpx.post(f"{api}/api/v2/write", content=body, headers=_basic(TOKEN)).status_code == 204
