"""Run an analysis by name from its parameters (CLI options or an API body) in a read-only transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from psycopg import sql

from tsmon.analysis import compare, correlate, describe, explain, groups
from tsmon.db import Conn
from tsmon.windows.retention import RetentionSettings

Analysis = Callable[[Conn, Mapping[str, object], RetentionSettings, datetime], dict[str, Any]]


def _compare(
    conn: Conn, params: Mapping[str, object], retention: RetentionSettings, now: datetime
) -> dict[str, Any]:
    return compare.compare(conn, compare.compare_request(params, now), retention, now)


ANALYSES: dict[str, Analysis] = {
    "compare": _compare,
    "describe": describe.describe,
    "groups": groups.groups,
    "correlate": correlate.correlate,
    "explain": explain.explain,
}


def run(
    conn: Conn,
    name: str,
    params: Mapping[str, object],
    retention: RetentionSettings,
    *,
    role: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The analysis' JSON result. Read-only: one READ ONLY transaction, as ``role`` when given
    (the API drops to tsmon_reader, so an analysis can read what Grafana reads and write nothing)."""
    analysis = ANALYSES[name]
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        if role:
            conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
        return analysis(conn, params, retention, now or datetime.now(UTC))
