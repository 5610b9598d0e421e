"""The `tsmon` command line: database, migrations, ingest, and the long-running processes."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

from tsmon.db.connect import connect, database_url, embedded_cluster
from tsmon.db.migrate import migrate
from tsmon.errors import TsmonError
from tsmon.ingest.files import ingest_csv
from tsmon.ingest.writer import SampleWriter, SeriesCache
from tsmon.settings import Settings

err = Console(stderr=True, highlight=False)


class _Group(click.Group):
    """Print TsmonError messages plainly (no traceback) and exit 2: they are the user's to fix."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except TsmonError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """tsmon: metrics into TimescaleDB, windows, anomaly detection written back to SQL, Grafana."""
    ctx.obj = Settings()


# -- db ------------------------------------------------------------------------------------------
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
    password = settings.reader_password.get_secret_value() if settings.reader_password else None
    with connect(settings, autocommit=True) as conn:
        report = migrate(conn, reader_password=password)
    applied = ", ".join(report.applied) if report.applied else "none (up to date)"
    click.echo(f"migrations applied: {applied}")
    click.echo(f"sql objects re-applied: {len(report.reapplied)} files")
    click.echo(f"timescaledb {report.timescaledb_version}, {report.edition} edition")


# -- ingest --------------------------------------------------------------------------------------
@cli.command("ingest")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True)
@click.option("--strict", is_flag=True, help="Write nothing if any row is bad (validates the file first).")
@click.option("--batch-rows", type=click.IntRange(min=1), default=None, help="Rows per transaction.")
@click.pass_obj
def ingest_cmd(settings: Settings, file: Path, fmt: str, strict: bool, batch_rows: int | None) -> None:
    """Stream FILE into tsmon.samples. Good rows are stored; bad rows are listed as FILE:LINE: reason.

    Exit status: 0 all rows stored, 1 some rows rejected, 2 the file could not be read at all.
    """
    size = file.stat().st_size if file.exists() else 0
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    with connect(settings) as conn, progress:
        task = progress.add_task(f"ingest {file.name}", total=size)
        writer = SampleWriter(conn, SeriesCache(settings.series_cache_size))
        report = ingest_csv(
            writer,
            file,
            batch_rows=batch_rows or settings.ingest_batch_rows,
            strict=strict,
            on_bytes=lambda n: progress.advance(task, n),
        )
    for rejection in report.rejections:
        click.echo(str(rejection), err=True)
    if report.rejected > len(report.rejections):
        click.echo(f"... and {report.rejected - len(report.rejections)} more rejected rows", err=True)
    if not report.written:
        click.echo(f"{file}: nothing written (--strict): {report.rejected} bad rows")
        sys.exit(1)
    click.echo(
        f"{file}: {report.accepted} rows stored, {report.rejected} rejected, {report.new_series} new series"
    )
    if report.rejected:
        sys.exit(1)


def main() -> None:
    cli()
