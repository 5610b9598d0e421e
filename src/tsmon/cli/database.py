"""`tsmon db ...` (the embedded cluster) and `tsmon migrate`."""

from __future__ import annotations

import sys

import click

from tsmon.cli import cli
from tsmon.db.connect import connect, database_url, embedded_cluster
from tsmon.schema import migrate
from tsmon.settings import Settings


@cli.group()
def db() -> None:
    """Manage the embedded PostgreSQL + TimescaleDB cluster (data under $TSMON_HOME)."""


@db.command("start")
@click.pass_obj
def db_start(settings: Settings) -> None:
    """Create the cluster if needed and start it."""
    cluster = embedded_cluster(settings)
    state = cluster.start()
    click.echo(f"embedded database running on 127.0.0.1:{state.port} (data in {state.datadir})")


@db.command("stop")
@click.pass_obj
def db_stop(settings: Settings) -> None:
    """Stop the cluster (data is kept)."""
    stopped = embedded_cluster(settings).stop()
    click.echo("embedded database stopped" if stopped else "embedded database was not running")


@db.command("status")
@click.pass_obj
def db_status(settings: Settings) -> None:
    """Say whether the cluster runs; exit 0 when it does, 3 when it does not."""
    cluster = embedded_cluster(settings)
    state = cluster.state()
    if state is None:
        click.echo(f"no embedded database under {cluster.home}")
        sys.exit(3)
    if cluster.running():
        click.echo(f"running on 127.0.0.1:{state.port}, data in {state.datadir}")
        return
    click.echo(f"stopped, data in {state.datadir}")
    sys.exit(3)


@db.command("url")
@click.pass_obj
def db_url(settings: Settings) -> None:
    """Print the database URL (TSMON_DATABASE_URL, else the embedded cluster, started on demand)."""
    click.echo(database_url(settings))


# -- schema --------------------------------------------------------------------------------------
@cli.command("migrate")
@click.pass_obj
def migrate_cmd(settings: Settings) -> None:
    """Apply new migrations and re-apply views, functions and grants. Safe to repeat."""
    with connect(settings, autocommit=True) as conn:
        report = migrate(conn, settings)
    applied = ", ".join(report.applied) if report.applied else "none (up to date)"
    click.echo(f"migrations applied: {applied}")
    click.echo(f"sql objects re-applied: {len(report.reapplied)} files")
    click.echo(
        f"timescaledb {report.timescaledb_version}, {report.edition} edition; "
        f"windows: {report.windows_engine}"
    )
