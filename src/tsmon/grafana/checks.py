"""Static checks of generated Grafana JSON/YAML: what Grafana would reject or silently mis-render."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from tsmon.errors import TsmonError
from tsmon.grafana.panels import DATASOURCE_UID

UID = re.compile(r"[A-Za-z0-9_-]{1,40}")
PANEL_TYPES = {
    "timeseries",
    "stat",
    "table",
    "heatmap",
    "state-timeline",
    "status-history",
    "row",
    "bargauge",
    "text",
}
ANGULAR = {"graph", "singlestat", "table-old", "grafana-piechart-panel", "grafana-worldmap-panel"}
DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w)$")
VARIABLE_USE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(?!__)(\w+)|\[\[(\w+)\]\]")
SQL_FORMATS = {"sqlstring", "csv"}
NO_DATA = {"NoData", "Alerting", "OK", "KeepLast"}
EXEC_ERR = {"Error", "Alerting", "OK", "KeepLast"}


class GrafanaConfigError(TsmonError):
    """Generated Grafana provisioning that Grafana would refuse or render wrongly."""


def seconds(duration: str) -> float:
    m = DURATION.match(duration)
    if not m:
        raise GrafanaConfigError(f"{duration!r} is not a duration like 30s, 5m or 1h")
    unit = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)]
    return int(m.group(1)) * unit


def _sql_problems(where: str, sql: str, variables: set[str]) -> Iterator[str]:
    if "--" in sql or "/*" in sql:
        yield f"{where}: SQL comments (newer Grafana strips them, older expanded macros inside them)"
    for braced, fmt, bare, old in VARIABLE_USE.findall(sql):
        name = braced or bare or old
        if bare or old:
            yield f"{where}: variable ${name} without an explicit format (use ${{{name}:sqlstring}} or :csv)"
        elif name not in variables:
            yield f"{where}: unknown variable {name}"
        elif fmt not in SQL_FORMATS:
            yield f"{where}: variable {name} with format {fmt or '(none)'}; use sqlstring or csv"


def _target_problems(where: str, target: dict[str, Any], variables: set[str]) -> Iterator[str]:
    if target.get("datasource", {}).get("uid") != DATASOURCE_UID:
        yield f"{where}: datasource is not {DATASOURCE_UID}"
    if target.get("format") not in {"time_series", "table"}:
        yield f"{where}: format must be set to time_series or table"
    if target.get("editorMode") != "code" or target.get("rawQuery") is not True:
        yield f"{where}: editorMode must be code with rawQuery true"
    if not target.get("rawSql", "").strip():
        yield f"{where}: empty rawSql"
    yield from _sql_problems(where, target.get("rawSql", ""), variables)


def _grid_problems(uid: str, panels: list[dict[str, Any]]) -> Iterator[str]:
    taken: dict[tuple[int, int], int] = {}
    for p in panels:
        g, where = p.get("gridPos", {}), f"{uid} panel {p.get('id')}"
        h, w, x, y = (g.get(k, -1) for k in ("h", "w", "x", "y"))
        if not (h > 0 and 1 <= w <= 24 and 0 <= x <= 23 and x + w <= 24 and y >= 0):
            yield f"{where}: gridPos {g} outside the 24-column grid"
            continue
        for cell in ((cx, cy) for cx in range(x, x + w) for cy in range(y, y + h)):
            if cell in taken:
                yield f"{where}: overlaps panel {taken[cell]}"
                break
            taken[cell] = p["id"]


def _template_problems(d: dict[str, Any], variables: set[str]) -> Iterator[str]:
    uid = d.get("uid")
    for v in d.get("templating", {}).get("list", []):
        target = {**v, "format": "table", "editorMode": "code", "rawQuery": True, "rawSql": v["query"]}
        yield from _target_problems(f"{uid} variable {v['name']}", target, variables)
    for a in d.get("annotations", {}).get("list", []):
        if a.get("builtIn"):
            continue
        if not (a.get("name") and a.get("enable") is not None and a.get("iconColor")):
            yield f"{uid} annotation {a.get('name')}: name, enable and iconColor are required"
        target = a.get("target", {})
        if target.get("format") != "table":
            yield f"{uid} annotation {a.get('name')}: annotation queries use format table"
        yield from _target_problems(f"{uid} annotation {a.get('name')}", target, variables)


def _panel_problems(uid: str, p: dict[str, Any], variables: set[str]) -> Iterator[str]:
    where = f"{uid} panel {p.get('id')} ({p.get('title')})"
    if p.get("type") in ANGULAR or p.get("type") not in PANEL_TYPES:
        yield f"{where}: panel type {p.get('type')} (Angular panels are gone in Grafana 12)"
    refs = [t.get("refId") for t in p.get("targets", [])]
    if len(refs) != len(set(refs)) or not all(refs):
        yield f"{where}: refIds must be present and unique"
    sql = " ".join(t.get("rawSql", "") for t in p.get("targets", []))
    for t in p.get("targets", []):
        yield from _target_problems(where, t, variables)
    for o in p.get("fieldConfig", {}).get("overrides", []):
        names = [o["matcher"]["options"]]
        names += [pr["value"] for pr in o["properties"] if pr["id"] == "custom.fillBelowTo"]
        for name in names:
            if not re.search(rf"\b{re.escape(name)}\b", sql):
                yield f"{where}: override names field {name!r}, which the query does not produce"
    if p.get("type") == "row" and p.get("repeat") and p["repeat"] not in variables:
        yield f"{where}: repeats over unknown variable {p['repeat']}"


def dashboard_problems(d: dict[str, Any]) -> Iterator[str]:
    uid = str(d.get("uid", ""))
    if not UID.fullmatch(uid):
        yield f"dashboard uid {uid!r} must be 1-40 of [A-Za-z0-9_-]"
    if not 36 <= int(d.get("schemaVersion", 0)) <= 41:
        yield f"{uid}: schemaVersion {d.get('schemaVersion')} unknown to Grafana 12.2"
    variables = {v["name"] for v in d.get("templating", {}).get("list", [])}
    yield from _template_problems(d, variables)
    panels = d.get("panels", [])
    ids = [p.get("id") for p in panels]
    if len(ids) != len(set(ids)) or None in ids:
        yield f"{uid}: panel ids must be present and unique"
    yield from _grid_problems(uid, panels)
    for p in panels:
        yield from _panel_problems(uid, p, variables)


def _no_dollar(where: str, value: Any) -> Iterator[str]:
    text = str(value).replace("$$", "")
    if "$" in text:
        yield f"{where}: {value!r} contains $, which Grafana env-interpolates here"


def _rule_data_problems(uid: str, rule: dict[str, Any]) -> Iterator[str]:
    data = {q["refId"]: q for q in rule.get("data", [])}
    if len(data) != len(rule.get("data", [])):
        yield f"rule {uid}: duplicate refIds"
    if rule.get("condition") not in data:
        yield f"rule {uid}: condition {rule.get('condition')} names no query"
    thresholds = [q for q in data.values() if q["model"].get("type") == "threshold"]
    if len(thresholds) != 1 or len(thresholds[0]["model"].get("conditions", [])) != 1:
        yield f"rule {uid}: exactly one threshold expression with exactly one condition"
    for ref, q in data.items():
        if q["datasourceUid"] == "__expr__":
            if q["model"].get("expression") not in data:
                yield f"rule {uid} {ref}: expression input {q['model'].get('expression')} is no query"
        elif q["datasourceUid"] != DATASOURCE_UID:
            yield f"rule {uid} {ref}: unknown datasource {q['datasourceUid']}"
        else:
            yield from _target_problems(f"rule {uid} {ref}", q["model"], set())
            if q["model"].get("format") != "table":
                yield f"rule {uid} {ref}: alert queries return tables (one numeric column, label columns)"


def rule_problems(rule: dict[str, Any]) -> Iterator[str]:
    uid = str(rule.get("uid", ""))
    if not UID.fullmatch(uid):
        yield f"alert rule uid {uid!r} must be 1-40 of [A-Za-z0-9_-]"
    for key in ("uid", "title", "for"):
        yield from _no_dollar(f"rule {uid} {key}", rule.get(key, ""))
    for key, value in rule.get("labels", {}).items():
        yield from _no_dollar(f"rule {uid} label {key}", f"{key}={value}")
    seconds(rule.get("for", ""))
    yield from _rule_data_problems(uid, rule)
    if rule.get("noDataState") not in NO_DATA or rule.get("execErrState") not in EXEC_ERR:
        yield f"rule {uid}: noDataState/execErrState not one Grafana knows"


def alerting_problems(prov: dict[str, Any]) -> Iterator[str]:
    uids: list[str] = []
    for g in prov.get("groups", []):
        interval = seconds(g.get("interval", ""))
        if interval <= 0 or interval % 10:
            yield f"group {g.get('name')}: interval {g.get('interval')} must be a positive multiple of 10s"
        yield from _no_dollar(f"group {g.get('name')} folder", g.get("folder", ""))
        if "/" in g.get("folder", ""):
            yield f"group {g.get('name')}: folder title with /"
        for rule in g.get("rules", []):
            uids.append(rule.get("uid"))
            yield from rule_problems(rule)
    if len(uids) != len(set(uids)):
        yield "alert rule uids are not unique"
    receivers = {c["name"] for c in prov.get("contactPoints", [])}
    for c in prov.get("contactPoints", []):
        for r in c.get("receivers", []):
            if not (r.get("uid") and r.get("type") and r.get("settings")):
                yield f"contact point {c['name']}: receivers need uid, type and settings"
    routes = list(prov.get("policies", []))
    while routes:
        route = routes.pop()
        if route.get("receiver") and route["receiver"] not in receivers:
            yield f"notification policy routes to unknown contact point {route['receiver']}"
        routes.extend(route.get("routes", []))
    for t in prov.get("templates", []):
        yield from _no_dollar(f"template {t.get('name')}", t.get("template", ""))


def check_all(dashboards: list[dict[str, Any]], provisioning: dict[str, Any]) -> None:
    """Raise GrafanaConfigError listing every problem; silent when all is well."""
    problems = [p for d in dashboards for p in dashboard_problems(d)]
    uids = [d.get("uid") for d in dashboards]
    if len(uids) != len(set(uids)):
        problems.append("dashboard uids are not unique")
    problems += list(alerting_problems(provisioning))
    if problems:
        raise GrafanaConfigError("invalid Grafana provisioning:\n  " + "\n  ".join(problems))
