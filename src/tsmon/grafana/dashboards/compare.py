"""Compare: a metric's series over the range (A) against the same range a day or a week before (B)."""

from __future__ import annotations

from tsmon.grafana.dashboard import Dashboard
from tsmon.grafana.dashboards import explorer
from tsmon.grafana.panels import Query, field_override, table, timeseries
from tsmon.grafana.queries import MIN_POINTS
from tsmon.grafana.templating import query_variable

UID = "tsmon-compare"
SHIFTS = "SELECT v AS __text, v AS __value FROM (VALUES ('1 day'), ('7 days')) AS t(v)"
SHIFT = "${shift:sqlstring}::interval"
# Means from the windows tsmon.metric_windows picks for the range (count-weighted, so exact for any
# resolution); B is the same range moved back by the shift.
_MEANS = """SELECT w.series_id, min(w.labels::text)::jsonb AS labels, sum(w.count) AS n,
         sum(w.avg * w.count) / nullif(sum(w.count), 0) AS mean
  FROM tsmon.metric_windows(${{metric:sqlstring}}, {start}, {end}, {points}) w
  GROUP BY w.series_id"""
_A = _MEANS.format(start="$__timeFrom()", end="$__timeTo()", points=MIN_POINTS)
_B = _MEANS.format(
    start=f"$__timeFrom()::timestamptz - {SHIFT}",
    end=f"$__timeTo()::timestamptz - {SHIFT}",
    points=MIN_POINTS,
)
PER_SERIES = f"""WITH a AS ({_A}), b AS ({_B})
SELECT ${{metric:sqlstring}} AS metric, tsmon.format_labels(a.labels) AS series, a.n AS n_a, a.mean AS mean_a,
       coalesce(b.n, 0) AS n_b, b.mean AS mean_b, a.mean - b.mean AS delta,
       100 * (a.mean - b.mean) / nullif(abs(b.mean), 0) AS delta_pct, a.series_id
FROM a LEFT JOIN b ON b.series_id = a.series_id
ORDER BY abs(a.mean - b.mean) DESC NULLS LAST, 2
LIMIT 500"""
# The metric's mean over its series per step, now and shifted onto now's time axis.
_CURVE = """SELECT $__timeGroup(w.bucket + {back}, $__interval) AS "time",
       sum(w.avg * w.count) / nullif(sum(w.count), 0) AS "{name}"
FROM tsmon.metric_windows(${{metric:sqlstring}}, {start}, {end}, {points}) w
GROUP BY 1
ORDER BY 1"""
CURVE_A = _CURVE.format(
    back="interval '0'", name="A (range)", start="$__timeFrom()", end="$__timeTo()", points=MIN_POINTS
)
CURVE_B = _CURVE.format(
    back=SHIFT,
    name="B (shifted)",
    start=f"$__timeFrom()::timestamptz - {SHIFT}",
    end=f"$__timeTo()::timestamptz - {SHIFT}",
    points=MIN_POINTS,
)


def build() -> Dashboard:
    link = (
        f"/d/{explorer.UID}?var-metric=${{__data.fields.metric}}&var-series=${{__data.fields.series_id}}"
        "&var-label=(any)&var-label_value=(any)&${__url_time_range}"
    )
    per_series = table(
        "Per series: range A against B (the same range shifted back)",
        Query(PER_SERIES, "table"),
        h=12,
        overrides=[
            field_override("series", links=[{"title": "Open in the series explorer", "url": link}]),
            field_override("delta_pct", unit="percent", decimals=1),
            field_override("series_id", **{"custom.hidden": True}),
            field_override("metric", **{"custom.hidden": True}),
        ],
        description="Samples (n) and mean per series in A and B, largest absolute change first. Means are "
        "count-weighted over the windows read (exact at any resolution). For tests (Welch, effective sample "
        "size) use tsmon analyze compare.",
    )
    curves = timeseries(
        "Mean over the metric's series: A and B",
        Query(CURVE_A),
        w=24,
        h=8,
        description="B is drawn on A's time axis (moved forward by the shift).",
    )
    curves.body["targets"].append(Query(CURVE_B, ref_id="B").target())
    curves.queries.append(Query(CURVE_B, ref_id="B"))
    return Dashboard(
        UID,
        "tsmon / Compare",
        "One metric over the dashboard's range (A) against the same range a day or a week earlier (B).",
        rows=[[curves], [per_series]],
        time_from="now-6h",
        variables=[
            query_variable("metric", "Metric", explorer.METRICS),
            query_variable("shift", "B is A shifted back by", SHIFTS),
        ],
    )
