"""Late data: only the series it touched, only windows scored before, by the models that scored them."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from tests.scoring.test_job import NOW, SPIKE, Conn, run_all
from tests.scoring.test_job import conn as scored_conn  # noqa: F401 - fixture
from tsmon.cli import cli
from tsmon.ingest.batch import SampleBatch, datetime_to_us
from tsmon.ingest.writer import SampleWriter, SeriesCache
from tsmon.scoring.feedback import give_feedback

MINUTE = timedelta(minutes=1)
FIRST = NOW - 61 * MINUTE  # the first window the first run at NOW scores
ROWS = "SELECT series_id, time, xmin::text, model_version, score FROM tsmon.anomaly_scores ORDER BY 1, 2"
EVENTS = (
    "SELECT id, series_id, started_at, ended_at, peak_score, status, feedback FROM tsmon.anomalies ORDER BY 1"
)
DAYS_2 = 2 * 24 * 60 * MINUTE


def write(conn: Conn, metric: str, labels: str, at: datetime, value: float) -> None:
    SampleWriter(conn, SeriesCache(10)).write(SampleBatch([metric], [labels], [datetime_to_us(at)], [value]))


def settle_and_run(conn: Conn, now: datetime) -> None:
    """Three minutes pass (the windows are refreshed by then): the late ranges are settled."""
    conn.execute("UPDATE tsmon.detection_rescore SET noted_at = noted_at - interval '3 minutes'")
    conn.execute(
        "UPDATE tsmon.detection_shards "
        "SET rescore_mark = rescore_mark - interval '3 minutes', scored_at = NULL"
    )
    run_all(conn, "w1", now)


def host_id(conn: Conn, host: str) -> int:
    row = conn.execute("SELECT id FROM tsmon.series WHERE labels ->> 'host' = %s", (host,)).fetchone()
    assert row is not None
    return int(str(row[0]))


def heard(listener: psycopg.Connection[tuple[object, ...]]) -> list[tuple[str, int]]:
    notes = [json.loads(n.payload) for n in listener.notifies(timeout=1)]
    return [(n["event"], n["anomaly_id"]) for n in notes]


def test_the_writer_logs_the_late_windows_of_each_late_series_only(scored_conn: Conn) -> None:  # noqa: F811
    conn = scored_conn
    run_all(conn, "w1", NOW)
    batch = SampleBatch(
        ["demo_load", "demo_load", "demo_load"],
        ['{"host":"web1"}', '{"host":"web2"}', '{"host":"web2"}'],
        [datetime_to_us(x) for x in (datetime.now(NOW.tzinfo), NOW - DAYS_2, NOW - 30 * MINUTE)],
        [1.0, 2.0, 3.0],
    )
    SampleWriter(conn, SeriesCache(10)).write(batch)  # web1 on time, web2 two days and half an hour late
    logged = conn.execute("SELECT series_id, lo, hi FROM tsmon.detection_rescore").fetchall()
    assert logged == [(host_id(conn, "web2"), NOW - DAYS_2, NOW - 29 * MINUTE)]


def test_late_data_elsewhere_rewrites_nothing_and_announces_nothing(
    scored_conn: Conn,  # noqa: F811
    db_url: str,
) -> None:
    conn = scored_conn
    run_all(conn, "w1", NOW)
    rows, stored = conn.execute(ROWS).fetchall(), conn.execute(EVENTS).fetchall()
    assert stored  # web1's spike
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN tsmon_anomaly")
        write(conn, "other_metric", "{}", NOW - DAYS_2, 1.0)  # another metric, two days late
        write(conn, "demo_load", '{"host":"db1"}', NOW - 30 * MINUTE, 500.0)  # a series no config scores
        settle_and_run(conn, NOW)
        assert heard(listener) == []
    assert conn.execute(ROWS).fetchall() == rows  # not one score row rewritten (same xmin)
    assert conn.execute(EVENTS).fetchall() == stored


def test_late_data_before_the_first_scored_window_invents_no_past_event(scored_conn: Conn) -> None:  # noqa: F811
    conn = scored_conn
    run_all(conn, "w1", NOW)
    write(conn, "demo_load", '{"host":"web2"}', NOW - 30 * 60 * MINUTE, 500.0)  # 30 h ago: never scored
    settle_and_run(conn, NOW)
    before = "SELECT count(*) FROM tsmon.anomaly_scores WHERE time < %s"
    assert conn.execute(before, (FIRST,)).fetchone() == (0,)
    assert conn.execute(
        "SELECT count(*) FROM tsmon.anomalies WHERE started_at < %s", (FIRST,)
    ).fetchone() == (0,)


def test_late_data_is_scored_by_the_model_that_scored_the_window(scored_conn: Conn, db_url: str) -> None:  # noqa: F811
    conn = scored_conn
    run_all(conn, "w1", NOW - 30 * MINUTE)  # version 1 scores up to NOW - 32 min
    conn.execute("UPDATE tsmon.detection_configs SET retrain_every = interval '1 minute'")
    conn.execute("UPDATE tsmon.detection_shards SET scored_at = NULL")
    run_all(conn, "w1", NOW)  # version 2 from NOW - 31 min
    web1, web2 = host_id(conn, "web1"), host_id(conn, "web2")
    late = NOW - 40 * MINUTE
    rows = conn.execute(ROWS).fetchall()
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN tsmon_anomaly")
        write(conn, "demo_load", '{"host":"web2"}', late + 30 * timedelta(seconds=1), 500.0)
        settle_and_run(conn, NOW)
        notes = heard(listener)
    after = conn.execute(ROWS).fetchall()
    assert [r for r in after if r[0] == web1] == [r for r in rows if r[0] == web1]  # web1 untouched
    changed = [(r[1], r[3]) for r, old in zip(after, rows, strict=True) if r != old]
    assert changed == [(late, 1)]  # one window (mad looks at no context), by version 1, not the newest
    event = conn.execute(
        "SELECT id, started_at, ended_at FROM tsmon.anomalies WHERE series_id = %s", (web2,)
    ).fetchall()
    assert [e[1:] for e in event] == [(late, late + MINUTE)]
    assert notes == [("late", event[0][0])]  # an event found in the past: never announced as opening


def test_a_revised_event_keeps_its_id_and_feedback(scored_conn: Conn, db_url: str) -> None:  # noqa: F811
    conn = scored_conn
    run_all(conn, "w1", NOW)
    ((anomaly_id, *_),) = conn.execute(EVENTS).fetchall()
    give_feedback(conn, int(str(anomaly_id)), "true", "the spike")
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN tsmon_anomaly")
        # The window after the spike, normal so far, turns out to have been part of it.
        write(conn, "demo_load", '{"host":"web1"}', SPIKE + 3 * MINUTE + timedelta(seconds=30), 500.0)
        settle_and_run(conn, NOW)
        notes = heard(listener)
    event = conn.execute(
        "SELECT id, started_at, ended_at, status, feedback, feedback_note FROM tsmon.anomalies"
    ).fetchall()
    assert event == [(anomaly_id, SPIKE, SPIKE + 4 * MINUTE, "closed", "true_positive", "the spike")]
    assert notes == [("revised", anomaly_id)]


def test_watch_prints_only_what_changed(
    scored_conn: Conn,  # noqa: F811
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn = scored_conn
    monkeypatch.setenv("TSMON_DATABASE_URL", db_url)
    monkeypatch.setenv("TSMON_HOME", str(tmp_path))
    run_all(conn, "w1", NOW)
    out: list[str] = []
    watcher = threading.Thread(
        target=lambda: out.append(CliRunner().invoke(cli, ["watch", "--count", "1"]).stdout), daemon=True
    )
    watcher.start()
    listening = "SELECT count(*) FROM pg_stat_activity WHERE query = 'LISTEN tsmon_anomaly'"
    for _ in range(200):
        if conn.execute(listening).fetchone() == (1,):
            break
        threading.Event().wait(0.05)
    write(conn, "demo_load", '{"host":"web2"}', NOW - 30 * 60 * MINUTE, 500.0)  # before any scored window
    web1 = host_id(conn, "web1")
    same = conn.execute("SELECT value FROM tsmon.samples WHERE series_id = %s AND time = %s", (web1, SPIKE))
    value = float(str((same.fetchone() or [0])[0]))
    write(conn, "demo_load", '{"host":"web1"}', SPIKE + timedelta(seconds=30), value)  # the window's average
    settle_and_run(conn, NOW)
    # A forged notification (any login can NOTIFY) is not printed; the next real event ends the test.
    conn.execute(
        """NOTIFY tsmon_anomaly, '{"event": "open", "anomaly_id": 99999, "series_id": 1, "config_id": 1}'"""
    )
    end = conn.execute(
        "INSERT INTO tsmon.anomalies (series_id, config_id, detector, model_version, started_at, peak_score, "
        "peak_at, severity) SELECT %s, id, 'mad', 1, now(), 0.999, now(), 'critical' "
        "FROM tsmon.detection_configs LIMIT 1 RETURNING id",
        (web1,),
    ).fetchone()
    watcher.join(timeout=30)
    printed = [json.loads(line) for line in out[0].splitlines()]
    assert [(p["event"], p["anomaly_id"]) for p in printed] == [("open", end[0] if end else None)]
