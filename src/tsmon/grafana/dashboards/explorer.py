"""Series explorer: value vs expected value and band, score vs threshold, anomalies as annotations."""

from __future__ import annotations

from tsmon.grafana.dashboard import Dashboard
from tsmon.grafana.panels import (
    Panel,
    Query,
    field_override,
    row,
    table,
    timeseries,
)
from tsmon.grafana.queries import MIN_POINTS
from tsmon.grafana.templating import annotation, query_variable

UID = "tsmon-explorer"
ANY = "(any)"  # the label and label value that mean "no label filter"

METRICS = "SELECT DISTINCT metric FROM tsmon.metric_series ORDER BY 1"
LABELS = f"""SELECT '{ANY}' AS label
UNION ALL
(SELECT DISTINCT jsonb_object_keys(labels) FROM tsmon.metric_series
 WHERE metric = ${{metric:sqlstring}} ORDER BY 1)"""
LABEL_VALUES = f"""SELECT '{ANY}' AS value
UNION ALL
(SELECT DISTINCT labels ->> ${{label:sqlstring}} FROM tsmon.metric_series
 WHERE metric = ${{metric:sqlstring}} AND labels ->> ${{label:sqlstring}} IS NOT NULL ORDER BY 1)"""
# Series of the metric that pass the label filter; the value is the series id.
LABEL_FILTER = (
    f"(${{label:sqlstring}} = '{ANY}' OR '{ANY}' IN (${{label_value:sqlstring}})"
    " OR labels ->> ${label:sqlstring} IN (${label_value:sqlstring}))"
)
SERIES = f"""SELECT tsmon.format_labels(labels) AS __text, series_id AS __value
FROM tsmon.metric_series
WHERE metric = ${{metric:sqlstring}} AND {LABEL_FILTER}
ORDER BY 1
LIMIT 100"""
SELECTED = "ARRAY[${series:csv}]::bigint[]"
BAND = f"""SELECT b.time, b.value, b.expected, b.lower, b.upper
FROM tsmon.series_band({SELECTED}, $__timeFrom(), $__timeTo(), {MIN_POINTS}) b
ORDER BY 1"""
SCORE = f"""SELECT b.time, b.score, b.threshold
FROM tsmon.series_band({SELECTED}, $__timeFrom(), $__timeTo(), {MIN_POINTS}) b
ORDER BY 1"""
ANOMALIES_OF_SERIES = """SELECT started_at AS "time", coalesce(ended_at, now()) AS timeend,
       format('%s anomaly on %s %s: peak score %s (%s, model v%s)', severity, metric,
              tsmon.format_labels(labels), round(peak_score::numeric, 5), detector, model_version) AS text,
       severity || ',' || metric AS tags
FROM tsmon.metric_anomalies
WHERE series_id IN (${series:csv})
  AND started_at <= $__timeTo() AND coalesce(ended_at, now()) >= $__timeFrom()
ORDER BY 1"""
EVENTS_TABLE = """SELECT started_at AS "time", ended_at AS timeend, severity, status,
       extract(epoch FROM duration)::float8 AS duration_seconds, peak_score, detector, model_version,
       coalesce(feedback, '') AS feedback, tsmon.format_labels(labels) AS series, anomaly_id
FROM tsmon.metric_anomalies
WHERE series_id IN (${series:csv})
  AND started_at <= $__timeTo() AND coalesce(ended_at, now()) >= $__timeFrom()
ORDER BY 1 DESC"""


def band_overrides() -> list[dict[str, object]]:
    """The band: upper filled down to lower, both without lines or legend; expected dashed."""
    hidden = {"legend": True, "tooltip": False, "viz": False}
    return [
        field_override(
            "upper",
            **{
                "custom.fillBelowTo": "lower",
                "custom.fillOpacity": 15,
                "custom.lineWidth": 0,
                "custom.hideFrom": hidden,
                "color": {"mode": "fixed", "fixedColor": "blue"},
            },
        ),
        field_override(
            "lower",
            **{
                "custom.lineWidth": 0,
                "custom.hideFrom": hidden,
                "color": {"mode": "fixed", "fixedColor": "blue"},
            },
        ),
        field_override(
            "expected",
            **{
                "custom.lineStyle": {"fill": "dash", "dash": [10, 10]},
                "color": {"mode": "fixed", "fixedColor": "green"},
            },
        ),
        field_override(
            "value", **{"custom.lineWidth": 2, "color": {"mode": "fixed", "fixedColor": "yellow"}}
        ),
    ]


def series_row() -> list[Panel]:
    header = row("${series:text}")
    header.body |= {"repeat": "series", "repeatDirection": "h"}
    return [header]


def build() -> Dashboard:
    band = timeseries(
        "Value vs expected",
        Query(BAND),
        w=16,
        h=9,
        overrides=band_overrides(),
        description="Window average at a resolution picked from the range (raw < 100 min, 1m, 1h, 1d), the "
        "detectors' expected value and the band outside which points score above the threshold.",
    )
    score = timeseries(
        "Anomaly score",
        Query(SCORE),
        w=8,
        h=9,
        min_value=0,
        max_value=1,
        overrides=[
            field_override(
                "threshold",
                **{
                    "custom.lineStyle": {"fill": "dash", "dash": [10, 10]},
                    "color": {"mode": "fixed", "fixedColor": "red"},
                },
            ),
        ],
        description="Highest detector score per window; the dashed line is the scoring config's alert "
        "threshold (sensitivity plus feedback raise).",
    )
    events = table("Anomaly events of the selected series", Query(EVENTS_TABLE, "table"), h=8)
    return Dashboard(
        UID,
        "tsmon / Series explorer",
        "One metric's series: value against the detectors' expected value and band, score against threshold.",
        rows=[series_row(), [band, score], [row("Events")], [events]],
        time_from="now-24h",
        variables=[
            query_variable("metric", "Metric", METRICS),
            query_variable("label", "Label", LABELS),
            query_variable("label_value", "Label value", LABEL_VALUES, multi=True, include_all=True),
            query_variable("series", "Series", SERIES, multi=True, include_all=True),
        ],
        annotations=[annotation("Anomalies", ANOMALIES_OF_SERIES)],
    )
