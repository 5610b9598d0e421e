"""Typed helpers that build Grafana panel, target, variable and annotation dicts (classic dashboard JSON)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

# The provisioned datasource (grafana/provisioning/datasources/tsmon.yaml): dashboards and alert
# rules reference it by this fixed uid, never through __inputs placeholders.
DATASOURCE_UID = "tsmon-timescaledb"
DATASOURCE: dict[str, str] = {"type": "grafana-postgresql-datasource", "uid": DATASOURCE_UID}

Format = Literal["time_series", "table"]
Json = dict[str, Any]


@dataclass(frozen=True)
class Query:
    """One SQL query of a panel; ``format`` is always explicit (backend and frontend defaults differ)."""

    sql: str
    format: Format = "time_series"
    ref_id: str = "A"

    def target(self) -> Json:
        return {
            "datasource": DATASOURCE,
            "editorMode": "code",
            "format": self.format,
            "rawQuery": True,
            "rawSql": self.sql,
            "refId": self.ref_id,
        }


@dataclass
class Panel:
    """A panel before layout: its size, and the JSON fields besides id and gridPos."""

    body: Json
    w: int = 12
    h: int = 8
    queries: list[Query] = field(default_factory=list)


def _panel(
    kind: str, title: str, queries: list[Query], *, w: int, h: int, description: str, extra: Json
) -> Panel:
    body: Json = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": [q.target() for q in queries],
        **extra,
    }
    return Panel(body, w, h, queries)


def field_override(name: str, **properties: Any) -> Json:
    """An override matching one field by name (the name must be one the query produces)."""
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": key, "value": value} for key, value in sorted(properties.items())],
    }


def timeseries(
    title: str,
    query: Query,
    *,
    unit: str = "short",
    w: int = 12,
    h: int = 8,
    description: str = "",
    overrides: list[Json] | None = None,
    thresholds: Sequence[tuple[float, str]] | None = None,
    stack: bool = False,
    min_value: float | None = None,
    max_value: float | None = None,
) -> Panel:
    custom: Json = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "spanNulls": False}
    if stack:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    if thresholds:
        custom["thresholdsStyle"] = {"mode": "dashed"}
    defaults: Json = {"unit": unit, "custom": custom, "thresholds": _thresholds(thresholds or [])}
    if min_value is not None:
        defaults["min"] = min_value
    if max_value is not None:
        defaults["max"] = max_value
    return _panel(
        "timeseries",
        title,
        [query],
        w=w,
        h=h,
        description=description,
        extra={
            "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
            "options": {
                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                "tooltip": {"mode": "multi", "sort": "desc"},
            },
        },
    )


def stat(
    title: str,
    query: Query,
    *,
    unit: str = "short",
    w: int = 6,
    h: int = 4,
    description: str = "",
    thresholds: Sequence[tuple[float, str]] | None = None,
) -> Panel:
    return _panel(
        "stat",
        title,
        [query],
        w=w,
        h=h,
        description=description,
        extra={
            "fieldConfig": {
                "defaults": {"unit": unit, "thresholds": _thresholds(thresholds or [])},
                "overrides": [],
            },
            "options": {
                # A table's rows are shown one stat each; a time series is reduced to its last value.
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": query.format == "table"},
                "colorMode": "background",
                "graphMode": "area",
                "textMode": "value_and_name",
            },
        },
    )


def table(
    title: str,
    query: Query,
    *,
    w: int = 24,
    h: int = 10,
    description: str = "",
    overrides: list[Json] | None = None,
) -> Panel:
    return _panel(
        "table",
        title,
        [query],
        w=w,
        h=h,
        description=description,
        extra={
            "fieldConfig": {"defaults": {"custom": {"filterable": True}}, "overrides": overrides or []},
            "options": {"showHeader": True, "cellHeight": "sm"},
        },
    )


def state_timeline(
    title: str, query: Query, *, mappings: list[Json], w: int = 24, h: int = 10, description: str = ""
) -> Panel:
    return _panel(
        "state-timeline",
        title,
        [query],
        w=w,
        h=h,
        description=description,
        extra={
            "fieldConfig": {
                "defaults": {"mappings": mappings, "custom": {"fillOpacity": 80}},
                "overrides": [],
            },
            "options": {"mergeValues": True, "showValue": "never", "rowHeight": 0.9},
        },
    )


def heatmap(
    title: str, query: Query, *, unit: str = "percentunit", w: int = 24, h: int = 10, description: str = ""
) -> Panel:
    # calculate: false -- the query already returns one value per (time, series) cell.
    return _panel(
        "heatmap",
        title,
        [query],
        w=w,
        h=h,
        description=description,
        extra={
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {
                "calculate": False,
                "cellGap": 1,
                "color": {"mode": "scheme", "scheme": "Oranges", "fill": "dark-orange", "steps": 64},
                "yAxis": {"axisPlacement": "left"},
                "rowsFrame": {"layout": "auto"},
                "tooltip": {"mode": "single", "yHistogram": False},
                "legend": {"show": True},
            },
        },
    )


def row(title: str) -> Panel:
    """A full-width row header (no query)."""
    return Panel({"type": "row", "title": title, "collapsed": False, "panels": []}, w=24, h=1)


def _thresholds(steps: Sequence[tuple[float, str]]) -> Json:
    base: list[Json] = [{"color": "green", "value": None}]
    return {"mode": "absolute", "steps": base + [{"color": c, "value": v} for v, c in steps]}


def value_mappings(states: dict[str, tuple[str, str]]) -> list[Json]:
    """Value -> (text, colour) mappings, e.g. for state timelines and severity cells."""
    options = {
        v: {"text": text, "color": color, "index": i} for i, (v, (text, color)) in enumerate(states.items())
    }
    return [{"type": "value", "options": options}]
