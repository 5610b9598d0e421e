"""Anomalies: open and recent events (linking to the explorer), state timeline and anomaly-rate heatmap."""

from __future__ import annotations

from tsmon.grafana.dashboard import Dashboard
from tsmon.grafana.dashboards import explorer
from tsmon.grafana.panels import (
    Panel,
    Query,
    field_override,
    heatmap,
    stat,
    state_timeline,
    table,
    timeseries,
    value_mappings,
)
from tsmon.grafana.templating import query_variable

UID = "tsmon-anomalies"
TOP_SERIES = 20  # rows in the timeline and heatmap: the series with the most anomalous time
GRID_STEPS = 240

COUNTS = """SELECT severity AS metric, count(*) AS value
FROM tsmon.metric_anomalies
WHERE status = 'open' OR started_at >= $__timeFrom()
GROUP BY 1
ORDER BY 1"""
EVENTS = """SELECT started_at AS "time", ended_at AS timeend, severity, status, metric,
       tsmon.format_labels(labels) AS series, extract(epoch FROM duration)::float8 AS duration_seconds,
       peak_score, peak_at, model_version, detector, coalesce(feedback, '') AS feedback, anomaly_id, series_id
FROM tsmon.metric_anomalies
WHERE status = 'open' OR (started_at <= $__timeTo() AND ended_at >= $__timeFrom())
ORDER BY status DESC, started_at DESC
LIMIT 500"""
# Anomaly events overlapping each step, for the series with the most anomalous time in the range.
# At most GRID_STEPS steps per row: a timeline or heatmap needs no more, and each cell is a join.
_GRID = f"""WITH step AS MATERIALIZED (
  SELECT make_interval(secs => greatest($__interval_ms / 1000.0,
    extract(epoch FROM $__timeTo()::timestamptz - $__timeFrom()::timestamptz) / {GRID_STEPS})) AS step
),
ev AS (
  SELECT series_id, metric, labels, severity,
         greatest(started_at, $__timeFrom()::timestamptz) AS lo,
         least(coalesce(ended_at, now()), $__timeTo()::timestamptz) AS hi
  FROM tsmon.metric_anomalies
  WHERE started_at <= $__timeTo() AND coalesce(ended_at, now()) >= $__timeFrom()
), top AS (
  SELECT series_id, min(metric || ' ' || tsmon.format_labels(labels)) AS name
  FROM ev GROUP BY 1 ORDER BY sum(extract(epoch FROM hi - lo)) DESC, 1 LIMIT {TOP_SERIES}
), b AS (
  SELECT generate_series(date_bin(step.step, $__timeFrom()::timestamptz, '2000-01-03'),
                         $__timeTo()::timestamptz, step.step) AS "time", step.step
  FROM step
)
SELECT b.time, top.name AS metric, {{value}} AS value
FROM b CROSS JOIN top
LEFT JOIN ev ON ev.series_id = top.series_id AND ev.lo < b.time + b.step AND ev.hi > b.time
GROUP BY 1, 2, b.step
ORDER BY 1, 2"""
STATE = _GRID.format(
    value="coalesce(max(CASE ev.severity WHEN 'critical' THEN 3 WHEN 'warning' THEN 2 ELSE 1 END), 0)"
)
# Share of each step the series spent in anomaly (0..1).
RATE = _GRID.format(
    # Overlapping events (several configs on one series) count once: capped at the whole step.
    value="least(1, coalesce(sum(extract(epoch FROM least(ev.hi, b.time + b.step) - greatest(ev.lo, b.time)))"
    " / extract(epoch FROM b.step), 0))::float8"
)
# The event variable: open events and those of the range, newest first, that have a what-changed run.
EVENT_CHOICES = """SELECT format('#%s %s %s%s', a.anomaly_id, a.severity, a.metric,
              tsmon.format_labels(a.labels)) AS __text,
       a.anomaly_id AS __value
FROM tsmon.metric_anomalies a
WHERE (a.status = 'open' OR a.started_at >= $__timeFrom())
  AND EXISTS (SELECT 1 FROM tsmon.anomaly_changes c WHERE c.anomaly_id = a.anomaly_id)
ORDER BY a.started_at DESC
LIMIT 100"""
# What changed with the chosen event: the worker's ranking (window vs the 4x longer baseline before it).
WHAT_CHANGED = """SELECT c.rank, c.metric, tsmon.format_labels(c.labels) AS series, c.score, c.kind,
       c.baseline_mean, c.window_mean,
       CASE WHEN c.co_anomaly_order = 1 THEN 'candidate cause' WHEN c.co_anomaly_order > 1 THEN 'co-anomaly'
            ELSE '' END AS co_anomaly,
       c.series_id
FROM tsmon.anomaly_changes c
WHERE c.anomaly_id = ${event:csv}
ORDER BY c.rank"""
PRECISION = """SELECT day AS "time", config AS metric, precision AS value
FROM tsmon.detection_precision
WHERE day >= date_trunc('day', $__timeFrom()::timestamptz) AND day <= $__timeTo() AND precision IS NOT NULL
ORDER BY 1, 2"""


