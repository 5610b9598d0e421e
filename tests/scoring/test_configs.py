"""Applying detection configs against the database: PostgreSQL's regex rules, deletion, feedback notes."""

from __future__ import annotations

import pytest

from tests.scoring.test_job import NOW, Conn, run_all
from tests.scoring.test_job import conn as scored_conn  # noqa: F401 - fixture
from tsmon.scoring.configs import DetectionConfigError, apply_yaml, load_configs
from tsmon.scoring.feedback import MAX_NOTE_CHARS, FeedbackError, give_feedback


def test_a_regex_python_accepts_and_postgresql_does_not_is_refused_at_apply(conn: Conn) -> None:
    text = 'configs: [{name: x, metric: m, matchers: [{label: host, op: "=~", value: "(?P<h>web)"}]}]'
    with pytest.raises(DetectionConfigError, match=r"configs\[0\] \(x\)\.matchers\[0\]\.value: PostgreSQL"):
        apply_yaml(conn, text)
    assert [c.name for c in load_configs(conn)] == []  # nothing of the file was written


def test_two_configs_with_one_name_are_refused(conn: Conn) -> None:
    with pytest.raises(DetectionConfigError, match="share a name"):
        apply_yaml(conn, "configs: [{name: x, metric: m}, {name: x, metric: n}]")


def test_deleting_a_config_deletes_its_events_and_scores(scored_conn: Conn) -> None:  # noqa: F811
    run_all(scored_conn, "w1", NOW)
    counts = "SELECT (SELECT count(*) FROM tsmon.anomalies), (SELECT count(*) FROM tsmon.anomaly_scores)"
    events, scores = scored_conn.execute(counts).fetchone() or (0, 0)
    assert events > 0 and scores > 0
    scored_conn.execute("DELETE FROM tsmon.detection_configs WHERE name = 'load'")
    assert scored_conn.execute(counts).fetchone() == (0, 0)
    views = (
        "SELECT (SELECT count(*) FROM tsmon.metric_anomalies), "
        "(SELECT count(*) FROM tsmon.metric_anomaly_scores)"
    )
    assert scored_conn.execute(views).fetchone() == (0, 0)


def test_feedback_notes_have_a_limit(scored_conn: Conn) -> None:  # noqa: F811
    run_all(scored_conn, "w1", NOW)
    row = scored_conn.execute("SELECT min(id) FROM tsmon.anomalies").fetchone()
    assert row is not None and row[0] is not None
    with pytest.raises(FeedbackError, match=f"at most {MAX_NOTE_CHARS}"):
        give_feedback(scored_conn, row[0], "false", "x" * (MAX_NOTE_CHARS + 1))
    assert give_feedback(scored_conn, row[0], "false", "x" * MAX_NOTE_CHARS)[0] == "false_positive"
