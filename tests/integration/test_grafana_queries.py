"""Every Grafana query (panels, variables, annotations, alert rules), expanded as Grafana does and run as
tsmon_reader on a seeded database: result shapes Grafana can use, seeded anomalies shown, alerts firing
exactly where they must."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest

from tests.conftest import DatabaseServer, create_database, drop_database
from tests.integration.grafana_seed import Seeded, seed
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
    cur = conn.execute(expand(q.sql, ctx))  # type: ignore[arg-type]
    assert cur.description is not None, q.key
    return [c.name for c in cur.description], cur.fetchall()


DASHBOARD_QUERIES = [q for d in DASHBOARDS.values() for q in dashboard_queries(d)]


@pytest.mark.parametrize("q", DASHBOARD_QUERIES, ids=lambda q: f"{q.source}:{q.key}")
def test_dashboard_query_shape_and_data(
    q: GrafanaQuery, reader: Conn, seeded_db: tuple[str, str, Seeded]
) -> None:
    """Default range: Grafana-usable shape and data on the seeded database."""
    s = seeded_db[2]
    columns, rows = run(reader, q, context(s, default_span(q.source)))
    assert shape_problems(q, columns, rows) == [], (q.title, columns, rows[:3])
    assert rows, f"{q.source} {q.key} ({q.title}) shows nothing on the seeded database"


@pytest.mark.parametrize("span", [timedelta(hours=1), timedelta(days=30)], ids=["1h-raw", "30d-1h-windows"])
def test_every_dashboard_query_other_ranges(
    span: timedelta, reader: Conn, seeded_db: tuple[str, str, Seeded]
) -> None:
    """Short ranges read raw samples, long ones 1h windows: the shapes hold at every resolution."""
    s = seeded_db[2]
    for q in DASHBOARD_QUERIES:
        columns, rows = run(reader, q, context(s, span))
        assert shape_problems(q, columns, rows) == [], (q.source, q.key, q.title, columns, rows[:3])
