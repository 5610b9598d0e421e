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
    Any login can NOTIFY, so each event is looked up in tsmon.anomalies first: what is printed is the
    stored event, and a notification naming no stored event (or a withdrawn one still stored) is
    reported on stderr and skipped.
    """
    url = database_url(settings)
    with psycopg.connect(url, autocommit=True) as conn, psycopg.connect(url, autocommit=True) as lookup:
        conn.execute("LISTEN tsmon_anomaly")
        seen = 0
        for note in conn.notifies():
            event = _verified(lookup, note.payload)
            if event is None:
                click.echo(
                    f"tsmon watch: ignored a notification with no stored event: {note.payload[:200]}",
                    err=True,
                )
                continue
            click.echo(event)
            seen += 1
            if count is not None and seen >= count:
                break


_STORED = """SELECT jsonb_build_object('anomaly_id', id, 'series_id', series_id, 'config_id', config_id,
    'severity', severity, 'started_at', started_at, 'ended_at', ended_at, 'peak_score', peak_score,
    'status', status) FROM tsmon.anomalies WHERE id = %s AND series_id = %s AND config_id = %s"""


def _verified(conn: psycopg.Connection[tuple[object, ...]], payload: str) -> str | None:
    """The stored event a notification announces, as JSON with its "event"; None if it is not stored."""
    try:
        note = json.loads(payload)
        key = (int(note["anomaly_id"]), int(note["series_id"]), int(note["config_id"]))
        kind = str(note["event"])
    except (ValueError, KeyError, TypeError):
        return None
    row = conn.execute(_STORED, key).fetchone()
    if kind == "withdrawn":  # the event is gone: it must not be stored any more
        return None if row is not None else json.dumps(note)
    if row is None:
        return None
    stored = row[0] if isinstance(row[0], dict) else json.loads(str(row[0]))
    return json.dumps({**stored, "event": kind})
