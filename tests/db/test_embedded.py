"""The embedded cluster through the CLI: start, status, url, stop, restart keeps data."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from tsmon.cli import cli
from tsmon.db.embedded import EmbeddedCluster

pytestmark = pytest.mark.db  # starts clusters of its own


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="tsmon-embedded-"))
    base.chmod(0o755)
    monkeypatch.delenv("TSMON_DATABASE_URL", raising=False)
    monkeypatch.setenv("TSMON_HOME", str(base / "home"))
    yield base / "home"
    EmbeddedCluster(base / "home").destroy()


@pytest.mark.slow
def test_lifecycle(home: Path) -> None:
    run = CliRunner()
    assert run.invoke(cli, ["db", "status"]).exit_code == 3
    started = run.invoke(cli, ["db", "start"])
    assert started.exit_code == 0, started.output
    assert run.invoke(cli, ["db", "start"]).exit_code == 0  # idempotent
    status = run.invoke(cli, ["db", "status"])
    assert status.exit_code == 0 and "running on 127.0.0.1:" in status.output
    url = run.invoke(cli, ["db", "url"]).output.strip()
    assert run.invoke(cli, ["migrate"]).exit_code == 0
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SHOW shared_preload_libraries").fetchone() == ("timescaledb",)
        conn.execute("INSERT INTO tsmon.series (metric) VALUES ('kept')")
        if os.geteuid() == 0:  # the server must not run as root
            assert conn.execute("SELECT current_setting('data_directory')").fetchone() is not None
    state_file = home / "db.json"
    assert state_file.stat().st_mode & 0o077 == 0  # holds the password
    assert run.invoke(cli, ["db", "stop"]).output.strip() == "embedded database stopped"
    assert run.invoke(cli, ["db", "status"]).exit_code == 3
    # Any command needing the database starts it on demand; data survives the restart.
    url2 = run.invoke(cli, ["db", "url"]).output.strip()
    with psycopg.connect(url2) as conn:
        assert conn.execute("SELECT metric FROM tsmon.series").fetchall() == [("kept",)]


@pytest.mark.slow
def test_the_server_user_owns_only_its_own_directories(home: Path) -> None:
    """The server's OS user may write its data, socket and log directories, nothing else of TSMON_HOME."""
    import pwd
    import shutil

    if os.geteuid() != 0:
        pytest.skip("ownership is only handed to another user when tsmon runs as root")
    home.mkdir(parents=True)
    (home / "log").mkdir()
    shutil.chown(home, "postgres", "postgres")  # as an earlier tsmon left it
    shutil.chown(home / "log", "postgres", "postgres")
    run = CliRunner()
    assert run.invoke(cli, ["db", "start"]).exit_code == 0
    postgres = pwd.getpwnam("postgres").pw_uid
    for mine in (home, home / "log"):
        assert mine.stat().st_uid == 0, f"{mine} must stay root's"
    state = EmbeddedCluster(home).state()
    assert state is not None
    for theirs in (Path(state.datadir), Path(state.socketdir), home / "pglog"):
        assert theirs.stat().st_uid == postgres, theirs
    assert Path(state.datadir).parent.stat().st_uid == 0
