"""`tsmon detect apply|list`, `tsmon anomalies`, `tsmon feedback` and `tsmon watch`."""

from __future__ import annotations

import json
from pathlib import Path

import click
import psycopg

from tsmon.cli import cli
from tsmon.db.connect import connect, database_url
from tsmon.scoring.configs import apply_yaml, load_configs
from tsmon.scoring.feedback import FEEDBACK, give_feedback
from tsmon.settings import Settings


@cli.group("detect")
def detect() -> None:
    """Detection configs: which series are scored, how."""


@detect.command("apply")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def detect_apply(settings: Settings, file: Path) -> None:
    """Insert or update (by name) the configs of a YAML file."""
    with connect(settings, autocommit=True) as conn:
        names = apply_yaml(conn, file.read_text())
    click.echo(f"applied {len(names)} configs: {', '.join(names)}")


@detect.command("list")
@click.pass_obj
def detect_list(settings: Settings) -> None:
    """Every config with its threshold."""
    with connect(settings, autocommit=True) as conn:
        for c in load_configs(conn, enabled_only=False):
            state = "" if c.enabled else " (disabled)"
            click.echo(
                f"{c.id:>4} {c.name}: {c.metric} {c.detector} @{c.resolution} "
                f"threshold {c.threshold:.4f}{state}"
            )


@cli.command("anomalies")
@click.option("--open", "open_only", is_flag=True, help="Only events still open.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.pass_obj
def anomalies(settings: Settings, open_only: bool, limit: int) -> None:
    """Recent anomaly events, newest first."""
    with connect(settings, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT anomaly_id, severity, status, started_at, duration, peak_score, metric, labels, feedback "
            "FROM tsmon.metric_anomalies WHERE status = 'open' OR NOT %s ORDER BY started_at DESC LIMIT %s",
            (open_only, limit),
        ).fetchall()
    for aid, sev, status, started, duration, peak, metric, labels, feedback in rows:
        click.echo(
            f"{aid:>6} {sev:<8} {status:<6} {started:%Y-%m-%d %H:%M} {str(duration).split('.')[0]:>9} "
            f"peak {float(peak):.4f} {metric}{json.dumps(labels)}"
            f"{' ' + str(feedback) if feedback else ''}"
        )
    if not rows:
        click.echo("no anomalies")


@cli.command("feedback")
@click.argument("anomaly_id", type=int)
@click.argument("verdict", type=click.Choice(sorted(FEEDBACK)))
@click.option("--note", default=None, help="Why (kept with the event).")
@click.pass_obj
def feedback(settings: Settings, anomaly_id: int, verdict: str, note: str | None) -> None:
    """Mark an anomaly true, false (a false alarm) or ignore; false alarms raise the config's threshold."""
    with connect(settings, autocommit=True) as conn:
        recorded, threshold = give_feedback(conn, anomaly_id, verdict, note)
    click.echo(f"anomaly {anomaly_id}: {recorded}; the config's threshold is now {threshold:.4f}")


@cli.command("watch")
@click.option("--count", type=int, default=None, help="Stop after this many events.")
@click.pass_obj
def watch(settings: Settings, count: int | None) -> None:
    """Print anomaly events (NOTIFY tsmon_anomaly) as they open and close, or late data revises them.

    One JSON payload a line; its "event" is open, close, revised, late (found in the past) or withdrawn.
    """
    with psycopg.connect(database_url(settings), autocommit=True) as conn:
        conn.execute("LISTEN tsmon_anomaly")
        for seen, note in enumerate(conn.notifies(), start=1):
            click.echo(note.payload, nl=True)
            if count is not None and seen >= count:
                break
