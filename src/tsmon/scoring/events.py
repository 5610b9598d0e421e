"""Anomaly events from scored points: open after min_duration, extend, close; severity from peak, length."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tsmon.db import Conn
from tsmon.scoring.configs import DetectionConfig


@dataclass
class Event:
    """An anomaly event as the job sees it; ``id`` None until inserted."""

    series_id: int
    started_at: datetime
    last_at: datetime  # start of the last anomalous window
    peak_score: float
    peak_at: datetime
    model_version: int
    id: int | None = None
    closed: bool = False

    def add(self, t: datetime, score: float, version: int) -> None:
        self.last_at, self.model_version = t, version
        if score > self.peak_score:
            self.peak_score, self.peak_at = score, t


def severity(event: Event, config: DetectionConfig) -> str:
    """critical at or above the config's critical score; warning once it lasts 5 windows (or min_duration)."""
    if event.peak_score >= config.critical_score:
        return "critical"
    duration = event.last_at - event.started_at + config.step
    return "warning" if duration >= max(config.min_duration, 5 * config.step) else "info"


def advance(
    events: dict[int, Event],
    pending: dict[int, Event],
    series_id: int,
    points: Iterable[tuple[datetime, float, bool]],
    *,
    config: DetectionConfig,
    version: int,
) -> list[Event]:
    """Fold one series' new points (in time order) into its open event; returns every event touched.

    A run of anomalous windows becomes an event once it spans min_duration; a normal window
    closes the open event.
    """
    touched: list[Event] = []
    for t, score, anomalous in points:
        event = events.get(series_id)
        if anomalous:
            if event is not None:
                event.add(t, score, version)
                continue
            run = pending.get(series_id)
            if run is None:
                run = pending[series_id] = Event(series_id, t, t, score, t, version)
            else:
                run.add(t, score, version)
            if run.last_at - run.started_at + config.step >= config.min_duration:
                events[series_id] = pending.pop(series_id)
                touched.append(events[series_id])
        else:
            pending.pop(series_id, None)
            if event is not None:
                event.closed = True
                del events[series_id]
                if event not in touched:
                    touched.append(event)
    event = events.get(series_id)
    if event is not None and event not in touched:
        touched.append(event)
    return touched


def load_open(conn: Conn, config: DetectionConfig, series_ids: list[int]) -> dict[int, Event]:
    rows = conn.execute(
        "SELECT id, series_id, started_at, peak_score, peak_at, model_version, "
        "(SELECT max(time) FROM tsmon.anomaly_scores s WHERE s.config_id = a.config_id "
        " AND s.series_id = a.series_id AND s.is_anomaly) "
        "FROM tsmon.anomalies a WHERE config_id = %s AND series_id = ANY(%s) AND status = 'open'",
        (config.id, series_ids),
    ).fetchall()
    events = {}
    for eid, sid, started, peak, peak_at, version, last in rows:
        assert isinstance(started, datetime) and isinstance(peak_at, datetime)
        last_at = last if isinstance(last, datetime) else started
        event = Event(int(sid), started, last_at, float(peak), peak_at, int(version), id=int(eid))
        events[event.series_id] = event
    return events


# An event names the detector of the model that last extended it (tsmon.models), as score rows do.
_INSERT = (
    "INSERT INTO tsmon.anomalies (series_id, config_id, detector, model_version, started_at, ended_at, "
    "peak_score, peak_at, severity, status) VALUES (%(series)s, %(config)s, "
    "coalesce((SELECT m.detector FROM tsmon.models m WHERE m.config_id = %(config)s "
    "AND m.series_id = %(series)s AND m.version = %(version)s), %(configured)s), %(version)s, "
    "%(started)s, %(ended)s, %(peak)s, %(peak_at)s, %(severity)s, %(status)s) RETURNING id"
)
_UPDATE = (
    "UPDATE tsmon.anomalies SET started_at = %(started)s, ended_at = %(ended)s, peak_score = %(peak)s, "
    "peak_at = %(peak_at)s, severity = %(severity)s, status = %(status)s, model_version = %(version)s, "
    "detector = coalesce((SELECT m.detector FROM tsmon.models m WHERE m.config_id = %(config)s "
    "AND m.series_id = %(series)s AND m.version = %(version)s), %(configured)s), updated_at = now() "
    "WHERE id = %(id)s"
)


def row(e: Event, config: DetectionConfig) -> dict[str, object]:
    """The columns of ``e`` as tsmon.anomalies stores them (parameters of the statements here)."""
    return {
        "id": e.id,
        "series": e.series_id,
        "config": config.id,
        "configured": config.detector,
        "version": e.model_version,
        "started": e.started_at,
        "ended": _ended(e, config),
        "peak": e.peak_score,
        "peak_at": e.peak_at,
        "severity": severity(e, config),
        "status": "closed" if e.closed else "open",
    }


def save(conn: Conn, config: DetectionConfig, events: list[Event]) -> None:
    """Insert new events (their ids set) and update the others, each kind in one batch."""
    new = [e for e in events if e.id is None]
    old = [e for e in events if e.id is not None]
    if new:
        with conn.cursor() as cur:
            cur.executemany(_INSERT, [row(e, config) for e in new], returning=True)
            for e in new:
                got = cur.fetchone()
                assert got is not None
                e.id = int(got[0])
                cur.nextset()
    if old:
        with conn.cursor() as cur:
            cur.executemany(_UPDATE, [row(e, config) for e in old])


def _ended(e: Event, config: DetectionConfig) -> datetime | None:
    return e.last_at + config.step if e.closed else None


def last_pending_run(
    conn: Conn, config: DetectionConfig, series_ids: list[int], before: datetime, lookback: timedelta
) -> dict[int, Event]:
    """Runs of anomalous windows just before ``before`` that had not yet reached min_duration."""
    if config.min_duration <= timedelta(0):
        return {}
    rows = conn.execute(
        "SELECT series_id, time, score, is_anomaly, model_version FROM tsmon.anomaly_scores "
        "WHERE config_id = %s AND series_id = ANY(%s) AND time >= %s AND time < %s ORDER BY series_id, time",
        (config.id, series_ids, before - lookback, before),
    ).fetchall()
    runs: dict[int, Event] = {}
    for sid, t, score, anomalous, version in rows:
        key = int(sid)
        if not anomalous:
            runs.pop(key, None)
        elif key in runs:
            runs[key].add(t, float(score), int(version))
        else:
            runs[key] = Event(key, t, t, float(score), t, int(version))
    return runs
