"""Every SQL query in the generated Grafana files, and the result shapes Grafana needs from each."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

Kind = Literal["panel", "variable", "annotation", "alert"]
NUMBER = (int, float, Decimal)


@dataclass(frozen=True)
class GrafanaQuery:
    """One query as Grafana would send it: where it lives, its format and the SQL before expansion."""

    source: str  # dashboard uid or "alerting"
    key: str  # panel id + refId, variable name, annotation name or rule uid
    title: str
    kind: Kind
    format: str
    panel_type: str
    sql: str
    range_seconds: int = 0  # alert rules: their relativeTimeRange


def dashboard_queries(d: dict[str, Any]) -> Iterator[GrafanaQuery]:
    uid = d["uid"]
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            yield GrafanaQuery(
                uid, f"var:{v['name']}", v.get("label", v["name"]), "variable", "table", "", v["query"]
            )
    for a in d.get("annotations", {}).get("list", []):
        if not a.get("builtIn"):
            t = a["target"]
            yield GrafanaQuery(
                uid, f"annotation:{a['name']}", a["name"], "annotation", t["format"], "", t["rawSql"]
            )
    for p in d.get("panels", []):
        for t in p.get("targets", []):
            key = f"panel:{p['id']}{t['refId']}"
            yield GrafanaQuery(uid, key, p.get("title", ""), "panel", t["format"], p["type"], t["rawSql"])


def alert_queries(provisioning: dict[str, Any]) -> Iterator[GrafanaQuery]:
    for g in provisioning.get("groups", []):
        for rule in g["rules"]:
            for q in rule["data"]:
                if q["datasourceUid"] != "__expr__":
                    yield GrafanaQuery(
                        "alerting",
                        rule["uid"],
                        rule["title"],
                        "alert",
                        q["model"]["format"],
                        "",
                        q["model"]["rawSql"],
                        q["relativeTimeRange"]["from"],
                    )


def _is_number(v: object) -> bool:
    return isinstance(v, NUMBER) and not isinstance(v, bool)


# PostgreSQL type oids by what Grafana makes of them.
_NUMBER_OIDS = {20, 21, 23, 26, 700, 701, 1700}
_STRING_OIDS = {18, 19, 25, 1042, 1043}
_TIME_OIDS = {1082, 1114, 1184}


def _oid_kind(oid: int) -> str:
    if oid in _NUMBER_OIDS:
        return "number"
    if oid in _STRING_OIDS:
        return "string"
    return "time" if oid in _TIME_OIDS else f"oid {oid}"


def _column_kinds(
    columns: Sequence[str], rows: Sequence[Sequence[object]], oids: Sequence[int] | None
) -> dict[str, set[str]]:
    """Per column, the kinds of its values (from the column types when known, so empty results count)."""
    kinds: dict[str, set[str]] = {c: set() for c in columns}
    if oids is not None:
        for c, oid in zip(columns, oids, strict=True):
            kinds[c].add(_oid_kind(oid))
    for row in rows:
        for c, v in zip(columns, row, strict=True):
            if v is None:
                kinds[c].add("null")
            elif oids is None:
                kinds[c].add(
                    "number"
                    if _is_number(v)
                    else "time"
                    if isinstance(v, datetime)
                    else "string"
                    if isinstance(v, str)
                    else type(v).__name__
                )
    return kinds


def _variable(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> Iterator[str]:
    if "__text" in columns and "__value" not in columns:
        yield "__text without __value"
    if any(row[0] is None for row in rows):
        yield "NULL variable values"


def _annotation(columns: Sequence[str], kinds: dict[str, set[str]]) -> Iterator[str]:
    if "time" not in columns or "text" not in columns:
        yield f"annotations need time and text columns, got {list(columns)}"
    if "tags" in kinds and kinds["tags"] - {"string"}:
        yield "tags must be a comma-separated string"


def _alert(
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    values: list[str],
    labels: list[str],
    odd: list[str],
) -> Iterator[str]:
    if len(values) != 1:
        yield f"alert tables need exactly one numeric column, got {values}"
    if odd:
        yield f"alert tables hold numbers and label strings only, not {odd}"
    tuples = [tuple(row[columns.index(c)] for c in labels) for row in rows]
    if len(tuples) != len(set(tuples)):
        yield f"label tuples {labels} are not unique"
    if values and any(row[columns.index(values[0])] is None for row in rows):
        yield "NULL alert values"


def _time_series(
    q: GrafanaQuery,
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    kinds: dict[str, set[str]],
    values: list[str],
    labels: list[str],
    odd: list[str],
) -> Iterator[str]:
    if not columns or columns[0] != "time":
        yield f"time series need `time` as the first column, got {list(columns)}"
    else:
        times = [row[0] for row in rows]
        if None in times or kinds["time"] - {"time"}:
            yield "time column must hold timestamps, never NULL"
        elif times != sorted(times):  # type: ignore[type-var]
            yield "rows are not ordered by time"
    if not values:
        yield f"no numeric value column in {list(columns)}"
    if odd:
        yield f"columns that are neither numbers nor label strings: {odd}"
    keys = [(row[0], *(row[columns.index(c)] for c in labels)) for row in rows]
    if len(keys) != len(set(keys)):
        yield "duplicate (time, labels) rows: Grafana cannot turn them into one series each"
    if q.panel_type == "state-timeline" and any(
        row[columns.index(c)] is None for row in rows for c in values
    ):
        yield "state timeline values must not be NULL"


def shape_problems(
    q: GrafanaQuery,
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    oids: Sequence[int] | None = None,
) -> list[str]:
    """What Grafana could not use (or would render wrongly) in this result; empty when it is fine.

    ``oids`` are the result's column type oids (cursor.description): with them, empty results are checked too.
    """
    kinds = _column_kinds(columns, rows, oids)
    values = [c for c in columns if kinds[c] - {"null"} <= {"number"} and c not in {"time", "timeend"}]
    labels = [c for c in columns if kinds[c] - {"null"} == {"string"}]
    odd = [c for c in columns if c not in values and c not in labels and c not in {"time", "timeend"}]
    out = [
        f"column {c} holds {kinds[c]}, not timestamps"
        for c in ("time", "timeend")
        if c in kinds and kinds[c] - {"null", "time"}
    ]
    if q.kind == "variable":
        out += _variable(columns, rows)
    elif q.kind == "annotation":
        out += _annotation(columns, kinds)
    elif q.kind == "alert":
        out += _alert(columns, rows, values, labels, odd)
    elif q.format == "time_series":
        out += _time_series(q, columns, rows, kinds=kinds, values=values, labels=labels, odd=odd)
    elif q.panel_type == "stat" and not values:
        out.append(f"a stat needs a numeric column, got {list(columns)}")
    return out
