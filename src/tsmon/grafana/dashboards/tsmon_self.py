"""tsmon itself: ingest, worker jobs, scraping, detection and the API, from its own metrics."""

from __future__ import annotations

from tsmon.grafana.dashboard import Dashboard
from tsmon.grafana.panels import Query, timeseries
from tsmon.grafana.queries import by_label, grouped, ratio

UID = "tsmon-self"
# tsmon's own series only (the series identity rule): an external Prometheus scraping tsmon sends the
# same metric names under its own job, which would otherwise be summed in.
OWN = "labels ->> 'job' IN ('tsmon_self', 'tsmon_worker')"

ACCEPTED = by_label("tsmon_ingest_samples_accepted_total", "protocol", where=OWN)
REJECTED = by_label("tsmon_ingest_samples_rejected_total", "reason", where=OWN)
SERIES_CREATED = grouped("tsmon_ingest_series_created_total", "w.labels ->> 'job'", "sum(w.rate)", where=OWN)
WRITE_TIME = ratio(
    "tsmon_ingest_db_write_seconds_sum", "tsmon_ingest_db_write_seconds_count", "job", where=OWN
)
JOB_RUNS = grouped(
    "tsmon_job_runs_total", "(w.labels ->> 'job_id') || ' ' || (w.labels ->> 'outcome')", "sum(w.rate) * 60"
)
JOB_MISSED = by_label("tsmon_job_missed_total", "job_id", "sum(w.rate) * 60")
JOB_DURATION = ratio("tsmon_job_duration_seconds_sum", "tsmon_job_duration_seconds_count", "job_id")
SCRAPE_UP = grouped("up", "(w.labels ->> 'job') || ' ' || (w.labels ->> 'instance')", "min(w.min)")
SCRAPE_DURATION = grouped(
    "scrape_duration_seconds", "(w.labels ->> 'job') || ' ' || (w.labels ->> 'instance')", "max(w.max)"
)
SCRAPE_FAILURES = by_label("tsmon_scrape_failures_total", "scrape_job", "sum(w.rate) * 60")
DETECTION_LAG = by_label("tsmon_detection_lag_seconds", "config", "max(w.max)")
WINDOWS_LAG = by_label("tsmon_windows_lag_seconds", "instance", "max(w.max)")
SCORED = by_label("tsmon_detection_windows_scored_total", "config")
HTTP = grouped(
    "tsmon_http_request_duration_seconds_count",
    "(w.labels ->> 'route') || ' ' || (w.labels ->> 'code')",
    "sum(w.rate)",
    where=OWN,
)
HTTP_LATENCY = ratio(
    "tsmon_http_request_duration_seconds_sum",
    "tsmon_http_request_duration_seconds_count",
    "route",
    where=OWN,
)


def build() -> Dashboard:
    return Dashboard(
        UID,
        "tsmon / tsmon itself",
        "Health of tsmon from its own metrics: the worker stores them every 15 s and scrapes the API's "
        "/metrics.",
        rows=[
            [
                timeseries("Samples stored by protocol", Query(ACCEPTED), unit="short", stack=True),
                timeseries("Samples refused by reason", Query(REJECTED), unit="short"),
            ],
            [
                timeseries("Database write time per batch", Query(WRITE_TIME), unit="s"),
                timeseries("New series", Query(SERIES_CREATED), unit="short"),
            ],
            [
                timeseries("Job runs per minute", Query(JOB_RUNS), unit="short"),
                timeseries("Job duration (average)", Query(JOB_DURATION), unit="s"),
            ],
            [
                timeseries("Missed job runs per minute", Query(JOB_MISSED), unit="short"),
                timeseries("Scrape failures per minute", Query(SCRAPE_FAILURES), unit="short"),
            ],
            [
                timeseries("Scrape targets up", Query(SCRAPE_UP), min_value=0, max_value=1),
                timeseries("Scrape duration", Query(SCRAPE_DURATION), unit="s"),
            ],
            [
                timeseries("Detection lag", Query(DETECTION_LAG), unit="s", thresholds=[(600, "red")]),
                timeseries("Windows lag (tsmon engine)", Query(WINDOWS_LAG), unit="s"),
            ],
            [
                timeseries("Windows scored per second", Query(SCORED), unit="short"),
                timeseries("API requests per second", Query(HTTP), unit="reqps"),
            ],
            [timeseries("API latency (average)", Query(HTTP_LATENCY), unit="s", w=24)],
        ],
    )
