"""Scheduled scoring on the real database: models, scores, events, exactly once, catch-up, two workers."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from tsmon.cli import cli
from tsmon.ingest.batch import SampleBatch, canonical_labels, datetime_to_us
from tsmon.ingest.writer import SampleWriter, SeriesCache
from tsmon.scoring import events as events_module
from tsmon.scoring.configs import DetectionConfigError, apply_yaml, load_configs
from tsmon.scoring.feedback import FeedbackError, give_feedback
from tsmon.scoring.job import claim_shards, score_shard
from tsmon.worker.jobs import DETECTION_LEASE

Conn = psycopg.Connection[tuple[object, ...]]
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
SPIKE = NOW - timedelta(minutes=20)
CONFIG = """
configs:
  - name: load
    metric: demo_load
    matchers: [{label: host, op: "=~", value: "web.*"}]
    resolution: 1m
    detector: mad
    training_window: 1d
    shards: 2
"""


@pytest.fixture
def conn(db_url: str) -> Iterator[Conn]:
    with psycopg.connect(db_url, autocommit=True) as c:
        rng = random.Random(3)
        writer = SampleWriter(c, SeriesCache(100))
        for host in ("web1", "web2", "db1"):
            batch = SampleBatch()
            for m in range(36 * 60, 0, -1):
                t = NOW - timedelta(minutes=m)
                v = 50 + 10 * math.sin(m / 90) + rng.gauss(0, 1)
                if host == "web1" and SPIKE <= t < SPIKE + timedelta(minutes=3):
                    v += 60
                batch.append("demo_load", canonical_labels({"host": host}), datetime_to_us(t), v)
            writer.write(batch)
        apply_yaml(c, CONFIG)
        yield c


def run_all(conn: Conn, owner: str, now: datetime) -> int:
    configs = {c.id: c for c in load_configs(conn)}
    windows = 0
    for config_id, shard in claim_shards(conn, owner, timedelta(minutes=2), 100, now):
        windows += score_shard(conn, configs[config_id], shard, owner, now).windows
    return windows


def snapshot(conn: Conn) -> list[tuple[object, ...]]:
    return (
        conn.execute(
            "SELECT time, series_id, model_version, score, expected, lower, upper, is_anomaly "
            "FROM tsmon.anomaly_scores ORDER BY series_id, time"
        ).fetchall()
        + conn.execute(
            "SELECT series_id, started_at, ended_at, peak_score, severity, status "
            "FROM tsmon.anomalies ORDER BY 1, 2"
        ).fetchall()
    )


def test_scores_models_and_events(conn: Conn) -> None:
    assert run_all(conn, "w1", NOW) == 2 * 60  # web1, web2: the first run scores the last hour
    rows = conn.execute(
        "SELECT labels->>'host', count(*), count(DISTINCT model_version), "
        "min(score) >= 0 AND max(score) <= 1 "
        "FROM tsmon.metric_anomaly_scores GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert rows == [("web1", 60, 1, True), ("web2", 60, 1, True)]  # db1 does not match host=~web.*
    models = conn.execute(
        "SELECT count(*), min(train_points), bool_and(reason = 'initial') FROM tsmon.models"
    )
    assert models.fetchone() == (2, 1440, True)  # one day before the first scored window
    anomalies = conn.execute(
        "SELECT labels->>'host', started_at, ended_at, status FROM tsmon.metric_anomalies ORDER BY started_at"
    ).fetchall()
    assert [(a[0], a[1], a[2], a[3]) for a in anomalies] == [
        ("web1", SPIKE, SPIKE + timedelta(minutes=3), "closed")
    ]
    assert run_all(conn, "w1", NOW) == 0  # nothing new: no duplicates


def test_crash_mid_batch_then_rerun_gives_identical_rows(conn: Conn, monkeypatch: pytest.MonkeyPatch) -> None:
    run_all(conn, "w1", NOW)
    reference = snapshot(conn)
    conn.execute("TRUNCATE tsmon.anomaly_scores, tsmon.anomalies, tsmon.models CASCADE")
    conn.execute("UPDATE tsmon.detection_shards SET watermark = NULL, scored_at = NULL, lease_until = NULL")

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("worker killed")

    monkeypatch.setattr(events_module, "save", crash)
    with pytest.raises(RuntimeError, match="worker killed"):
        run_all(conn, "w1", NOW)
    assert conn.execute("SELECT count(*) FROM tsmon.anomaly_scores").fetchone() == (
        0,
    )  # nothing half-written
    monkeypatch.undo()
    conn.execute("UPDATE tsmon.detection_shards SET lease_until = NULL")  # the dead worker's lease expired
    run_all(conn, "w2", NOW)
    assert snapshot(conn) == reference


def test_a_first_run_killed_then_rerun_after_the_lease_is_an_uninterrupted_run(
    conn: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    later = NOW + 3 * DETECTION_LEASE  # the rerun comes once the dead worker's lease has run out

    def state() -> list[tuple[object, ...]]:
        models = conn.execute("SELECT series_id, version, train_end FROM tsmon.models ORDER BY 1, 2")
        return snapshot(conn) + models.fetchall()

    run_all(conn, "w1", NOW)
    run_all(conn, "w1", later)
    reference = state()
    conn.execute("TRUNCATE tsmon.anomaly_scores, tsmon.anomalies, tsmon.models CASCADE")
    conn.execute("DELETE FROM tsmon.detection_shards")  # as new as the config was

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("worker killed")

    monkeypatch.setattr(events_module, "save", crash)
    with pytest.raises(RuntimeError, match="worker killed"):
        run_all(conn, "w1", NOW)
    monkeypatch.undo()
    conn.execute("UPDATE tsmon.detection_shards SET lease_until = now() - interval '1 second'")
    run_all(conn, "w2", later)
    assert state() == reference  # same first models, scores and events: nothing shifted by the wait


def test_a_running_shard_is_held_by_its_session_not_only_its_lease(conn: Conn, db_url: str) -> None:
    assert timedelta(seconds=1) <= DETECTION_LEASE <= timedelta(seconds=15)
    claimed = claim_shards(conn, "w1", timedelta(0), 100, NOW)
    assert len(claimed) == 2
    config_id, shard = claimed[0]
    # w1 is scoring (score_shard's transaction holds the shard's row) past its lease's end ...
    running = psycopg.connect(db_url)
    running.execute(
        "SELECT 1 FROM tsmon.detection_shards WHERE config_id = %s AND shard = %s FOR UPDATE",
        (config_id, shard),
    )
    assert (config_id, shard) not in claim_shards(conn, "w2", DETECTION_LEASE, 100, NOW)
    # ... and is killed: its lock goes with its session, and the shard is due again at once.
    pid = running.info.backend_pid
    conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    conn.execute("UPDATE tsmon.detection_shards SET lease_until = now() - interval '1 second'")
    assert (config_id, shard) in claim_shards(conn, "w2", DETECTION_LEASE, 100, NOW)
    running.close()


def test_catch_up_after_a_pause_leaves_no_gap(conn: Conn) -> None:
    earlier = NOW - timedelta(hours=2)
    run_all(conn, "w1", earlier)
    run_all(conn, "w1", NOW)  # two hours later
    gaps = conn.execute(
        "SELECT series_id, count(*), min(time), max(time) FROM tsmon.anomaly_scores GROUP BY 1"
    ).fetchall()
    for _, n, first, last in gaps:
        assert isinstance(first, datetime) and isinstance(last, datetime)
        assert n == (last - first) / timedelta(minutes=1) + 1  # every window once, none missing


def test_two_workers_never_hold_the_same_shard(conn: Conn) -> None:
    first = claim_shards(conn, "w1", timedelta(minutes=2), 1)
    second = claim_shards(conn, "w2", timedelta(minutes=2), 10)
    assert len(first) == 1 and first[0] not in second and len(second) == 1
    config = load_configs(conn)[0]
    assert not score_shard(conn, config, first[0][1], "w2", NOW).scored  # not w2's lease
    assert score_shard(conn, config, first[0][1], "w1", NOW).scored


def test_bad_config_is_refused_with_its_place() -> None:
    with pytest.raises(DetectionConfigError, match=r"configs\[0\] \(x\)\.detector: must be one of"):
        apply_yaml(None, "configs: [{name: x, metric: m, detector: magic}]")  # type: ignore[arg-type]


def test_events_are_notified_and_feedback_moves_the_threshold(conn: Conn, db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN tsmon_anomaly")
        run_all(conn, "w1", NOW)
        notes = [json.loads(n.payload) for n in listener.notifies(timeout=2, stop_after=2)]
    assert [n["event"] for n in notes] == ["open", "close"]
    anomaly_id = notes[0]["anomaly_id"]
    assert give_feedback(conn, anomaly_id, "false", "deploy") == ("false_positive", pytest.approx(0.991))
    for _ in range(10):  # a verdict acts once, however often it is given
        assert give_feedback(conn, anomaly_id, "false")[1] == pytest.approx(0.991)
    assert give_feedback(conn, anomaly_id, "ignore")[1] == pytest.approx(0.991)  # the same effect
    # Changing the verdict undoes the false alarm's raise; a confirmation never goes below the floor.
    assert give_feedback(conn, anomaly_id, "true")[1] == pytest.approx(0.99)
    for _ in range(5):
        give_feedback(conn, anomaly_id, "true")
    assert load_configs(conn)[0].threshold == pytest.approx(0.99)  # never below the configured floor
    assert give_feedback(conn, anomaly_id, "false")[1] == pytest.approx(0.991)
    assert give_feedback(conn, anomaly_id, "true")[1] == pytest.approx(0.99)
    precision = conn.execute(
        "SELECT events, true_positives, precision FROM tsmon.detection_precision"
    ).fetchone()
    assert precision == (1, 1, 1.0)
    with pytest.raises(FeedbackError, match="no anomaly with id"):
        give_feedback(conn, 10**9, "true")


def test_cli_apply_list_anomalies_feedback(
    conn: Conn, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TSMON_DATABASE_URL", db_url)
    monkeypatch.setenv("TSMON_HOME", str(tmp_path))
    (tmp_path / "c.yaml").write_text(CONFIG.replace("name: load", "name: load2").replace("mad", "seasonal"))
    runner = CliRunner()
    assert (
        "applied 1 configs: load2" in runner.invoke(cli, ["detect", "apply", str(tmp_path / "c.yaml")]).output
    )
    listed = runner.invoke(cli, ["detect", "list"]).output
    assert "load: demo_load mad @1m threshold 0.9900" in listed and "load2: demo_load seasonal" in listed
    run_all(conn, "w1", NOW)
    out = runner.invoke(cli, ["anomalies"]).output
    assert "closed" in out and 'demo_load{"host": "web1"}' in out
    anomaly_id = out.split()[0]
    assert "false_positive" in runner.invoke(cli, ["feedback", anomaly_id, "false"]).output


def test_drift_is_recorded_and_retrains(conn: Conn) -> None:
    rng = random.Random(5)
    shift_at = NOW - timedelta(hours=7)
    batch = SampleBatch()
    for m in range(36 * 60, 0, -1):
        t = NOW - timedelta(minutes=m)
        batch.append(
            "demo_drift", "{}", datetime_to_us(t), (80.0 if t >= shift_at else 50.0) + rng.gauss(0, 1)
        )
    SampleWriter(conn, SeriesCache(10)).write(batch)
    apply_yaml(
        conn, "configs: [{name: drift, metric: demo_drift, detector: mad, training_window: 1d, shards: 1}]"
    )
    run_all(conn, "w1", shift_at)  # trained on the old level
    for _ in range(3):  # catch up to now, six hours per run
        conn.execute("UPDATE tsmon.detection_shards SET scored_at = NULL")
        run_all(conn, "w1", NOW)
    drift = conn.execute(
        "SELECT d.p_value < 1e-4, d.shift > 10, d.n_eff > 0, d.retrained FROM tsmon.drift_events d "
        "JOIN tsmon.detection_configs c ON c.id = d.config_id WHERE c.name = 'drift'"
    ).fetchall()
    assert drift == [(True, True, True, True)]  # 30 sigma above the level the model was trained on
    reasons = conn.execute(
        "SELECT m.reason FROM tsmon.models m JOIN tsmon.detection_configs c ON c.id = m.config_id "
        "WHERE c.name = 'drift' ORDER BY version"
    ).fetchall()
    assert reasons == [("initial",), ("drift",)]


def test_late_data_rescores_windows_and_updates_events(conn: Conn) -> None:
    run_all(conn, "w1", NOW)
    web2 = conn.execute('SELECT id FROM tsmon.series WHERE labels = \'{"host": "web2"}\'').fetchone()
    assert web2 is not None
    late = NOW - timedelta(minutes=30)
    before = conn.execute(
        "SELECT score, is_anomaly FROM tsmon.anomaly_scores WHERE series_id = %s AND time = %s",
        (web2[0], late),
    ).fetchone()
    assert before is not None and before[1] is False
    # A late sample lands in a window already scored (an outlier the sender had buffered).
    batch = SampleBatch(
        ["demo_load"], ['{"host":"web2"}'], [datetime_to_us(late + timedelta(seconds=30))], [500.0]
    )
    SampleWriter(conn, SeriesCache(10)).write(batch)
    assert conn.execute("SELECT count(*) FROM tsmon.detection_rescore").fetchone() == (1,)
    # Three minutes pass (the windows have been refreshed by then): the range is settled.
    conn.execute("UPDATE tsmon.detection_rescore SET noted_at = noted_at - interval '3 minutes'")
    conn.execute(
        "UPDATE tsmon.detection_shards "
        "SET rescore_mark = rescore_mark - interval '3 minutes', scored_at = NULL"
    )
    run_all(conn, "w1", NOW)
    after = conn.execute(
        "SELECT score, is_anomaly, (SELECT count(*) FROM tsmon.anomaly_scores WHERE series_id = %s) "
        "FROM tsmon.anomaly_scores WHERE series_id = %s AND time = %s",
        (web2[0], web2[0], late),
    ).fetchone()
    assert after is not None and after[1] is True and after[2] == 60  # re-scored, not duplicated
    event = conn.execute(
        "SELECT started_at, status FROM tsmon.anomalies WHERE series_id = %s", (web2[0],)
    ).fetchall()
    assert event == [(late, "closed")]


def test_parallel_workers_split_the_work(conn: Conn, db_url: str) -> None:
    import threading

    counts: dict[str, int] = {}

    def worker(owner: str) -> None:
        with psycopg.connect(db_url, autocommit=True) as c:
            counts[owner] = run_all(c, owner, NOW)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts.values()) == 2 * 60  # every window scored exactly once between them
    assert conn.execute(
        "SELECT count(*), count(DISTINCT (series_id, time)) FROM tsmon.anomaly_scores"
    ).fetchone() == (
        120,
        120,
    )


def test_feedback_changes_the_next_training(conn: Conn) -> None:
    run_all(
        conn, "w1", NOW
    )  # v1 trained on the day before the first scored hour; web1's spike opens an event
    (anomaly_id,) = conn.execute("SELECT id FROM tsmon.anomalies").fetchone() or (None,)
    assert isinstance(anomaly_id, int)
    give_feedback(conn, anomaly_id, "false", "batch job, expected")
    conn.execute("UPDATE tsmon.detection_configs SET retrain_every = interval '1 minute'")
    conn.execute("UPDATE tsmon.detection_shards SET scored_at = NULL")  # as if the schedule came round
    run_all(conn, "w1", NOW + timedelta(minutes=2))  # due for retraining: v2
    rows = conn.execute(
        "SELECT version, (params->>'threshold')::float8, train_points, train_end, "
        "(quality->>'train_anomaly_rate')::float8 FROM tsmon.models m "
        "JOIN tsmon.series s ON s.id = m.series_id WHERE s.labels->>'host' = 'web1' ORDER BY version"
    ).fetchall()
    assert [r[0] for r in rows] == [1, 2]
    (_, t1, _, _, _), (_, t2, points2, end2, _) = rows
    assert t1 == pytest.approx(0.99) and t2 == pytest.approx(0.991)  # the false alarm raised it
    # v2's window covers the spike; its event period (4 windows) stays out of the training data.
    spike_free = conn.execute(
        "SELECT count(*) FROM tsmon.metric_1m WHERE labels->>'host' = 'web1' "
        "AND bucket >= %s - interval '1 day' AND bucket < %s AND NOT bucket BETWEEN %s AND %s",
        (end2, end2, SPIKE, SPIKE + timedelta(minutes=3)),
    ).fetchone()
    assert spike_free is not None and points2 == spike_free[0]
    newest = conn.execute(
        "SELECT DISTINCT model_version FROM tsmon.anomaly_scores a JOIN tsmon.series s ON s.id = a.series_id "
        "WHERE s.labels->>'host' = 'web1' AND time >= %s",
        (NOW,),
    ).fetchall()
    assert newest in ([], [(2,)])  # windows scored after retraining name the new version


def test_unjudged_events_stay_in_the_next_training(conn: Conn) -> None:
    run_all(conn, "w1", NOW)  # web1's spike opens an event nobody judges
    assert conn.execute("SELECT count(*) FROM tsmon.anomalies").fetchone() not in (None, (0,))
    conn.execute("UPDATE tsmon.detection_configs SET retrain_every = interval '1 minute'")
    conn.execute("UPDATE tsmon.detection_shards SET scored_at = NULL")
    run_all(conn, "w1", NOW + timedelta(minutes=2))
    points, end = conn.execute(
        "SELECT train_points, train_end FROM tsmon.models m JOIN tsmon.series s ON s.id = m.series_id "
        "WHERE s.labels->>'host' = 'web1' AND version = 2"
    ).fetchone() or (None, None)
    every = conn.execute(
        "SELECT count(*) FROM tsmon.metric_1m WHERE labels->>'host' = 'web1' "
        "AND bucket >= %s - interval '1 day' AND bucket < %s",
        (end, end),
    ).fetchone()
    assert every is not None and points == every[0]  # the spike's windows included


KILLED_WORKER = """
import sys, time
from datetime import datetime, timedelta
import psycopg
from tsmon.scoring import events
from tsmon.scoring.configs import load_configs
from tsmon.scoring.job import claim_shards, score_shard
from tsmon.worker.jobs import DETECTION_LEASE

