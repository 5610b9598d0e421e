"""`tsmon ingest FILE`: stream a file through the ingest service with a progress bar."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

from tsmon.cli import cli
from tsmon.db.connect import database_url
from tsmon.ingest.files import FORMATS, ingest_file
from tsmon.ingest.writer import SeriesCache
from tsmon.settings import Settings

err = Console(stderr=True, highlight=False)


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
