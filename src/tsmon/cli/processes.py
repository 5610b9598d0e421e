"""`tsmon serve` and `tsmon worker`: the API and the scheduler in the foreground."""

from __future__ import annotations

import click

from tsmon.cli import cli
from tsmon.db import database_url
from tsmon.db.logins import API_ROLE, WORKER_ROLE, process_url
from tsmon.errors import TsmonError
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
    url, logged_in = process_url(settings, database_url(settings), API_ROLE)
    # Logged in as tsmon_api, the connection already has ingest rights and no more: no SET ROLE.
    app = create_app(settings.model_copy(update={"ingest_role": ""}) if logged_in else settings, url)
    uvicorn.run(
        app,
        host=bind,
        port=port or settings.api_port,
        log_level="info",
        access_log=False,
        timeout_keep_alive=settings.api_keepalive_seconds,
    )


@cli.command("worker")
@click.pass_obj
def worker_cmd(settings: Settings) -> None:
    """Run the scheduler (host metrics, own metrics; detection and window jobs as they land)."""
    from tsmon.worker import run_worker

    url, _ = process_url(settings, database_url(settings), WORKER_ROLE)
    run_worker(settings, url)


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
