"""The model registry: a changed config retrains at once, daily retraining at each series' slot."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.scoring.test_job import CONFIG, NOW, Conn, run_all
from tests.scoring.test_job import conn as scored_conn  # noqa: F401 - fixture
from tsmon.scoring.configs import apply_yaml, load_configs
from tsmon.scoring.job import GRACE, claim_shards, score_shard
from tsmon.scoring.policy import retrain_offset
from tsmon.windows.definitions import floor_time

MISLABELLED = (
    "SELECT count(*) FROM tsmon.anomaly_scores s JOIN tsmon.models m ON m.config_id = s.config_id "
    "AND m.series_id = s.series_id AND m.version = s.model_version WHERE s.detector <> m.detector"
)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
MODELS = "SELECT version, detector, reason FROM tsmon.models WHERE series_id = %s ORDER BY version"


def web1(conn: Conn) -> int:
    row = conn.execute("SELECT id FROM tsmon.series WHERE labels ->> 'host' = 'web1'").fetchone()
    assert row is not None
    return int(str(row[0]))


def test_changing_the_detector_retrains_at_once(scored_conn: Conn) -> None:  # noqa: F811
    conn = scored_conn
    run_all(conn, "w1", NOW)  # mad models, trained today: not due for a day
    apply_yaml(conn, CONFIG.replace("detector: mad", "detector: seasonal"))
    later = NOW + timedelta(minutes=3)
    assert run_all(conn, "w1", later) == 2  # the one new window with data (NOW - 1 min) of web1, web2
    models = conn.execute(MODELS, (web1(conn),)).fetchall()
    assert models == [(1, "mad", "initial"), (2, "seasonal", "config")]
    assert conn.execute(MISLABELLED).fetchone() == (0,)  # every row names the detector that scored it
    newest = conn.execute(
        "SELECT DISTINCT detector, model_version FROM tsmon.anomaly_scores WHERE time >= %s", (NOW - MINUTE,)
    ).fetchall()
    assert newest == [("seasonal", 2)]
    # Events name their model's detector too.
    events = conn.execute(
        "SELECT count(*) FROM tsmon.anomalies a JOIN tsmon.models m ON m.config_id = a.config_id "
        "AND m.series_id = a.series_id AND m.version = a.model_version WHERE a.detector <> m.detector"
    ).fetchone()
    assert events == (0,)


def test_changing_params_retrains_and_feedback_does_not(scored_conn: Conn) -> None:  # noqa: F811
    conn = scored_conn
    apply_yaml(conn, CONFIG.replace("detector: mad", "detector: seasonal"))
    run_all(conn, "w1", NOW)
    conn.execute("UPDATE tsmon.detection_configs SET threshold_raise = 0.001")  # what feedback moves
    run_all(conn, "w1", NOW + timedelta(minutes=2))
    assert len(conn.execute(MODELS, (web1(conn),)).fetchall()) == 1  # a threshold is not a refit
    apply_yaml(conn, CONFIG.replace("detector: mad", "detector: seasonal\n    params: {trend: false}"))
    run_all(conn, "w1", NOW + timedelta(minutes=4))
    assert conn.execute(MODELS, (web1(conn),)).fetchall() == [
        (1, "seasonal", "initial"),
        (2, "seasonal", "config"),
    ]


def test_a_shard_scored_with_a_config_loaded_before_the_change_uses_the_new_one(
    scored_conn: Conn,  # noqa: F811
) -> None:
    conn = scored_conn
    run_all(conn, "w1", NOW)
    stale = {c.id: c for c in load_configs(conn)}  # a worker's run loads the configs once
    apply_yaml(conn, CONFIG.replace("detector: mad", "detector: seasonal"))
    later = NOW + timedelta(minutes=2)
    for config_id, shard in claim_shards(conn, "w1", timedelta(minutes=2), 100, later):
        score_shard(conn, stale[config_id], shard, "w1", later)
    newest = "SELECT DISTINCT detector FROM tsmon.anomaly_scores WHERE time >= %s"
    assert conn.execute(newest, (NOW - MINUTE,)).fetchall() == [("seasonal",)]
    assert conn.execute(MISLABELLED).fetchone() == (0,)


def test_daily_retraining_comes_at_each_series_slot(scored_conn: Conn) -> None:  # noqa: F811
    """Two series trained together are retrained a day later at their own slots, a minute apart."""
    conn = scored_conn
    web2 = web1(conn) + 1  # the fixture's hosts in order: web2 follows web1, in the other shard
    host = conn.execute("SELECT labels ->> 'host' FROM tsmon.series WHERE id = %s", (web2,)).fetchone()
    assert host == ("web2",)
    day = timedelta(days=1)
    offset = retrain_offset(web1(conn), 2, day)
    assert retrain_offset(web2, 2, day) == offset + MINUTE  # consecutive ids: consecutive slots
    slot = floor_time(NOW - 12 * HOUR - offset, day) + day + offset  # web1's slot, 12 to 36 hours ahead
    trained = slot - 13 * HOUR  # a first run 13 hours before it (the fixture holds 36 hours)
    run_all(conn, "w1", trained + 61 * MINUTE)  # the first run's windows start at `trained`
    assert conn.execute("SELECT DISTINCT train_end FROM tsmon.models").fetchall() == [(trained,)]

    def schedule_at(start: datetime) -> list[int]:
        conn.execute("UPDATE tsmon.detection_shards SET watermark = %s, scored_at = NULL", (start,))
        run_all(conn, "w1", start + MINUTE + GRACE)
        rows = conn.execute(
            "SELECT series_id FROM tsmon.models WHERE reason = 'schedule' AND train_end = %s", (start,)
        )
        return [int(str(r[0])) for r in rows.fetchall()]

    assert schedule_at(slot - MINUTE) == []
    assert schedule_at(slot) == [web1(conn)]
    assert schedule_at(slot + MINUTE) == [web2]
    assert schedule_at(slot + 2 * MINUTE) == []
