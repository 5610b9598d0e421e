"""The worker's attach_changes job: every new anomaly event gets its top 10 once, linked to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from tests.analysis.test_changes import _now, _seed
from tsmon.analysis import changes_events
from tsmon.worker import WorkerContext, attach_changes


def _event(conn: psycopg.Connection[tuple[object, ...]], series_id: int, started_at: object) -> int:
    row = conn.execute(
        "INSERT INTO tsmon.anomalies (series_id, config_id, detector, model_version, started_at, peak_score, "
        "peak_at, severity) VALUES (%s, 1, 'x', 1, %s, 0.99, %s, 'warning') RETURNING id",
        (series_id, started_at, started_at),
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_new_events_get_their_top_10_once(ctx: WorkerContext, db_url: str) -> None:
    now = _now()
    with psycopg.connect(db_url, autocommit=True) as conn:
        start, _, ids = _seed(conn, now)
        seeded = [int(r[0]) for r in conn.execute("SELECT id FROM tsmon.anomalies ORDER BY id").fetchall()]
        shifted = _event(conn, ids["gauge"][0], start + timedelta(minutes=1))
        fresh = _event(conn, ids["gauge"][2], datetime.now(UTC))  # too new: its minutes are to come
        lonely = conn.execute("INSERT INTO tsmon.series (metric) VALUES ('lonely') RETURNING id").fetchone()
        assert lonely is not None
        empty = _event(conn, int(lonely[0]), now - timedelta(days=200))  # no windows that far back
    attach_changes(ctx)
    attach_changes(ctx)  # nothing twice
    with psycopg.connect(db_url) as conn:
        runs = conn.execute(
            "SELECT event_id, count(*), min(summary::text) FROM tsmon.analysis_runs GROUP BY 1 ORDER BY 1"
        ).fetchall()
        top = conn.execute(
            "SELECT rank, series_id, metric, co_anomaly_order FROM tsmon.anomaly_changes "
            "WHERE anomaly_id = %s ORDER BY rank",
            (shifted,),
        ).fetchall()
    assert [(e, n) for e, n, _ in runs] == [(e, 1) for e in [*seeded, shifted, empty]]
    assert "retention" in str(runs[-1][2])  # stored with its reason, not retried
    assert len(top) == 10 and [r[0] for r in top] == list(range(1, 11))
    # The event's own series changed most; a co-anomaly, but not the candidate cause: the seeded event
    # on gauge 3 began earlier.
    assert top[0][1] == ids["gauge"][0] and top[0][3] == 2
    assert fresh not in [e for e, _, _ in runs]
    assert ctx.metrics.changes_attached._value.get() == 4  # type: ignore[attr-defined]
    assert ctx.metrics.changes_failures._value.get() == 0  # type: ignore[attr-defined]


def test_one_worker_at_a_time(ctx: WorkerContext, db_url: str) -> None:
    now = _now()
    with psycopg.connect(db_url, autocommit=True) as conn:
        start, _, ids = _seed(conn, now)
        _event(conn, ids["gauge"][0], start + timedelta(minutes=1))
        other = psycopg.connect(db_url, autocommit=True)
        other.execute("SELECT pg_advisory_lock(%s)", (changes_events.ATTACH_LOCK,))  # another worker's pass
        try:
            report = changes_events.attach_changes(conn, now, 90.0, 5)
        finally:
            # Unlocked before closing: a closed session's backend may still hold the lock a moment.
            other.execute("SELECT pg_advisory_unlock(%s)", (changes_events.ATTACH_LOCK,))
            other.close()
        assert report.attached == [] and conn.execute(
            "SELECT count(*) FROM tsmon.analysis_runs"
        ).fetchone() == (0,)
        assert (
            len(changes_events.attach_changes(conn, now, 90.0, 5).attached) == 3
        )  # two seeded events + this
