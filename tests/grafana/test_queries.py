"""Every Grafana query (panels, variables, annotations, alert rules), expanded as Grafana does and run as
tsmon_reader on a seeded database: result shapes Grafana can use, seeded anomalies shown, alerts firing
exactly where they must."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from tests.conftest import DatabaseServer, create_database, drop_database
from tests.grafana.seed import Seeded, seed
from tsmon.grafana import alerting
from tsmon.grafana.build import dashboard_json
from tsmon.grafana.catalog import GrafanaQuery, alert_queries, dashboard_queries, shape_problems
from tsmon.grafana.macros import QueryContext, expand, panel_interval

Conn = psycopg.Connection[tuple[object, ...]]
DASHBOARDS = dashboard_json()
PROVISIONING = alerting.provisioning()
RULES = {r.uid: r for r in alerting.rules()}


@pytest.fixture(scope="module")
def seeded_db(test_server: DatabaseServer, template_db: str) -> Iterator[tuple[str, str, Seeded]]:
    """(owner url, tsmon_reader login url, what was seeded), shared by this module's tests."""
    name = create_database(test_server, template_db)
    owner = test_server.url_for(name)
    role, password = f"grafana_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with psycopg.connect(owner, autocommit=True) as conn:
        seeded = seed(conn)
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}' IN ROLE tsmon_reader")
    yield owner, test_server.url_for(name, user=role, password=password), seeded
    drop_database(test_server, name)
    with psycopg.connect(test_server.admin_url, autocommit=True) as admin:
        admin.execute(f"DROP ROLE {role}")


@pytest.fixture(scope="module")
def reader(seeded_db: tuple[str, str, Seeded]) -> Iterator[Conn]:
    with psycopg.connect(seeded_db[1], autocommit=True) as conn:
        yield conn


def variables(s: Seeded) -> dict[str, Any]:
    """What a user picks: label values with quotes, one series as a repeated row gets it."""
    return {
        "metric": "demo_load",
        "label": "host",
        "label_value": ["web1", "o'brien"],
        "series": [str(s.series["web1"])],
        "instance": ["web1", "o'neil"],
        "event": str(s.event),
        "shift": "1 day",
    }


def context(s: Seeded, span: timedelta, **overrides: Any) -> QueryContext:
    return QueryContext(
        start=s.now - span,
        end=s.now,
        interval=panel_interval(span),
        variables={**variables(s), **overrides},
    )


def default_span(uid: str) -> timedelta:
    m = re.fullmatch(r"now-(\d+)([hd])", DASHBOARDS[uid]["time"]["from"])
    assert m, DASHBOARDS[uid]["time"]
    return timedelta(hours=int(m.group(1)) * (24 if m.group(2) == "d" else 1))


def run(conn: Conn, q: GrafanaQuery, ctx: QueryContext) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Columns and rows of the expanded query; fails on a result shape Grafana could not use."""
    cur = conn.execute(expand(q.sql, ctx))  # type: ignore[arg-type]
    assert cur.description is not None, q.key
    columns, rows = [c.name for c in cur.description], cur.fetchall()
    problems = shape_problems(q, columns, rows, [c.type_code for c in cur.description])
    assert problems == [], (q.source, q.key, q.title, problems, columns, rows[:3])
    return columns, rows


DASHBOARD_QUERIES = [q for d in DASHBOARDS.values() for q in dashboard_queries(d)]


@pytest.mark.parametrize("q", DASHBOARD_QUERIES, ids=lambda q: f"{q.source}:{q.key}")
def test_dashboard_query_shape_and_data(
    q: GrafanaQuery, reader: Conn, seeded_db: tuple[str, str, Seeded]
) -> None:
    """Default range: Grafana-usable shape and data on the seeded database."""
    s = seeded_db[2]
    _, rows = run(reader, q, context(s, default_span(q.source)))
    assert rows, f"{q.source} {q.key} ({q.title}) shows nothing on the seeded database"


@pytest.mark.parametrize("span", [timedelta(hours=1), timedelta(days=30)], ids=["1h-raw", "30d-1h-windows"])
def test_every_dashboard_query_other_ranges(
    span: timedelta, reader: Conn, seeded_db: tuple[str, str, Seeded]
) -> None:
    """Short ranges read raw samples, long ones 1h windows: the shapes hold at every resolution."""
    s = seeded_db[2]
    for q in DASHBOARD_QUERIES:
        run(reader, q, context(s, span))  # asserts the shape


def evaluate(reader: Conn, s: Seeded) -> dict[str, list[dict[str, str]]]:
    """uid -> firing label sets, each rule's query expanded over its relative time range."""
    out = {}
    for q in alert_queries(PROVISIONING):
        ctx = QueryContext(
            start=s.now - timedelta(seconds=q.range_seconds), end=s.now, interval=timedelta(minutes=1)
        )
        columns, rows = run(reader, q, ctx)
        out[q.key] = alerting.firing(RULES[q.key], columns, rows)
        assert len(out[q.key]) == len(rows), f"{q.key}: rows that do not fire"  # must-not-fire: no rows
    return out


