"""SQL building blocks shared by the dashboards: series selection, windows at a picked resolution, rates.

Every panel reads windows through tsmon.series_windows with series ids selected up front (the fast
path: a join on metric and labels cannot be pushed below the windows' real-time aggregation), at the
resolution tsmon.pick_resolution chooses for the dashboard's time range.
"""

from __future__ import annotations

from collections.abc import Sequence

# Points per series a panel asks for: raw below 100 minutes, 1m windows up to ~4 days, 1h up to 100 days.
MIN_POINTS = 100


def literal(text: str) -> str:
    """A SQL string literal (for constants written into dashboards, never for user input)."""
    return "'" + text.replace("'", "''") + "'"


def series_ids(metrics: str | Sequence[str], where: str = "") -> str:
    """An id array of the series of one or more metrics (plus a condition on tsmon.metric_series)."""
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    cond = (
        f"metric = {literal(names[0])}"
        if len(names) == 1
        else f"metric IN ({', '.join(map(literal, names))})"
    )
    extra = f" AND {where}" if where else ""
    return f"ARRAY(SELECT series_id FROM tsmon.metric_series WHERE {cond}{extra})"


def windows(ids: str, finest: str = "raw") -> str:
    """tsmon.series_windows over the dashboard's time range for an id array expression."""
    finest_arg = f", {literal(finest)}" if finest != "raw" else ""
    return f"tsmon.series_windows({ids}, $__timeFrom(), $__timeTo(), {MIN_POINTS}{finest_arg})"


def grouped(metrics: str | Sequence[str], name: str, value: str, *, where: str = "") -> str:
    """A long-format time series query: ``name`` (an SQL expression over w) names each series.

    ``value`` is an aggregate over the windows ``w`` of the matching series, per time and name.
    The string column is called ``metric``: Grafana uses its values as the series' display names.
    """
    return (
        f"SELECT w.time, {name} AS metric, {value} AS value\n"
        f"FROM {windows(series_ids(metrics, where))} w\n"
        "GROUP BY 1, 2\nORDER BY 1, 2"
    )


def by_label(metric: str, label: str, value: str = "sum(w.rate)", *, where: str = "") -> str:
    """One time series per value of ``label``."""
    return grouped(metric, f"coalesce(w.labels ->> {literal(label)}, '')", value, where=where)


def single(metric: str, value: str, name: str, *, where: str = "") -> str:
    """One time series, every matching series aggregated into a field named ``name``."""
    return (
        f'SELECT w.time, {value} AS "{name}"\n'
        f"FROM {windows(series_ids(metric, where))} w\n"
        "GROUP BY 1\nORDER BY 1"
    )


def ratio(numerator: str, denominator: str, label: str, *, where: str = "") -> str:
    """Per value of ``label``: rate(numerator) / rate(denominator), e.g. a histogram's _sum / _count."""
    value = (
        f"sum(w.rate) FILTER (WHERE w.metric = {literal(numerator)}) / "
        f"nullif(sum(w.rate) FILTER (WHERE w.metric = {literal(denominator)}), 0)"
    )
    return grouped(
        [numerator, denominator], f"coalesce(w.labels ->> {literal(label)}, '')", value, where=where
    )


def label_is(label: str, value: str) -> str:
    return f"labels ->> {literal(label)} = {literal(value)}"
