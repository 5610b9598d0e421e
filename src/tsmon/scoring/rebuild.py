"""Events revised after late data: refolded around what changed, matched to the stored ones by overlap.

A matched event keeps its id and feedback and is written only if it changed; so `tsmon watch` hears
of an event again only when late data changed it, and never of one found in the past as opening
(tsmon.anomalies_notify, with tsmon.anomaly_origin = 'rescore' while these writes run).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime

from tsmon.db import Conn
from tsmon.scoring import events
from tsmon.scoring.configs import DetectionConfig

_COMPARED = ("started", "ended", "peak", "peak_at", "severity", "status", "version")
FAR = datetime.max.replace(tzinfo=UTC)  # the end of an event still open


def revise_events(
    conn: Conn, config: DetectionConfig, series_id: int, changed: tuple[datetime, datetime], until: datetime
) -> None:
    """Fold the scores of one series again around the ``changed`` rows (first and last time) and
    write the difference to its stored events.

    The fold starts after the last normal window before ``first`` (nothing is open or pending
    there) and ends at the first normal window from ``last`` on (nothing after it depends on what
    came before), or at ``until`` (the watermark: the last event may still be open).
    """
    key, (first, last) = (config.id, series_id), changed
    before = _scalar(
        conn,
        "SELECT max(time) FROM tsmon.anomaly_scores WHERE config_id = %s AND series_id = %s "
        "AND time < %s AND NOT is_anomaly",
        (*key, first),
    )
    after = _scalar(
        conn,
        "SELECT min(time) FROM tsmon.anomaly_scores WHERE config_id = %s AND series_id = %s "
        "AND time >= %s AND time < %s AND NOT is_anomaly",
        (*key, last, until),
    )
    rows = conn.execute(
        "SELECT time, score, is_anomaly, model_version FROM tsmon.anomaly_scores "
        "WHERE config_id = %s AND series_id = %s AND time > coalesce(%s, '-infinity'::timestamptz) "
        "AND time <= coalesce(%s, %s - interval '1 microsecond') ORDER BY time",
        (*key, before, after, until),
    ).fetchall()
    open_events: dict[int, events.Event] = {}
    pending: dict[int, events.Event] = {}
    folded: dict[int, events.Event] = {}  # by identity, in order
    for version, run in itertools.groupby(rows, key=lambda r: int(str(r[3]))):
        points = [(r[0], float(str(r[1])), bool(r[2])) for r in run]
        for e in events.advance(open_events, pending, series_id, points, config=config, version=version):
            folded[id(e)] = e
    stored = conn.execute(
        "SELECT id, started_at, ended_at, peak_score, peak_at, severity, status, model_version, feedback, "
        "feedback_note, feedback_at FROM tsmon.anomalies WHERE config_id = %s AND series_id = %s "
        "AND coalesce(ended_at, 'infinity') > coalesce(%s, '-infinity'::timestamptz) "
        "AND started_at <= coalesce(%s, 'infinity'::timestamptz) ORDER BY started_at",
        (*key, before, after),
    ).fetchall()
    _write(conn, config, list(folded.values()), stored)


@dataclass
class _Stored:
    id: int
    columns: tuple[object, ...]  # as _COMPARED
    feedback: tuple[object, ...] | None  # feedback, feedback_note, feedback_at

    @property
    def span(self) -> tuple[datetime, datetime]:
        started, ended = self.columns[0], self.columns[1]
        assert isinstance(started, datetime)
        return started, ended if isinstance(ended, datetime) else FAR


def _span(e: events.Event, config: DetectionConfig) -> tuple[datetime, datetime]:
    ended = events.row(e, config)["ended"]
    return e.started_at, ended if isinstance(ended, datetime) else FAR


def _overlap(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _write(
    conn: Conn, config: DetectionConfig, rebuilt: list[events.Event], rows: list[tuple[object, ...]]
) -> None:
    """Match rebuilt events to stored ones by overlap, in time order; write only the differences."""
    unmatched = [_Stored(int(str(r[0])), r[1:8], r[8:11] if r[8] is not None else None) for r in rows]
    judged: set[int] = set()  # rebuilt events (by identity) that keep or got feedback
    write: list[events.Event] = []
    for e in rebuilt:
        match = next((x for x in unmatched if _overlap(x.span, _span(e, config))), None)
        if match is None:
            write.append(e)  # found only now: inserted
            continue
        unmatched.remove(match)
        e.id = match.id
        if match.feedback is not None:
            judged.add(id(e))
        now = events.row(e, config)
        if tuple(now[k] for k in _COMPARED) != match.columns:
            write.append(e)
    if not write and not unmatched:
        return  # late data changed scores, not events: nothing is written, nothing announced
    conn.execute("SELECT set_config('tsmon.anomaly_origin', 'rescore', true)")
    if unmatched:
        conn.execute("DELETE FROM tsmon.anomalies WHERE id = ANY(%s)", ([x.id for x in unmatched],))
    events.save(conn, config, write)
    conn.execute("SELECT set_config('tsmon.anomaly_origin', '', true)")
    # Feedback on an event that is gone carries over to a rebuilt one overlapping it (not announced).
    for x in unmatched:
        target = next(
            (e for e in rebuilt if id(e) not in judged and _overlap(x.span, _span(e, config))), None
        )
        if x.feedback is not None and target is not None:
            judged.add(id(target))
            conn.execute(
                "UPDATE tsmon.anomalies SET feedback = %s, feedback_note = %s, feedback_at = %s "
                "WHERE id = %s",
                (*x.feedback, target.id),
            )


def _scalar(conn: Conn, query: str, params: tuple[object, ...]) -> datetime | None:
    row = conn.execute(query, params).fetchone()
    return row[0] if row is not None and isinstance(row[0], datetime) else None
