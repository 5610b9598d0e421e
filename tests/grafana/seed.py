"""A database seeded for the Grafana query tests: host, tsmon and demo metrics, scores and known events.

Metric names and labels come from the real collectors (host metrics, the worker's registry), so a
renamed metric leaves a panel empty and the tests fail. Known anomaly events decide which alert
rules must fire: critical on web1 and warning on db1 fire; the young warning on o'brien (shorter
than its config's min_duration), the closed critical on db1 and the info event do not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
from prometheus_client import CollectorRegistry

from tsmon.analysis.changes_events import attach_changes
from tsmon.api.app import create_app
from tsmon.ingest.batch import SampleBatch, canonical_labels, datetime_to_us
from tsmon.ingest.writer import SampleWriter, SeriesCache
from tsmon.scrape.host import collect_host_samples
from tsmon.settings import Settings
from tsmon.windows.engine import refresh_windows
from tsmon.windows.retention import RetentionSettings
from tsmon.worker import WorkerMetrics, own_samples

Conn = psycopg.Connection[tuple[object, ...]]
Sample = tuple[str, dict[str, str], float]
HISTORY = timedelta(hours=6, minutes=30)
STEP = timedelta(seconds=30)
HOSTS = ("web1", "o'neil")  # a label value with a quote
DEMO_HOSTS = ("web1", "o'brien", "db1")


@dataclass
class Seeded:
    now: datetime
    series: dict[str, int] = field(default_factory=dict)  # demo_load host -> series id
    configs: dict[str, int] = field(default_factory=dict)
    event: int = 0  # web1's open critical event (it has a what-changed run)


def _counter(name: str) -> bool:
    return name.endswith(("_total", "_count", "_sum", "_bucket"))


def worker_samples() -> list[Sample]:
    """Every sample the worker records about itself, with label values set as a busy worker would."""
    m = WorkerMetrics()
    m.runs.labels("collect_host_metrics", "ok").inc()
    m.runs.labels("run_detection", "error").inc()
    m.missed.labels("run_detection").inc()
    m.duration.labels("run_detection").observe(0.5)
    m.scrape_failures.labels("tsmon").inc()
    m.ingest.accepted.labels("host").inc()
    m.ingest.rejected.labels("remote_write", "too_old").inc()
    m.ingest.skipped.labels("line_protocol", "string_field").inc()
    m.ingest.batch.labels("host").observe(10)
    m.ingest.write_seconds.observe(0.01)
    m.ingest.series_created.inc()
    m.windows_scored.labels("load-critical").inc()
    m.detection_lag.labels("load-critical").set(60)
    m.windows_lag.set(60)
    m.windows_fallback.inc()
    m.job_failing.labels("1000", "policy_refresh_continuous_aggregate", "samples_1m").set(0)
    m.job_failures.labels("1000", "policy_refresh_continuous_aggregate", "samples_1m").set(3)
    return own_samples(m, "web1")


def api_samples() -> list[Sample]:
    """The API's own histogram as the worker's scrape stores it, plus the scrape's `up` and timings."""
    registry = CollectorRegistry()
    create_app(Settings(), "postgresql://unused", registry=registry)
    target = {"job": "tsmon_self", "instance": "127.0.0.1:8428"}
    out: list[Sample] = [(n, target, v) for n, v in (("up", 1), ("scrape_duration_seconds", 0.01))]
    for family in registry.collect():
        if family.type == "histogram" and family.name.startswith("tsmon_http"):
            for suffix in ("_count", "_sum"):
                out.append((family.name + suffix, {**target, "route": "/api/v1/write", "code": "204"}, 1.0))
    return out


def host_samples() -> list[Sample]:
    out: list[Sample] = []
    for host in HOSTS:
        samples = collect_host_samples(host)
        if not any(n == "node_filesystem_size_bytes" for n, _, _ in samples):  # containers may list none
            fs = {
                "job": "tsmon_host",
                "instance": host,
                "mountpoint": "/",
                "fstype": "ext4",
                "device": "/dev/sda1",
            }
            samples += [("node_filesystem_size_bytes", fs, 1e11), ("node_filesystem_avail_bytes", fs, 4e10)]
        out += samples
    return out


def write_history(conn: Conn, samples: list[Sample], now: datetime) -> None:
    """Each sample as a series over HISTORY: counters grow at a per-series rate, gauges wave."""
    writer = SampleWriter(conn, SeriesCache(10_000))
    steps = int(HISTORY / STEP)
    for i, (name, labels, value) in enumerate(samples):
        batch = SampleBatch()
        key = canonical_labels(labels)
        for k in range(steps + 1):
            t = now - HISTORY + k * STEP
            v = value + (1 + i % 5) * k if _counter(name) else value * (1 + 0.1 * math.sin(k / 30 + i))
            batch.append(name, key, datetime_to_us(t), v)
        writer.write(batch)


