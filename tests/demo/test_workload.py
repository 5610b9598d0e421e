"""The demo workload on a real database: each injected anomaly becomes an event, the controls stay quiet."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import psycopg

from tsmon.demo import DEMO_CONFIGS, backfill, demo_series, feed
from tsmon.demo.workload import HISTORY, KINDS
from tsmon.scoring.configs import apply_yaml, load_configs
from tsmon.scoring.job import claim_shards, score_shard

Conn = psycopg.Connection[tuple[object, ...]]
# Yesterday at a fixed time of day: inside raw retention whenever the suite runs, and seconds past the
# minute so that backfill's flooring and the scoring job's grace both come into play.
NOW = datetime.now(UTC).replace(hour=10, minute=17, second=20, microsecond=0) - timedelta(days=1)
SERIES = demo_series()
ANOMALOUS = [s for s in SERIES if s.kind != "control"]
CONTROLS = [s for s in SERIES if s.kind == "control"]


def run_all(conn: Conn, now: datetime) -> int:
    configs = {c.id: c for c in load_configs(conn)}
    windows = 0
    for config_id, shard in claim_shards(conn, "demo-test", timedelta(minutes=2), 100, now):
        windows += score_shard(conn, configs[config_id], shard, "demo-test", now).windows
    return windows


def start_demo(conn: Conn) -> None:
    rows = backfill(conn, NOW)
    assert rows == (len(SERIES) + 1) * HISTORY / timedelta(minutes=1)  # + the workload's start time
    apply_yaml(conn, DEMO_CONFIGS.read_text())
    assert run_all(conn, NOW) == len(SERIES) * 60  # the first run scores the last hour


def events_by_series(conn: Conn) -> dict[tuple[str, str], list[tuple[datetime, datetime | None]]]:
    rows = conn.execute(
        "SELECT metric, labels->>'scenario', started_at, ended_at FROM tsmon.metric_anomalies"
    ).fetchall()
    out: dict[tuple[str, str], list[tuple[datetime, datetime | None]]] = {}
    for metric, scenario, started, ended in rows:
        assert isinstance(started, datetime) and (ended is None or isinstance(ended, datetime))
        out.setdefault((str(metric), str(scenario)), []).append((started, ended))
    return out


def test_every_injected_anomaly_becomes_an_event_and_controls_stay_quiet(conn: Conn) -> None:
    assert sorted(s.kind for s in ANOMALOUS) == sorted(KINDS) and len(CONTROLS) == len(ANOMALOUS)
    start_demo(conn)
    events = events_by_series(conn)
    for s in ANOMALOUS:
        window = s.window(NOW)
        assert window is not None
        found = events.get((s.metric, s.kind), [])
        overlapping = [e for e in found if e[0] < window[1] and (e[1] is None or e[1] > window[0])]
        # Found, and nothing outside the window (the onset of a slow anomaly may flicker into two events).
        assert found and overlapping == found, f"{s.kind} on {s.metric}, expected in {window}: {found}"
    for s in CONTROLS:
        assert (s.metric, "control") not in events, f"false alarm on the control of {s.metric}"
    models = conn.execute("SELECT count(*), min(train_points) FROM tsmon.models").fetchone()
    # Trained on the backfill before the scored hour: more than the two days daily cycles need.
    assert models is not None and models[0] == len(SERIES) and int(str(models[1])) > 2 * 1440


def test_feed_appends_live_samples_and_the_next_run_scores_them_once(conn: Conn) -> None:
    start_demo(conn)
    later = NOW + timedelta(minutes=5)
    assert feed(conn, later) == (len(SERIES) + 1) * 5  # the minutes after the backfill's last one
    assert feed(conn, later) == 0  # nothing new yet: nothing written twice
    live = conn.execute(
        "SELECT metric, labels, count(*), min(time), max(time), bool_and(value = value) "
        "FROM tsmon.metric_samples WHERE metric LIKE 'demo\\_%%' AND time > %s GROUP BY 1, 2",
        (NOW.replace(second=0),),
    ).fetchall()
    minute = NOW.replace(second=0)
    assert len(live) == len(SERIES) + 1
    assert {r[2:] for r in live} == {(5, minute + timedelta(minutes=1), minute + timedelta(minutes=5), True)}
    # A minute passes for the scheduler (claim_shards runs a config at most once per schedule).
    conn.execute("UPDATE tsmon.detection_shards SET scored_at = scored_at - interval '1 minute'")
    assert run_all(conn, later) == len(SERIES) * 5
    scores = conn.execute(
        "SELECT series_id, count(*), count(DISTINCT time), min(time), max(time) "
        "FROM tsmon.anomaly_scores GROUP BY 1"
    ).fetchall()
    assert len(scores) == len(SERIES)
    for _, n, distinct, first, last in scores:
        assert isinstance(first, datetime) and isinstance(last, datetime)
        assert n == distinct == 65 == (last - first) / timedelta(minutes=1) + 1  # no gap, no duplicate
    events = events_by_series(conn)
    assert not [s.metric for s in CONTROLS if (s.metric, "control") in events]


def test_feed_without_backfill_starts_the_workload(conn: Conn) -> None:
    assert feed(conn, NOW) == len(SERIES) + 1
    values = conn.execute("SELECT value FROM tsmon.metric_samples WHERE metric LIKE 'demo\\_%%'").fetchall()
    assert len(values) == len(SERIES) + 1 and all(math.isfinite(float(str(v[0]))) for v in values)