def test_alerts_fire_exactly_where_seeded(reader: Conn, seeded_db: tuple[str, str, Seeded]) -> None:
    fired = evaluate(reader, seeded_db[2])
    assert set(fired) == set(RULES)
    critical = fired["tsmon-anomaly-critical"]
    # web1's open critical event fires; db1's critical event is closed.
    assert [(f["metric"], f["series"], f["severity"], f["config"]) for f in critical] == [
        ("demo_load", '{host="web1"}', "critical", "load-critical")
    ]
    assert critical[0]["host"] == "web1" and critical[0]["series_id"] == str(seeded_db[2].series["web1"])
    assert critical[0]["alert_labels"] == '{team="web"}'  # the config's alert_labels, for routing
    # db1's warning (30 min, min_duration 5m) fires; o'brien's (1 min old) is younger than its min_duration.
    assert [f["series"] for f in fired["tsmon-anomaly-warning"]] == ['{host="db1"}']
    assert fired["tsmon-ingest-stale"] == []  # samples up to now
    assert [f["config"] for f in fired["tsmon-worker-lag"]] == [
        "load-slow"
    ]  # 2 h behind; load-critical 1 min
    assert fired["tsmon-watchdog"] == [{"severity": "none"}]
    assert fired["tsmon-windows-behind"] == []  # refreshed up to now
    assert fired["tsmon-timescaledb-jobs-failing"] == []  # the job's last run succeeded


def test_windows_behind_and_failing_jobs_fire(seeded_db: tuple[str, str, Seeded]) -> None:
    owner, _, s = seeded_db
    with psycopg.connect(owner, autocommit=True) as conn, conn.transaction(force_rollback=True):
        conn.execute(
            "INSERT INTO tsmon.samples (time, series_id, value) SELECT now(), id, 1 "
            "FROM tsmon.series WHERE metric = 'tsmon_timescaledb_job_failing'"
        )
        engine = conn.execute("SELECT engine FROM tsmon.windows_engine").fetchone()
        if engine == ("tsmon",):  # a worker that stopped refreshing an hour ago
            conn.execute("UPDATE tsmon.window_watermarks SET watermark = watermark - interval '1 hour'")
        conn.execute("SET LOCAL ROLE tsmon_reader")
        fired = evaluate(conn, s)
    jobs = fired["tsmon-timescaledb-jobs-failing"]
    failing = [(f["proc"], f["relation"]) for f in jobs]
    assert failing == [("policy_refresh_continuous_aggregate", "samples_1m")]
    if engine == ("tsmon",):
        assert [f["resolution"] for f in fired["tsmon-windows-behind"]] == ["1m"]


def test_stale_ingest_fires_when_samples_stop(seeded_db: tuple[str, str, Seeded]) -> None:
    owner, _, s = seeded_db
    with psycopg.connect(owner, autocommit=True) as conn, conn.transaction(force_rollback=True):
        conn.execute("DELETE FROM tsmon.samples WHERE time > now() - interval '20 minutes'")
        conn.execute("SET LOCAL ROLE tsmon_reader")  # Grafana's privileges, in the transaction that deleted
        fired = evaluate(conn, s)
    assert len(fired["tsmon-ingest-stale"]) == 1 and fired["tsmon-ingest-stale"][0]["severity"] == "critical"
    assert [f["series"] for f in fired["tsmon-anomaly-critical"]] == ['{host="web1"}']  # the rest unchanged