def seed(conn: Conn) -> Seeded:
    now = datetime.now(UTC).replace(microsecond=0)
    s = Seeded(now)
    demo = [("demo_load", {"host": h}, 50.0) for h in DEMO_HOSTS]
    write_history(conn, host_samples() + worker_samples() + api_samples() + demo, now)
    s.series = {
        str(h): int(str(i))
        for h, i in conn.execute("SELECT labels ->> 'host', id FROM tsmon.series WHERE metric = 'demo_load'")
    }
    configs = (("load-critical", "2m", "1m", '{"team": "web"}'), ("load-slow", "5m", "2h", "{}"))
    for name, min_duration, lag, alert_labels in configs:
        row = conn.execute(
            "INSERT INTO tsmon.detection_configs "
            "(name, metric, min_duration, shards, created_at, alert_labels) "
            "VALUES (%s, 'demo_load', %s, 1, now() - interval '1 day', %s::jsonb) RETURNING id",
            (name, min_duration, alert_labels),
        ).fetchone()
        assert row is not None
        s.configs[name] = int(str(row[0]))
        conn.execute(
            "INSERT INTO tsmon.detection_shards (config_id, shard, watermark, scored_at) "
            "VALUES (%s, 0, now() - %s::interval, now())",
            (row[0], lag),
        )
    # Scores every minute for every demo series under load-critical; anomalous where events are.
    conn.execute(
        "INSERT INTO tsmon.anomaly_scores (time, series_id, config_id, detector, model_version, score, "
        "expected, lower, upper, is_anomaly) "
        "SELECT t, s.id, %s, 'mad', 1, CASE WHEN a THEN 0.9999 ELSE 0.2 END, 50, 40, 60, a "
        "FROM tsmon.series s, generate_series(date_trunc('minute', %s::timestamptz) - interval '6 hours', "
        "  date_trunc('minute', %s::timestamptz) - interval '1 minute', interval '1 minute') t, "
        "LATERAL (SELECT s.labels ->> 'host' = 'web1' "
        "  AND t >= %s::timestamptz - interval '10 minutes' AS a) x "
        "WHERE s.metric = 'demo_load'",
        (s.configs["load-critical"], now, now, now),
    )
    events = [  # host, config, severity, started ago, ended ago (None: open), feedback
        ("web1", "load-critical", "critical", "10m", None, None),
        ("o'brien", "load-slow", "warning", "1m", None, None),
        ("db1", "load-slow", "warning", "30m", None, None),
        ("db1", "load-critical", "critical", "3h", "2h50m", "true_positive"),
        ("web1", "load-slow", "info", "20m", None, None),
    ]
    for host, config, severity, started, ended, feedback in events:
        conn.execute(
            "INSERT INTO tsmon.anomalies (series_id, config_id, detector, model_version, started_at, "
            "ended_at, peak_score, peak_at, severity, status, feedback) "
            "VALUES (%s, %s, 'mad', 1, %s - %s::interval, %s - %s::interval, 0.9999, %s - %s::interval, %s, "
            "%s, %s)",
            (
                s.series[host],
                s.configs[config],
                now,
                started,
                now,
                ended,
                now,
                started,
                severity,
                "open" if ended is None else "closed",
                feedback,
            ),
        )
    # The day before, demo_load was lower on web1 (the compare dashboard's B range).
    conn.execute(
        "INSERT INTO tsmon.samples (time, series_id, value) "
        "SELECT t, s.id, CASE s.labels ->> 'host' WHEN 'web1' THEN 30 ELSE 50 END "
        "FROM tsmon.series s, generate_series(%s::timestamptz - interval '1 day' - %s::interval, "
        "  %s::timestamptz - interval '1 day', %s::interval) t WHERE s.metric = 'demo_load'",
        (now, HISTORY, now, STEP),
    )
    refresh_windows(conn, RetentionSettings(), now=now)
    attach_changes(conn, now, None, 10)  # what the worker does: every event gets its what-changed run
    row = conn.execute(
        "SELECT id FROM tsmon.anomalies WHERE series_id = %s AND severity = 'critical' AND status = 'open'",
        (s.series["web1"],),
    ).fetchone()
    assert row is not None
    s.event = int(str(row[0]))
    conn.execute("ANALYZE")
    return s
