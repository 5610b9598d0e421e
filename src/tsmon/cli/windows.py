"""`tsmon windows status|refresh`."""

from __future__ import annotations

import click

from tsmon.cli import cli
from tsmon.db.connect import connect
from tsmon.settings import Settings


@cli.group("windows")
def windows_group() -> None:
    """The 1m / 1h / 1d windows: which engine maintains them, how far they are materialised."""


@windows_group.command("status")
@click.pass_obj
def windows_status(settings: Settings) -> None:
    """Engine, each level's watermark and lag, late data waiting, and the policy jobs' health."""
    from tsmon.windows import health
    from tsmon.windows.engine import current_engine

    with connect(settings, autocommit=True) as conn:
        engine = current_engine(conn)
        click.echo(f"engine: {engine or 'none (run tsmon migrate)'}")
        if engine is None:
            return
        levels = health.freshness(conn)
        for level in levels:
            lag = (
                "nothing materialised yet" if level.lag_seconds is None else f"lag {level.lag_seconds:.0f} s"
            )
            flag = "  BEHIND" if level.behind else ""
            click.echo(f"  {level.resolution}: materialised before {level.watermark or '-'} ({lag}){flag}")
        late = [level for level in levels if level.behind]
        if engine == "tsmon":
            pending = conn.execute("SELECT count(*) FROM tsmon.window_invalidations").fetchone()
            click.echo(f"  late-data ranges waiting for refresh: {pending[0] if pending else 0}")
            return
        workers = health.background_workers(conn)
        click.echo(
            f"  timescaledb background workers: {workers}{' (policies never run)' if workers == 0 else ''}"
        )
        if late:
            click.echo("  the worker refreshes the continuous aggregates itself while they are behind")
        for job in health.job_health(conn):
            success = job.last_success.isoformat(timespec="seconds") if job.last_success else "never"
            click.echo(
                f"  job {job.job_id} {job.proc} on {job.relation}: {job.last_status or 'not run'}, "
                f"last success {success}, {job.total_failures} of {job.total_runs} runs failed"
                f"{'' if job.scheduled else ', not scheduled'}"
            )
            if job.failing and job.last_error:
                click.echo(f"    last error: {job.last_error}")


@windows_group.command("refresh")
@click.pass_obj
def windows_refresh(settings: Settings) -> None:
    """Materialise everything complete now (the worker / policies do this on schedule)."""
    from tsmon.windows.engine import refresh_windows
    from tsmon.windows.retention import RetentionSettings

    with connect(settings, autocommit=True) as conn:
        refresh_windows(conn, RetentionSettings.from_settings(settings))
    click.echo("windows refreshed")