def panel_query(uid: str, title: str) -> GrafanaQuery:
    return next(q for q in dashboard_queries(DASHBOARDS[uid]) if q.title == title)


def test_band_score_and_annotations_show_the_seeded_anomaly(
    reader: Conn, seeded_db: tuple[str, str, Seeded]
) -> None:
    s = seeded_db[2]
    ctx = context(s, timedelta(hours=24))
    columns, rows = run(reader, panel_query("tsmon-explorer", "Value vs expected"), ctx)
    assert columns == ["time", "value", "expected", "lower", "upper"]
    banded = [r for r in rows if r[2] is not None]
    assert len(banded) >= 350 and all(r[3] <= r[2] <= r[4] for r in banded)  # 6 h of 1m scores
    # fillBelowTo and every byName override name a field the query returns.
    panel = next(p for p in DASHBOARDS["tsmon-explorer"]["panels"] if p.get("title") == "Value vs expected")
    for o in panel["fieldConfig"]["overrides"]:
        assert o["matcher"]["options"] in columns
        for prop in o["properties"]:
            if prop["id"] == "custom.fillBelowTo":
                assert prop["value"] in columns
    columns, rows = run(reader, panel_query("tsmon-explorer", "Anomaly score"), ctx)
    assert columns == ["time", "score", "threshold"]
    assert max(r[1] for r in rows if r[1] is not None) == pytest.approx(0.9999)
    assert {round(r[2], 6) for r in rows if r[2] is not None} == {0.99}  # the config's sensitivity
    notes = next(q for q in dashboard_queries(DASHBOARDS["tsmon-explorer"]) if q.kind == "annotation")
    columns, rows = run(reader, notes, ctx)
    texts = [r[columns.index("text")] for r in rows]
    assert len(rows) == 2 and any("critical anomaly on demo_load" in t for t in texts), texts
    assert {r[columns.index("tags")] for r in rows} == {"critical,demo_load", "info,demo_load"}


def test_series_variable_filters_by_quoted_label_values(
    reader: Conn, seeded_db: tuple[str, str, Seeded]
) -> None:
    s = seeded_db[2]
    series = next(q for q in dashboard_queries(DASHBOARDS["tsmon-explorer"]) if q.key == "var:series")
    _, rows = run(reader, series, context(s, timedelta(hours=6)))
    assert [r[0] for r in rows] == ['{host="o\'brien"}', '{host="web1"}']
    _, rows = run(reader, series, context(s, timedelta(hours=6), label_value=["(any)"]))
    assert len(rows) == 3
    label_values = next(
        q for q in dashboard_queries(DASHBOARDS["tsmon-explorer"]) if q.key == "var:label_value"
    )
    _, rows = run(reader, label_values, context(s, timedelta(hours=6)))
    assert [r[0] for r in rows] == ["(any)", "db1", "o'brien", "web1"]


def test_anomaly_table_timeline_and_heatmap(reader: Conn, seeded_db: tuple[str, str, Seeded]) -> None:
    s = seeded_db[2]
    ctx = context(s, timedelta(hours=24))
    columns, rows = run(reader, panel_query("tsmon-anomalies", "Open and recent anomalies"), ctx)
    assert len(rows) == 5 and rows[0][columns.index("status")] == "open"
    assert {r[columns.index("feedback")] for r in rows} == {"", "true_positive"}
    columns, rows = run(reader, panel_query("tsmon-anomalies", "Anomaly state per series"), ctx)
    states = {(r[1], r[2]) for r in rows}
    assert ('demo_load {host="web1"}', 3) in states and ('demo_load {host="db1"}', 2) in states
    _, rows = run(reader, panel_query("tsmon-anomalies", "Anomaly rate per series"), ctx)
    assert all(0 <= r[2] <= 1 for r in rows) and max(r[2] for r in rows) == pytest.approx(1)


