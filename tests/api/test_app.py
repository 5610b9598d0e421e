"""The real HTTP app served by uvicorn on a loopback socket: health, readiness, own metrics."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from tests.conftest import login_url
from tsmon.api import create_app
from tsmon.db.logins import API_ROLE
from tsmon.settings import Settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(settings: Settings, database_url: str, as_login: bool = True) -> Iterator[str]:
    """The app over a real socket; by default logged in as tsmon_api, as `tsmon serve` does."""
    port = _free_port()
    if as_login:
        settings = settings.model_copy(update={"ingest_role": ""})
        database_url = login_url(database_url, API_ROLE)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, database_url), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def api(settings: Settings, db_url: str) -> Iterator[str]:
    yield from serve(settings, db_url)


@pytest.fixture
def api_without_db(tmp_path: Path) -> Iterator[str]:
    dead = f"postgresql://nobody:x@127.0.0.1:{_free_port()}/none?connect_timeout=1"
    yield from serve(Settings(home=tmp_path), dead)


def test_health_and_readiness(api: str) -> None:
    assert httpx.get(f"{api}/healthz").json() == {"status": "ok", "pid": os.getpid()}
    ready = httpx.get(f"{api}/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


def test_database_down_is_503_with_retry_after(api_without_db: str) -> None:
    assert httpx.get(f"{api_without_db}/healthz").status_code == 200  # alive, just not ready
    t = time.monotonic()
    ready = httpx.get(f"{api_without_db}/readyz", timeout=10)
    assert ready.status_code == 503
    assert ready.headers["Retry-After"].isdigit()
    assert "database unreachable" in ready.json()["reason"]
    assert time.monotonic() - t < 5  # senders need a fast answer


def test_own_metrics_count_requests(api: str) -> None:
    httpx.get(f"{api}/healthz")
    httpx.get(f"{api}/healthz")
    text = httpx.get(f"{api}/metrics").text
    line = next(
        ln
        for ln in text.splitlines()
        if ln.startswith("tsmon_http_request_duration_seconds_count") and 'route="/healthz"' in ln
    )
    assert float(line.rsplit(" ", 1)[1]) == 2.0