def explorer_link() -> dict[str, object]:
    url = (
        f"/d/{explorer.UID}?var-metric=${{__data.fields.metric}}&var-series=${{__data.fields.series_id}}"
        "&var-label=(any)&var-label_value=(any)&${__url_time_range}"
    )
    return field_override("series", links=[{"title": "Open in the series explorer", "url": url}])


def what_changed() -> Panel:
    return table(
        "What changed with this event",
        Query(WHAT_CHANGED, "table"),
        h=9,
        overrides=[
            explorer_link(),
            field_override("score", decimals=3),
            field_override("series_id", **{"custom.hidden": True}),
        ],
        description="Series ranked by how much their 1m values moved in the event's window (from 5 min "
        "before its onset) against the 4x longer baseline just before: the volume score, x2 for a series "
        "with its own event in the window, x3 for the earliest (the candidate cause). Pick the event above.",
    )


def build() -> Dashboard:
    severity = {"critical": ("critical", "red"), "warning": ("warning", "orange"), "info": ("info", "blue")}
    colour = field_override(
        "severity", mappings=value_mappings(severity), **{"custom.cellOptions": {"type": "color-text"}}
    )
    events = table(
        "Open and recent anomalies",
        Query(EVENTS, "table"),
        h=10,
        overrides=[
            explorer_link(),
            field_override("duration_seconds", unit="s", displayName="duration"),
            field_override("peak_score", decimals=5),
            field_override("series_id", **{"custom.hidden": True}),
            colour,
        ],
        description="Open events first, then events of the range; the series links to the explorer.",
    )
    return Dashboard(
        UID,
        "tsmon / Anomalies",
        "Anomaly events: what is open, what happened, which series are anomalous most of the time.",
        rows=[
            [
                stat("Events (open or in range)", Query(COUNTS, "table"), w=8, thresholds=[(1, "red")]),
                timeseries(
                    "Precision per config (from feedback)",
                    Query(PRECISION),
                    unit="percentunit",
                    w=16,
                    h=4,
                    min_value=0,
                    max_value=1,
                ),
            ],
            [events],
            [what_changed()],
            [
                state_timeline(
                    "Anomaly state per series",
                    Query(STATE),
                    mappings=value_mappings(
                        {
                            "0": ("normal", "green"),
                            "1": ("info", "blue"),
                            "2": ("warning", "orange"),
                            "3": ("critical", "red"),
                        }
                    ),
                    description=f"The {TOP_SERIES} series with the most anomalous time in the range.",
                )
            ],
            [
                heatmap(
                    "Anomaly rate per series",
                    Query(RATE),
                    description="Share of each step a series spent in an anomaly event.",
                )
            ],
        ],
        time_from="now-24h",
        variables=[query_variable("event", "Event", EVENT_CHOICES, refresh_on_time=True)],
    )
