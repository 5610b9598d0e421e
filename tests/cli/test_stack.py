"""`tsmon up` / `status` / `restart` / `down` as a user runs them: real processes, ports and database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.api.test_app import _free_port

pytestmark = pytest.mark.slow


def _tsmon(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tsmon", *args],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def stack_env(db_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSMON_")}
    env |= {
        "TSMON_DATABASE_URL": db_url,
        "TSMON_HOME": str(tmp_path / "home"),
        "TSMON_API_HOST": "127.0.0.1",
        "TSMON_API_PORT": str(_free_port()),
        "TSMON_DEMO": "false",
    }
    yield env
    _tsmon(env, "down")


def _pid(env: dict[str, str], name: str) -> int:
    return int((Path(env["TSMON_HOME"]) / "pids" / f"{name}.pid").read_text())


def test_up_returns_ready_then_status_restart_and_down(stack_env: dict[str, str], db_url: str) -> None:
    up = _tsmon(stack_env, "up")
    assert up.returncode == 0, up.stdout + up.stderr
    for phase in ("migrations:", "api, worker: starting"):
        assert phase in up.stdout
    # Ready means ready: no polling needed by the caller.
    health = httpx.get(f"http://127.0.0.1:{stack_env['TSMON_API_PORT']}/healthz").json()
    assert health["pid"] == _pid(stack_env, "api")
    worker = _pid(stack_env, "worker")
    with psycopg.connect(db_url) as conn:
        query = "SELECT pid, jobs FROM tsmon.worker_heartbeats WHERE pid = %s"
        row = conn.execute(query, (worker,)).fetchone()
    assert row is not None and "run_detection" in row[1]

    status = _tsmon(stack_env, "status")
    assert status.returncode == 0, status.stdout
    assert f"api        ready  pid {_pid(stack_env, 'api')}" in status.stdout
    assert f"worker     running  pid {worker}" in status.stdout and "last heartbeat" in status.stdout

    # Up again with a changed environment: nothing restarts, the user is told what to run.
    changed = _tsmon({**stack_env, "TSMON_SERIES_CACHE_SIZE": "1234"}, "up")
    assert changed.returncode == 0, changed.stderr
    assert "changed since: TSMON_SERIES_CACHE_SIZE; apply with: tsmon restart api" in changed.stdout
    assert _pid(stack_env, "worker") == worker

    restarted = _tsmon(stack_env, "restart", "worker")
    assert restarted.returncode == 0, restarted.stderr
    assert _pid(stack_env, "worker") != worker

    assert _tsmon(stack_env, "down").returncode == 0
    down = _tsmon(stack_env, "status")
    assert down.returncode == 3 and "api        not running" in down.stdout


def test_up_fails_loudly_when_the_port_is_taken(stack_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", int(stack_env["TSMON_API_PORT"])))
        taken.listen()
        up = _tsmon(stack_env, "up")
    assert up.returncode != 0
    assert "api exited with code" in up.stderr and "address already in use" in up.stderr.lower()
    assert not (Path(stack_env["TSMON_HOME"]) / "pids" / "api.pid").exists()


def test_up_fails_loudly_when_the_worker_dies(stack_env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "scrape.yml"
    bad.write_text("scrape_configs: [: nope\n")
    up = _tsmon({**stack_env, "TSMON_SCRAPE_CONFIG": str(bad)}, "up")
    assert up.returncode != 0
    assert "worker exited with code" in up.stderr and "not valid YAML" in up.stderr