def test_reader_cannot_read_raw_tables_or_write(reader: Conn) -> None:
    denied = [
        "SELECT * FROM tsmon.samples LIMIT 1",
        "SELECT * FROM tsmon.series LIMIT 1",
        "SELECT * FROM tsmon.anomaly_scores LIMIT 1",
        "SELECT * FROM tsmon.anomalies LIMIT 1",
        "SELECT * FROM tsmon.detection_configs LIMIT 1",
        "SELECT * FROM tsmon.detection_shards LIMIT 1",
        "SELECT * FROM tsmon.models LIMIT 1",
        "SELECT * FROM tsmon.samples_1m LIMIT 1",
        "INSERT INTO tsmon.anomalies (series_id) VALUES (1)",
        "UPDATE tsmon.detection_configs SET sensitivity = 0.5",
        "DELETE FROM tsmon.samples",
        "CREATE TABLE tsmon.grafana_scratch (x int)",
        "SELECT tsmon.resolve_series(ARRAY['m'], ARRAY['{}'], 10, 10)",
        "SELECT tsmon.upsert_samples(ARRAY[now()], ARRAY[1::bigint], ARRAY[1.0::float8])",
    ]
    for stmt in denied:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute(stmt)
    grants = reader.execute(
        "SELECT DISTINCT privilege_type FROM information_schema.role_table_grants "
        "WHERE grantee = 'tsmon_reader'"
    ).fetchall()
    assert grants == [("SELECT",)]
    writable = reader.execute(
        "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'tsmon' AND has_function_privilege('tsmon_reader', p.oid, 'EXECUTE') "
        "AND p.provolatile = 'v'"
    ).fetchall()
    assert writable == [], f"tsmon_reader may call volatile functions: {writable}"


@pytest.mark.parametrize(
    ("span", "resolution"),
    [
        (timedelta(hours=1), "raw"),
        (timedelta(hours=24), "1m"),
        (timedelta(days=30), "1h"),
        (timedelta(days=400), "1d"),
    ],
)
def test_panels_never_read_raw_samples_for_long_ranges(
    span: timedelta, resolution: str, reader: Conn, seeded_db: tuple[str, str, Seeded]
) -> None:
    s = seeded_db[2]
    sql = (
        "SELECT DISTINCT resolution FROM tsmon.series_windows(ARRAY(SELECT series_id "
        "FROM tsmon.metric_series WHERE metric = 'node_load1'), $__timeFrom(), $__timeTo(), 100)"
    )
    q = GrafanaQuery("test", "resolution", "", "panel", "table", "table", sql)
    _, rows = run(reader, q, context(s, span))
    assert rows == [(resolution,)]


def test_what_changed_with_the_event_and_the_compare_table(
    reader: Conn, seeded_db: tuple[str, str, Seeded]
) -> None:
    s = seeded_db[2]
    ctx = context(s, timedelta(hours=24))
    columns, rows = run(reader, panel_query("tsmon-anomalies", "What changed with this event"), ctx)
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1)) and len(rows) == 10
    flagged = [(r[1], r[columns.index("co_anomaly")]) for r in rows if r[columns.index("co_anomaly")]]
    assert all(metric == "demo_load" for metric, _ in flagged)  # only demo_load series have events
    assert [c for _, c in flagged].count("candidate cause") <= 1
    choices = next(q for q in dashboard_queries(DASHBOARDS["tsmon-anomalies"]) if q.key == "var:event")
    _, events = run(reader, choices, ctx)
    assert s.event in [e[1] for e in events]
    columns, rows = run(
        reader,
        panel_query("tsmon-compare", "Per series: range A against B (the same range shifted back)"),
        context(s, timedelta(hours=6)),
    )
    web1 = next(r for r in rows if r[columns.index("series_id")] == s.series["web1"])
    assert web1[columns.index("mean_b")] == pytest.approx(30)
    assert web1[columns.index("delta")] == pytest.approx(web1[columns.index("mean_a")] - 30)
