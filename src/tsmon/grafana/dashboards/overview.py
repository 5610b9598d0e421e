"""Overview: ingest rate, active series, open anomalies, anomaly rate, worker lag, job failures."""

from __future__ import annotations

from tsmon.grafana.dashboard import Dashboard
from tsmon.grafana.panels import Query, stat, timeseries
from tsmon.grafana.queries import by_label

UID = "tsmon-overview"

INGEST_RATE = by_label("tsmon_ingest_samples_accepted_total", "protocol")
# Series with at least one sample per hour (1h windows: one row per series and hour).
ACTIVE_SERIES = """SELECT w.bucket AS "time", count(*) AS "active series"
FROM tsmon.metric_1h w
WHERE w.bucket >= date_trunc('hour', $__timeFrom()::timestamptz) AND w.bucket < $__timeTo()
GROUP BY 1
ORDER BY 1"""
OPEN_NOW = """SELECT severity AS metric, count(*) AS value
FROM tsmon.metric_anomalies
WHERE status = 'open'
GROUP BY 1
ORDER BY 1"""
# Events open at each step of the range (started before its end, not ended before its start).
OPEN_OVER_TIME = """WITH b AS (
  SELECT generate_series(date_bin(make_interval(secs => $__interval_ms / 1000.0), $__timeFrom()::timestamptz,
                                  '2000-01-03'), $__timeTo()::timestamptz,
                         make_interval(secs => $__interval_ms / 1000.0)) AS "time"
), ev AS (
  SELECT severity, started_at, coalesce(ended_at, 'infinity') AS ended_at
  FROM tsmon.metric_anomalies
  WHERE started_at <= $__timeTo() AND (ended_at IS NULL OR ended_at >= $__timeFrom())
), sev AS (SELECT unnest(ARRAY['critical', 'warning', 'info']) AS severity)
SELECT b.time, sev.severity AS metric, count(ev.severity) AS value
FROM b CROSS JOIN sev
LEFT JOIN ev ON ev.severity = sev.severity AND ev.started_at <= b.time AND ev.ended_at > b.time
GROUP BY 1, 2
ORDER BY 1, 2"""
# Events starting per hour, by metric.
ANOMALY_RATE = """SELECT $__timeGroupAlias(started_at, $__interval), metric,
       count(*) * 3600000.0 / $__interval_ms AS value
FROM tsmon.metric_anomalies
WHERE $__timeFilter(started_at)
GROUP BY 1, 2
ORDER BY 1, 2"""
WORKER_LAG = by_label("tsmon_detection_lag_seconds", "config", "max(w.max)")
LAG_NOW = """SELECT config AS metric, lag_seconds AS value FROM tsmon.detection_lag ORDER BY 1"""
JOB_FAILURES = by_label(
    "tsmon_job_runs_total", "job_id", "sum(w.rate) * 60", where="labels ->> 'outcome' = 'error'"
)


def build() -> Dashboard:
    severity_colours = [(1, "red")]
    return Dashboard(
        UID,
        "tsmon / Overview",
        "Is tsmon ingesting, detecting and keeping up? Open anomalies at a glance.",
        rows=[
            [
                stat(
                    "Ingest rate",
                    Query(INGEST_RATE),
                    unit="short",
                    w=6,
                    description="Samples stored per second, all protocols (tsmon's own counters).",
                ),
                stat(
                    "Active series",
                    Query(ACTIVE_SERIES),
                    w=6,
                    description="Series with samples in the latest hour.",
                ),
                stat(
                    "Open anomalies",
                    Query(OPEN_NOW, "table"),
                    w=6,
                    thresholds=severity_colours,
                    description="Open anomaly events by severity.",
                ),
                stat(
                    "Detection lag",
                    Query(LAG_NOW, "table"),
                    unit="s",
                    w=6,
                    thresholds=[(600, "orange"), (1800, "red")],
                    description="Per config: now minus the oldest scoring watermark.",
                ),
            ],
            [
                timeseries(
                    "Ingest rate by protocol",
                    Query(INGEST_RATE),
                    unit="short",
                    stack=True,
                    description="Samples per second stored by the API and the worker, by protocol.",
                ),
                timeseries(
                    "Active series",
                    Query(ACTIVE_SERIES),
                    description="Series with at least one sample in each hour (1h windows).",
                ),
            ],
            [
                timeseries(
                    "Open anomalies by severity",
                    Query(OPEN_OVER_TIME),
                    stack=True,
                    description="Anomaly events open at each moment.",
                ),
                timeseries(
                    "Anomaly rate by metric",
                    Query(ANOMALY_RATE),
                    unit="short",
                    description="Anomaly events starting per hour, by metric.",
                ),
            ],
            [
                timeseries(
                    "Worker lag per config",
                    Query(WORKER_LAG),
                    unit="s",
                    thresholds=[(600, "red")],
                    description="Detection lag per config as the worker reports it.",
                ),
                timeseries(
                    "Job failures",
                    Query(JOB_FAILURES),
                    unit="short",
                    description="Failed worker job runs per minute, by job.",
                ),
            ],
        ],
        time_from="now-6h",
    )
