"""Tokens: a blank TSMON_API_TOKEN is no token; an empty credential never matches; ?p= on v1 routes only."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
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


def test_a_blank_token_does_not_pass_the_public_bind_guard(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSMON_")} | {
        "TSMON_HOME": str(tmp_path),
        "TSMON_DATABASE_URL": "postgresql://x@127.0.0.1:1/x",
        "TSMON_API_TOKEN": " ",
    }
    run = subprocess.run(
        [sys.executable, "-m", "tsmon", "serve", "--host", "0.0.0.0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2 and "without a token" in run.stderr


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
