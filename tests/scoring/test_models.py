"""The model registry: a changed detector or params retrains at once; rows name their model's detector."""

from __future__ import annotations

from datetime import timedelta

from tests.scoring.test_job import CONFIG, NOW, Conn, run_all
from tests.scoring.test_job import conn as scored_conn  # noqa: F401 - fixture
from tsmon.scoring.configs import apply_yaml, load_configs
from tsmon.scoring.job import claim_shards, score_shard

MISLABELLED = (
    "SELECT count(*) FROM tsmon.anomaly_scores s JOIN tsmon.models m ON m.config_id = s.config_id "
    "AND m.series_id = s.series_id AND m.version = s.model_version WHERE s.detector <> m.detector"
)
MINUTE = timedelta(minutes=1)
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
