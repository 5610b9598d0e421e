"""What changed with each new anomaly event: the worker's pass that ranks and stores the top 10 for it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson

from tsmon.analysis.changes import ChangesInputError, ChangesRequest, resolve_window, run_changes
from tsmon.db import TRANSIENT_ERRORS, Conn
from tsmon.stats.changes import BASELINE_FACTOR

log = logging.getLogger("tsmon.analysis")

ATTACH_LOCK = 0x75_6D_6F_6E_63_68  # pg_try_advisory_lock key: one worker attaches at a time
TOP = 10
# An event gets its run a minute after its onset (its window starts 5 min before): soon enough for
# the alert rules, which wait for it (tsmon.grafana.alerting).
MIN_AGE = timedelta(minutes=1)
NEW_FOR = timedelta(days=1)  # events created longer ago are not new: no backfill of old history


@dataclass
class AttachReport:
    attached: list[int] = field(default_factory=list)
    unranked: list[int] = field(default_factory=list)  # stored with the reason and no results
    failed: list[int] = field(default_factory=list)


def pending_events(conn: Conn, now: datetime, limit: int) -> list[int]:
    """New events old enough to rank that have no "what changed" run yet, oldest onset first."""
    rows = conn.execute(
        "SELECT a.id FROM tsmon.anomalies a WHERE a.created_at >= %s AND a.started_at <= %s "
        "AND NOT EXISTS (SELECT 1 FROM tsmon.analysis_runs r WHERE r.event_id = a.id AND r.kind = 'changes') "
        "ORDER BY a.started_at, a.id LIMIT %s",
        (now - NEW_FOR, now - MIN_AGE, limit),
    ).fetchall()
    return [int(r[0]) for r in rows]


def _store_unranked(conn: Conn, event_id: int, now: datetime, reason: str) -> None:
    """A run with no results and the reason, so the event is not retried every pass."""
    start, end = resolve_window(conn, ChangesRequest(event_id=event_id), now)
    conn.execute(
        "SELECT tsmon.record_changes_run(%s::jsonb, %s, %s, %s, %s, %s::jsonb, '[]'::jsonb)",
        (
            orjson.dumps({"method": "volume", "limit": TOP}).decode(),
            start,
            end,
            start - (end - start) * BASELINE_FACTOR,
            event_id,
            orjson.dumps({"error": reason}).decode(),
        ),
    )


def attach_changes(conn: Conn, now: datetime, retention_days: float | None, per_pass: int) -> AttachReport:
    """Rank what changed with up to ``per_pass`` new events and store each top 10 linked to its event.

    Skipped (an empty report) while another worker holds the lock, so no event gets two runs.
    """
    report = AttachReport()
    got = conn.execute("SELECT pg_try_advisory_lock(%s)", (ATTACH_LOCK,)).fetchone()
    if not got or not got[0]:
        return report
    try:
        for event_id in pending_events(conn, now, per_pass):
            try:
                run_changes(conn, ChangesRequest(event_id=event_id, limit=TOP), now, retention_days)
                report.attached.append(event_id)
            except ChangesInputError as exc:  # too few points, past retention, event withdrawn
                if exc.argument != "event":
                    _store_unranked(conn, event_id, now, str(exc))
                report.unranked.append(event_id)
            except TRANSIENT_ERRORS:
                raise
            except Exception as exc:  # one event's failure must not stop (or block) the others
                log.exception("what changed with anomaly event %s failed", event_id)
                _store_unranked(conn, event_id, now, f"failed: {type(exc).__name__}: {exc}")
                report.failed.append(event_id)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (ATTACH_LOCK,))
    return report
