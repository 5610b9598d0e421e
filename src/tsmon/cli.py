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
from tsmon.ingest.files import FORMATS, ingest_file
from tsmon.ingest.writer import SeriesCache
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
    with connect(settings, autocommit=True) as conn:
        report = migrate(conn, settings)
    applied = ", ".join(report.applied) if report.applied else "none (up to date)"
    click.echo(f"migrations applied: {applied}")
    click.echo(f"sql objects re-applied: {len(report.reapplied)} files")
    click.echo(
        f"timescaledb {report.timescaledb_version}, {report.edition} edition; "
        f"windows: {report.windows_engine}"
    )


# -- windows -------------------------------------------------------------------------------------
@cli.group()
def windows() -> None:
    """The 1m / 1h / 1d windows: which engine maintains them, how far they are materialised."""


@windows.command("status")
@click.pass_obj
def windows_status(settings: Settings) -> None:
    """Engine, watermarks and pending late-data invalidations."""
    from tsmon.windows.engine import current_engine

    with connect(settings, autocommit=True) as conn:
        engine = current_engine(conn)
        click.echo(f"engine: {engine or 'none (run tsmon migrate)'}")
        if engine == "tsmon":
            for res, mark, at in conn.execute(
                "SELECT resolution, watermark, refreshed_at FROM tsmon.window_watermarks ORDER BY resolution"
            ).fetchall():
                click.echo(
                    f"  {res}: materialised before {mark or '(nothing yet)'} (refreshed {at or 'never'})"
                )
            pending = conn.execute("SELECT count(*) FROM tsmon.window_invalidations").fetchone()
            click.echo(f"  late-data ranges waiting for refresh: {pending[0] if pending else 0}")
        elif engine == "continuous_aggregates":
            for name, last, status in conn.execute(
                "SELECT j.hypertable_name, s.last_successful_finish, s.last_run_status "
                "FROM timescaledb_information.jobs j JOIN timescaledb_information.job_stats s USING (job_id) "
                "WHERE j.proc_name = 'policy_refresh_continuous_aggregate' ORDER BY 1"
            ).fetchall():
                click.echo(
                    f"  refresh policy on {name}: last success {last or 'never'} ({status or 'not run'})"
                )


@windows.command("refresh")
@click.pass_obj
def windows_refresh(settings: Settings) -> None:
    """Materialise everything complete now (the worker / policies do this on schedule)."""
    from tsmon.windows.engine import refresh_windows
    from tsmon.windows.retention import RetentionSettings

    with connect(settings, autocommit=True) as conn:
        refresh_windows(conn, RetentionSettings.from_settings(settings))
    click.echo("windows refreshed")


# -- ingest --------------------------------------------------------------------------------------
@cli.command("ingest")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="csv, json (array or JSON lines), prom (Prometheus text) or lp (line protocol); "
    "default: from the file name's extension, else csv.",
)
@click.option("--strict", is_flag=True, help="Write nothing if any line is bad (validates the file first).")
@click.option("--batch-rows", type=click.IntRange(min=1), default=None, help="Samples per transaction.")
@click.pass_obj
def ingest_cmd(settings: Settings, file: Path, fmt: str | None, strict: bool, batch_rows: int | None) -> None:
    """Stream FILE into tsmon.samples. Good samples are stored; bad lines are listed as FILE:LINE: reason.

    Exit status: 0 all stored, 1 some rejected, 2 the file could not be read at all.
    """
    from prometheus_client import CollectorRegistry
    from psycopg_pool import ConnectionPool

    from tsmon.ingest.limits import Limits
    from tsmon.ingest.service import IngestMetrics, IngestService

    fmt = fmt or _EXTENSIONS.get(file.suffix.lower(), "csv")
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
    url = database_url(settings)
    with ConnectionPool(url, min_size=1, max_size=1, kwargs={"autocommit": True}) as pool, progress:
        service = IngestService(
            pool,
            Limits.from_settings(settings),
            SeriesCache(settings.series_cache_size),
            IngestMetrics(CollectorRegistry()),
            pool_timeout=30.0,
        )
        task = progress.add_task(f"ingest {file.name}", total=size)
        report = ingest_file(
            service,
            file,
            fmt,
            batch_rows=batch_rows or settings.ingest_batch_rows,
            strict=strict,
            on_bytes=lambda n: progress.advance(task, n),
        )
    for rejection in report.rejections:
        click.echo(str(rejection), err=True)
    listed = sum(r.samples for r in report.rejections)
    if report.rejected > listed:
        click.echo(f"... and {report.rejected - listed} more rejected samples", err=True)
    if not report.written:
        click.echo(f"{file}: nothing written (--strict): {report.rejected} bad lines")
        sys.exit(1)
    skipped = "".join(f", {n} {reason.replace('_', ' ')}s skipped" for reason, n in report.skipped.items())
    click.echo(f"{file}: {report.accepted} samples stored, {report.rejected} rejected{skipped}")
    if report.rejected:
        sys.exit(1)


_EXTENSIONS = {
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".prom": "prom",
    ".txt": "prom",
    ".lp": "lp",
    ".influx": "lp",
}


# -- processes -----------------------------------------------------------------------------------
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


def main() -> None:
    cli()
