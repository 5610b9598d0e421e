"""The worker's jobs against the real database: host metrics, windows, detection shards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.conftest import DatabaseServer
from tsmon.ingest.batch import SampleBatch, datetime_to_us
from tsmon.ingest.writer import SampleWriter, SeriesCache
from tsmon.schema import migrate
from tsmon.scrape.host import collect_host_samples
from tsmon.settings import Settings
from tsmon.windows import health
from tsmon.worker import (
    WorkerContext,
    collect_host_metrics,
    maintain_windows,
)


def test_host_samples_cover_the_basics() -> None:
    names = {name for name, _, _ in collect_host_samples("h")}
    for expected in (
        "node_cpu_seconds_total",
        "node_load1",
        "node_memory_MemAvailable_bytes",
        "node_filesystem_avail_bytes",
        "node_network_receive_bytes_total",
    ):
        assert expected in names
    assert all(
        labels["instance"] == "h" and labels["job"] == "tsmon_host"
        for _, labels, _ in collect_host_samples("h")
    )


def test_host_metrics_job_stores_samples(ctx: WorkerContext, db_url: str) -> None:
    collect_host_metrics(ctx)
    collect_host_metrics(ctx)
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            """SELECT count(DISTINCT time), count(*) FROM tsmon.metric_samples
               WHERE metric = 'node_memory_MemTotal_bytes' AND labels @> '{"instance": "test-host"}'"""
        ).fetchone()
    assert rows == (2, 2)


def test_maintain_windows_folds_late_data(ctx: WorkerContext, db_url: str) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(db_url, autocommit=True) as conn:
        migrate(conn, Settings(windows_engine="tsmon"))  # the job only acts for tsmon-maintained windows
        writer = SampleWriter(conn, SeriesCache(10))
        writer.write(SampleBatch(["w"], ["{}"], [datetime_to_us(now - timedelta(hours=2))], [1.0]))
        maintain_windows(ctx)
        writer.write(SampleBatch(["w"], ["{}"], [datetime_to_us(now - timedelta(hours=3))], [3.0]))  # late
        assert conn.execute("SELECT count(*) FROM tsmon.window_invalidations").fetchone() == (1,)
        maintain_windows(ctx)
        assert conn.execute("SELECT count(*) FROM tsmon.window_invalidations").fetchone() == (0,)
        assert conn.execute("SELECT sum(count), sum(sum) FROM tsmon._windows_1m").fetchone() == (2, 4.0)
    assert 0 < ctx.metrics.windows_lag._value.get() < 180


def test_worker_refreshes_continuous_aggregates_whose_policies_do_not_run(
    ctx: WorkerContext, db_url: str, test_server: DatabaseServer
) -> None:
    """No background workers (or policies that keep failing): the worker keeps the windows current."""
    if test_server.edition != "timescale":
        pytest.skip("continuous aggregates need the full TimescaleDB edition")
    now = datetime.now(UTC)
    with psycopg.connect(db_url, autocommit=True) as conn:
        migrate(conn, Settings(windows_engine="continuous_aggregates"))
        # As with timescaledb.max_background_workers = 0: no policy ever runs.
        conn.execute(
            "SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs "
            "WHERE hypertable_schema = 'tsmon'"
        )
        writer = SampleWriter(conn, SeriesCache(10))
        minutes = [now - timedelta(minutes=m) for m in range(30, 2, -1)]
        n = len(minutes)
        writer.write(SampleBatch(["w"] * n, ["{}"] * n, [datetime_to_us(t) for t in minutes], [1.0] * n))
        maintain_windows(ctx)
        assert ctx.metrics.windows_fallback._value.get() == 1
        assert 0 < ctx.metrics.windows_lag._value.get() < 180
        levels = {f.resolution: f for f in health.freshness(conn)}
        mark = levels["1m"].watermark
        assert mark is not None and now - mark < timedelta(minutes=3)
        assert not any(f.behind for f in levels.values())
        maintain_windows(ctx)  # current now: nothing to cover for
        assert ctx.metrics.windows_fallback._value.get() == 1


def test_a_failing_shard_backs_off_alone(ctx: WorkerContext, db_url: str) -> None:
    """A config the database holds but the detector cannot run fails alone; the others are scored."""
    from tsmon.ingest.batch import canonical_labels
    from tsmon.scoring.configs import apply_yaml
    from tsmon.worker import run_detection

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with psycopg.connect(db_url, autocommit=True) as conn:
        batch = SampleBatch()
        for metric in ("good_load", "bad_load"):
            for m in range(180, 0, -1):
                batch.append(
                    metric, canonical_labels({"h": "1"}), datetime_to_us(now - timedelta(minutes=m)), m % 7
                )
        SampleWriter(conn, SeriesCache(10)).write(batch)
        apply_yaml(
            conn,
            "configs:\n"
            "  - {name: good, metric: good_load, detector: mad, training_window: 1d}\n"
            "  - {name: bad, metric: bad_load, detector: mad, training_window: 1d}\n",
        )
        # As an older tsmon let through: parameters the detector does not take.
        conn.execute(
            "UPDATE tsmon.detection_configs SET params = '{\"no_such\": 1}', "
            "created_at = now() - interval '1 hour' WHERE name = 'bad'"
        )
        run_detection(ctx)
        assert ctx.metrics.windows_scored.labels("good")._value.get() > 0
        assert ctx.metrics.shard_failures.labels("bad")._value.get() == 1
        status = conn.execute(
            "SELECT failing_shards, last_error, lag > interval '30 minutes' FROM tsmon.detection_status "
            "WHERE config = 'bad'"
        ).fetchone()
        assert status is not None and status[0] == 1 and "no_such" in str(status[1]) and status[2] is True
        run_detection(ctx)  # backing off: not claimed again at once
        assert ctx.metrics.shard_failures.labels("bad")._value.get() == 1
        assert ctx.metrics.detection_lag.labels("bad")._value.get() > 0  # never scored: lagging, not 0
        conn.execute("UPDATE tsmon.detection_configs SET params = '{}' WHERE name = 'bad'")
        conn.execute("UPDATE tsmon.detection_shards SET retry_after = now() - interval '1 second'")
        run_detection(ctx)
        assert ctx.metrics.windows_scored.labels("bad")._value.get() > 0
        cleared = conn.execute(
            "SELECT failing_shards FROM tsmon.detection_status WHERE config = 'bad'"
        ).fetchone()
        assert cleared == (0,)
