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


# -- processes -----------------------------------------------------------------------------------
@cli.command("serve")
@click.option("--host", default=None, help="Bind address (default TSMON_API_HOST).")
@click.option("--port", type=int, default=None, help="Port (default TSMON_API_PORT).")
@click.pass_obj
def serve_cmd(settings: Settings, host: str | None, port: int | None) -> None:
    """Run the HTTP API (health, readiness, own metrics) in the foreground."""
    import uvicorn

    from tsmon.api import create_app

    app = create_app(settings, database_url(settings))
    uvicorn.run(app, host=host or settings.api_host, port=port or settings.api_port, log_level="info")


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
        report = migrate(conn)
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


def main() -> None:
    cli()