def stall(*args, **kwargs):  # scores are written, events and watermark not yet: mid-transaction
    print("mid-batch", flush=True)
    time.sleep(60)

events.save = stall
now = datetime.fromisoformat(sys.argv[2])
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    configs = {c.id: c for c in load_configs(conn)}
    for config_id, shard in claim_shards(conn, "doomed", timedelta(seconds=1), 100, now):
        score_shard(conn, configs[config_id], shard, "doomed", now)
"""


def test_worker_killed_mid_batch_then_another_takes_over(conn: Conn, db_url: str) -> None:
    """A real worker process SIGKILLed inside its transaction: nothing of it stays, its lease runs
    out, and another worker's run gives the rows an uninterrupted run gives."""
    import signal
    import subprocess
    import sys
    import time

    run_all(conn, "w1", NOW)
    reference = snapshot(conn)
    conn.execute("TRUNCATE tsmon.anomaly_scores, tsmon.anomalies, tsmon.models CASCADE")
    conn.execute("UPDATE tsmon.detection_shards SET watermark = NULL, scored_at = NULL, lease_until = NULL")
    worker = subprocess.Popen(
        [sys.executable, "-c", KILLED_WORKER, db_url, NOW.isoformat()], stdout=subprocess.PIPE, text=True
    )
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "mid-batch"
        open_tx = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' "
            "AND datname = current_database()"
        ).fetchone()
        assert open_tx == (1,)  # the worker-to-be-killed is inside its transaction, scores written
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    others = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    for _ in range(100):  # the server notices the closed connection and rolls its transaction back
        if conn.execute(others).fetchone() == (0,):
            break
        time.sleep(0.1)
    assert conn.execute("SELECT count(*) FROM tsmon.anomaly_scores").fetchone() == (0,)
    time.sleep(1.1)  # its one-second lease runs out
    run_all(conn, "w2", NOW)
    assert snapshot(conn) == reference
