"""Dashboard template variables and SQL annotations (queries with the same datasource and format rules)."""

from __future__ import annotations

from tsmon.grafana.panels import DATASOURCE, Json, Query


def query_variable(
    name: str,
    label: str,
    sql: str,
    *,
    multi: bool = False,
    include_all: bool = False,
    refresh_on_time: bool = False,
) -> Json:
    """A query variable; the SQL may return __text/__value columns."""
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": sql,
        "definition": sql,
        "refresh": 2 if refresh_on_time else 1,  # 2: on time range change (the query uses time macros)
        "multi": multi,
        "includeAll": include_all,
        "sort": 0,
        "current": {},
        "hide": 0,
    }


def annotation(name: str, sql: str, *, color: str = "red") -> Json:
    """A SQL annotation (format table: time, timeend, text, tags) on every panel of the dashboard."""
    return {
        "name": name,
        "datasource": DATASOURCE,
        "enable": True,
        "iconColor": color,
        "target": Query(sql, "table").target(),
    }
