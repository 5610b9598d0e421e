"""Late data: windows behind a shard's watermark that changed are scored again and their events rebuilt."""

from __future__ import annotations

from datetime import datetime, timedelta

from tsmon.db import Conn
from tsmon.scoring import events
from tsmon.scoring.configs import DetectionConfig
from tsmon.scoring.models import ModelCache, active_models
from tsmon.scoring.scores import write_scores

# Late samples reach the windows at their next refresh (the tsmon job or the 1m policy, every
# minute): ranges are taken once they are this old. It also outlasts any writer's transaction.
SETTLE = timedelta(minutes=2)


def settled_ranges(
    conn: Conn, mark: datetime | None
) -> tuple[list[tuple[datetime, datetime]], datetime | None]:
    """Merged late-data ranges noted after ``mark`` and settled; and the new mark."""
    rows = conn.execute(
        "SELECT lo, hi, noted_at FROM tsmon.detection_rescore "
        "WHERE noted_at > coalesce(%s, '-infinity'::timestamptz) AND noted_at <= now() - %s ORDER BY lo",
        (mark, SETTLE),
    ).fetchall()
    merged: list[tuple[datetime, datetime]] = []
    new_mark = mark
    for lo, hi, noted in rows:
        assert isinstance(lo, datetime) and isinstance(hi, datetime) and isinstance(noted, datetime)
        new_mark = noted if new_mark is None else max(new_mark, noted)
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged, new_mark


def rescore(
    conn: Conn,
    config: DetectionConfig,
    series: list[int],
    ranges: list[tuple[datetime, datetime]],
    watermark: datetime,
    *,
    cache: ModelCache | None = None,
) -> int:
    """Score again the already-scored windows in ``ranges`` with the current models; rebuild events."""
    models = active_models(conn, config, series, cache)
    written = 0
    for lo, hi in ranges:
        end = min(hi, watermark)
        if lo >= end or not models:
            continue
        flags = write_scores(conn, config, models, lo, end)
        written += sum(len(points) for _, points in flags.values())
        rebuild_events(conn, config, list(flags), lo, watermark)
    return written


def rebuild_events(
    conn: Conn, config: DetectionConfig, series: list[int], lo: datetime, until: datetime
) -> None:
    """Replace the events of ``series`` from ``lo`` (or the start of an event running then) to ``until``.

    Feedback given on a replaced event carries over to the new event that overlaps it.
    """
    old = conn.execute(
        "DELETE FROM tsmon.anomalies WHERE config_id = %s AND series_id = ANY(%s) "
        "AND coalesce(ended_at, 'infinity') > %s AND started_at < %s "
        "RETURNING series_id, started_at, ended_at, feedback, feedback_note, feedback_at",
        (config.id, series, lo, until),
    ).fetchall()
    since = {sid: lo for sid in series}
    for sid, started, *_ in old:
        key = int(sid)
        assert isinstance(started, datetime)
        since[key] = min(since[key], started)
    touched: list[events.Event] = []
    for sid, start in since.items():
        rows = conn.execute(
            "SELECT time, score, is_anomaly, model_version FROM tsmon.anomaly_scores "
            "WHERE config_id = %s AND series_id = %s AND time >= %s AND time < %s ORDER BY time",
            (config.id, sid, start, until),
        ).fetchall()
        if not rows:
            continue
        pending = events.last_pending_run(conn, config, [sid], start, config.min_duration + config.step)
        points = [(r[0], float(r[1]), bool(r[2])) for r in rows]
        touched += events.advance({}, pending, sid, points, config=config, version=int(rows[-1][3]))
    events.save(conn, config, touched)
    for sid, started, ended, feedback, note, at in old:
        if feedback is not None:
            conn.execute(
                "UPDATE tsmon.anomalies SET feedback = %s, feedback_note = %s, feedback_at = %s "
                "WHERE id = (SELECT id FROM tsmon.anomalies WHERE config_id = %s AND series_id = %s "
                "AND started_at < coalesce(%s, 'infinity'::timestamptz) "
                "AND coalesce(ended_at, 'infinity') > %s "
                "ORDER BY started_at LIMIT 1)",
                (feedback, note, at, config.id, sid, ended, started),
            )
