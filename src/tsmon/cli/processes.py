"""`tsmon serve`, `tsmon worker` and `tsmon up` / `tsmon down` for the whole local stack."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from tsmon.cli import cli
from tsmon.db import connect, database_url, embedded_cluster
from tsmon.errors import TsmonError
from tsmon.schema import migrate
from tsmon.settings import Settings


@cli.command("serve")
@click.option("--host", default=None, help="Bind address (default TSMON_API_HOST).")
@click.option("--port", type=int, default=None, help="Port (default TSMON_API_PORT).")
@click.pass_obj
def serve_cmd(settings: Settings, host: str | None, port: int | None) -> None:
    """Run the HTTP API (health, readiness, own metrics) in the foreground."""
    import uvicorn

    from tsmon.api import create_app

    bind = host or settings.api_host
    if not is_loopback(bind) and settings.api_token is None and not settings.api_insecure_no_token:
        raise TsmonError(
            f"refusing to serve on {bind} without a token: set TSMON_API_TOKEN "
            "(or TSMON_API_INSECURE_NO_TOKEN=true to accept unauthenticated writes)"
        )
    app = create_app(settings, database_url(settings))
    uvicorn.run(app, host=bind, port=port or settings.api_port, log_level="info", access_log=False)


@cli.command("worker")
@click.pass_obj
def worker_cmd(settings: Settings) -> None:
    """Run the scheduler (host metrics, own metrics; detection and window jobs as they land)."""
    from tsmon.worker import run_worker

    run_worker(settings, database_url(settings))


@cli.command("up")
@click.pass_obj
def up_cmd(settings: Settings) -> None:
    """Start the whole local stack in the background: database, migrations, API, worker."""
    import os

    from tsmon import processes

    url = database_url(settings)
    with connect(settings, autocommit=True) as conn:
        report = migrate(conn, settings)
        from tsmon import demo
        from tsmon.scoring.configs import apply_default_configs_if_none, apply_yaml

        apply_default_configs_if_none(conn)
        if settings.demo and demo.start(conn, datetime.now(UTC)):
            apply_yaml(conn, demo.DEMO_CONFIGS.read_text())
    home = settings.home.absolute()
    env = {**os.environ, "TSMON_HOME": str(home)}
    api = processes.start_detached(home, "api", ["serve"], env)
    worker = processes.start_detached(home, "worker", ["worker"], env)
    click.echo(
        f"database   {url.split('@')[-1]}  (timescaledb {report.timescaledb_version}, {report.edition})"
    )
    click.echo(
        f"api        http://{settings.api_host}:{settings.api_port}  pid {api}  "
        f"log {processes.log_file(home, 'api')}"
    )
    click.echo(f"worker     pid {worker}  log {processes.log_file(home, 'worker')}")
    exe = sys.argv[0] if "/" in sys.argv[0] else "tsmon"
    query = "select * from tsmon.metric_samples limit 5"
    click.echo(f'query:     psql "$({exe} db url)" -c "{query}"')
    click.echo(f"stop:      {exe} down")


@cli.command("down")
@click.option("--keep-db", is_flag=True, help="Leave the embedded database running.")
@click.pass_obj
def down_cmd(settings: Settings, keep_db: bool) -> None:
    """Stop what `tsmon up` started."""
    from tsmon import processes

    home = settings.home.absolute()
    for name in ("worker", "api"):
        click.echo(f"{name}: {'stopped' if processes.stop(home, name) else 'not running'}")
    if not keep_db and settings.database_url is None:
        click.echo(f"database: {'stopped' if embedded_cluster(settings).stop() else 'not running'}")


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
