"""The result-shape checks reject what Grafana could not use (they must be able to fail)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tsmon.grafana.catalog import GrafanaQuery, shape_problems

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(minutes=1)
TIMESTAMPTZ, FLOAT8, TEXT, INT8, JSONB = 1184, 701, 25, 20, 3802


def q(kind: str = "panel", fmt: str = "time_series", panel_type: str = "timeseries") -> GrafanaQuery:
    return GrafanaQuery("d", "k", "t", kind, fmt, panel_type, "SELECT 1")  # type: ignore[arg-type]


def test_good_time_series_passes() -> None:
    rows = [(T0, "a", 1.0), (T0, "b", 2.0), (T1, "a", 3.0)]
    assert shape_problems(q(), ["time", "metric", "value"], rows, [TIMESTAMPTZ, TEXT, FLOAT8]) == []


def test_time_series_problems() -> None:
    assert "first column" in shape_problems(q(), ["value", "time"], [(1.0, T0)])[0]
    assert any("ordered" in p for p in shape_problems(q(), ["time", "v"], [(T1, 1.0), (T0, 2.0)]))
    assert any(
        "duplicate" in p for p in shape_problems(q(), ["time", "m", "v"], [(T0, "a", 1.0), (T0, "a", 2.0)])
    )
    assert any(
        "no numeric" in p for p in shape_problems(q(), ["time", "m"], [(T0, "a")], [TIMESTAMPTZ, TEXT])
    )
    assert any(
        "neither" in p for p in shape_problems(q(), ["time", "labels", "v"], [], [TIMESTAMPTZ, JSONB, FLOAT8])
    )
    nulls = shape_problems(
        q(panel_type="state-timeline"), ["time", "m", "v"], [(T0, "a", None)], [TIMESTAMPTZ, TEXT, INT8]
    )
    assert any("NULL" in p for p in nulls)


def test_alert_problems_even_without_rows() -> None:
    alert = q("alert", "table", "")
    assert shape_problems(alert, ["metric", "v"], [("a", 1.0), ("b", 2.0)], [TEXT, FLOAT8]) == []
    assert any("exactly one numeric" in p for p in shape_problems(alert, ["a", "b"], [], [FLOAT8, FLOAT8]))
    assert any(
        "not unique" in p for p in shape_problems(alert, ["m", "v"], [("a", 1.0), ("a", 2.0)], [TEXT, FLOAT8])
    )
    assert any("NULL alert" in p for p in shape_problems(alert, ["m", "v"], [("a", None)], [TEXT, FLOAT8]))


def test_annotation_and_variable_problems() -> None:
    assert any(
        "time and text" in p for p in shape_problems(q("annotation", "table", ""), ["time", "v"], [(T0, 1.0)])
    )
    assert any(
        "tags" in p
        for p in shape_problems(q("annotation", "table", ""), ["time", "text", "tags"], [(T0, "x", 1)])
    )
    assert any("__value" in p for p in shape_problems(q("variable", "table", ""), ["__text"], [("a",)]))
    assert any(
        "timestamps" in p for p in shape_problems(q(fmt="table", panel_type="table"), ["time"], [("x",)])
    )
