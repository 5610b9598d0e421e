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


@windows_group.command("refresh")
@click.pass_obj
def windows_refresh(settings: Settings) -> None:
    """Materialise everything complete now (the worker / policies do this on schedule)."""
    from tsmon.windows.engine import refresh_windows
    from tsmon.windows.retention import RetentionSettings

    with connect(settings, autocommit=True) as conn:
        refresh_windows(conn, RetentionSettings.from_settings(settings))
    click.echo("windows refreshed")
