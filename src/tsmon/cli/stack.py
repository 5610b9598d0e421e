"""`tsmon up`, `down`, `restart` and `status`: the local stack (database, API, worker) in the background."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click
import httpx

from tsmon import heartbeats, processes
from tsmon.cli import cli
from tsmon.db import connect, database_url, embedded_cluster
from tsmon.schema import migrate
from tsmon.settings import Settings

PARTS = ("api", "worker")
ARGS = {"api": ["serve"], "worker": ["worker"]}


def _api_url(settings: Settings) -> str:
    host = settings.api_host
    if host in {"0.0.0.0", "::", ""}:  # noqa: S104 (bound everywhere: ask over loopback)
        host = "127.0.0.1"
    return f"http://{host}:{settings.api_port}"


def _api_ready(settings: Settings, pid: int) -> Callable[[], bool]:
    def ready() -> bool:
        # The pid proves the answer comes from this process, not another server on the port.
        try:
            health = httpx.get(f"{_api_url(settings)}/healthz", timeout=2.0).json()
            return bool(health.get("pid") == pid) and httpx.get(f"{_api_url(settings)}/readyz").is_success
        except (httpx.HTTPError, ValueError):
            return False

    return ready


def _worker_ready(settings: Settings, pid: int) -> Callable[[], bool]:
    def ready() -> bool:
        with connect(settings, autocommit=True) as conn:
            return heartbeats.latest(conn, socket.gethostname(), pid) is not None

    return ready


def _start(settings: Settings, home: Path, name: str) -> processes.Started:
    env = {**os.environ, "TSMON_HOME": str(home)}
    started = processes.start_detached(home, name, ARGS[name], env)
    check = _api_ready if name == "api" else _worker_ready
    processes.wait_ready(home, started, check(settings, started.pid))
    if started.proc is None:
        changed = processes.changed_env(home, name, env)
        if changed:
            click.echo(
                f"{name}: kept running with the environment it was started with; changed since: "
                f"{', '.join(changed)}; apply with: tsmon restart {name}"
            )
    return started


@cli.command("up")
@click.pass_obj
def up_cmd(settings: Settings) -> None:
    """Start the whole local stack in the background and return once every part is ready."""
    from tsmon import demo
    from tsmon.scoring.configs import apply_default_configs_if_none, apply_yaml

    click.echo("database:  starting" if settings.database_url is None else "database:  connecting")
    url = database_url(settings)
    with connect(settings, autocommit=True) as conn:
        click.echo("migrations: applying")
        report = migrate(conn, settings)
        apply_default_configs_if_none(conn)
        if settings.demo:
            click.echo("demo:      backfilling the demo workload (first start only)")
            if demo.start(conn, datetime.now(UTC)):
                apply_yaml(conn, demo.DEMO_CONFIGS.read_text())
    home = settings.home.absolute()
    click.echo("api, worker: starting, waiting until ready")
    api = _start(settings, home, "api")
    worker = _start(settings, home, "worker")
    click.echo(
        f"database   {url.split('@')[-1]}  (timescaledb {report.timescaledb_version}, {report.edition})"
    )
    click.echo(f"api        {_api_url(settings)}  pid {api.pid}  log {api.log}")
    click.echo(f"worker     pid {worker.pid}  log {worker.log}")
    exe = sys.argv[0] if "/" in sys.argv[0] else "tsmon"
    query = "select * from tsmon.metric_samples limit 5"
    click.echo(f'query:     psql "$({exe} db url)" -c "{query}"')
    click.echo(f"status:    {exe} status    stop: {exe} down  (--keep-db leaves the database running)")


@cli.command("restart")
@click.argument("parts", nargs=-1, type=click.Choice(PARTS))
@click.pass_obj
def restart_cmd(settings: Settings, parts: tuple[str, ...]) -> None:
    """Restart the API and/or the worker with the current environment (default: both)."""
    home = settings.home.absolute()
    for name in parts or PARTS:
        processes.stop(home, name)
        started = _start(settings, home, name)
        click.echo(f"{name}: restarted, pid {started.pid}")


@cli.command("down")
@click.option("--keep-db", is_flag=True, help="Leave the embedded database running.")
@click.pass_obj
def down_cmd(settings: Settings, keep_db: bool) -> None:
    """Stop what `tsmon up` started (the embedded database too, unless --keep-db)."""
    home = settings.home.absolute()
    for name in ("worker", "api"):
        click.echo(f"{name}: {'stopped' if processes.stop(home, name) else 'not running'}")
    if not keep_db and settings.database_url is None:
        click.echo(f"database: {'stopped' if embedded_cluster(settings).stop() else 'not running'}")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


# A worker silent for three heartbeat intervals is stuck or gone.
STALE_HEARTBEAT_S = 45


def _database(settings: Settings) -> tuple[str | None, str]:
    """The URL to ask (None: nothing to ask) and the database's status line so far."""
    if settings.database_url is not None:
        url = settings.database_url.get_secret_value()
        return url, f"database   {url.split('@')[-1]}"
    cluster = embedded_cluster(settings)
    state = cluster.state()
    if state is None or not cluster.running():
        return None, f"database   not running (embedded, {cluster.home})"
    return cluster.url(), f"database   embedded  127.0.0.1:{state.port}"


@cli.command("status")
@click.pass_obj
def status_cmd(settings: Settings) -> None:
    """Database, API and worker: running or not, pid, uptime, last heartbeat. Exit 3 if any is down."""
    import psycopg

    home = settings.home.absolute()
    url, line = _database(settings)
    beat: heartbeats.Heartbeat | None = None
    worker_pid = processes.running_pid(home, "worker")
    healthy = url is not None
    if url is not None:
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
                version = conn.execute(
                    "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
                ).fetchone()
                line += f"  up, timescaledb {version[0] if version else 'missing'}"
                if worker_pid is not None:
                    beat = heartbeats.latest(conn, socket.gethostname(), worker_pid)
        except psycopg.Error as exc:
            healthy = False
            line += f"  UNREACHABLE ({type(exc).__name__})"
    click.echo(line)
    api_pid = processes.running_pid(home, "api")
    if api_pid is None:
        healthy = False
        click.echo("api        not running")
    else:
        ready = _api_ready(settings, api_pid)()
        healthy &= ready
        click.echo(
            f"api        {'ready' if ready else 'NOT READY'}  pid {api_pid}  "
            f"up {_age(processes.uptime_seconds(api_pid))}  {_api_url(settings)}"
        )
    if worker_pid is None:
        healthy = False
        click.echo("worker     not running")
    else:
        since = None if beat is None else (datetime.now(UTC) - beat.heartbeat_at).total_seconds()
        fresh = since is not None and since < STALE_HEARTBEAT_S
        healthy &= fresh
        heard = "no heartbeat yet" if since is None else f"last heartbeat {since:.0f} s ago"
        click.echo(
            f"worker     {'running' if fresh else 'SILENT'}  pid {worker_pid}  "
            f"up {_age(processes.uptime_seconds(worker_pid))}  {heard}"
        )
    if not healthy:
        sys.exit(3)
