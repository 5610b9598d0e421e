"""Windows health: watermark lag on either engine; policy jobs that fail or never ran (full edition)."""

from __future__ import annotations

import time
from datetime import timedelta

import psycopg
import pytest
from click.testing import CliRunner

from tests.conftest import DatabaseServer
from tsmon.cli import cli
from tsmon.schema import migrate
from tsmon.settings import Settings
from tsmon.windows import health
from tsmon.windows.definitions import DAY, HOUR, MINUTE

Conn = psycopg.Connection[tuple[object, ...]]


def test_freshness_follows_each_level_s_refresh_schedule(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        migrate(conn, Settings(windows_engine="tsmon"))
        allowed = {f.resolution: f.allowed_lag_seconds for f in health.freshness(conn)}
        # end offset + bucket + 3 x refresh interval, from each level's refresh schedule
        assert allowed == {
            res.name: (timedelta(minutes=5), timedelta(hours=2, minutes=30), timedelta(days=2, hours=3))[
                i
            ].total_seconds()
            for i, res in enumerate((MINUTE, HOUR, DAY))
        }
        assert [f.behind for f in health.freshness(conn)] == [
            False,
            False,
            False,
        ]  # no samples: nothing to materialise
        conn.execute(
            "UPDATE tsmon.window_watermarks SET watermark = CASE resolution "
            "WHEN '1m' THEN now() - interval '6 minutes' WHEN '1h' THEN now() - interval '1 hour' END"
        )
        conn.execute(
            "INSERT INTO tsmon.samples (time, series_id, value) VALUES (now() - interval '3 hours', 1, 1)"
        )
        behind = [f.resolution for f in health.freshness(conn) if f.behind]
        assert behind == ["1m"]  # no complete day yet
        conn.execute(
            "INSERT INTO tsmon.samples (time, series_id, value) VALUES (now() - interval '3 days', 1, 1)"
        )
        assert [f.resolution for f in health.freshness(conn) if f.behind] == ["1m", "1d"]


def test_status_shows_lag_on_the_tsmon_engine(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        migrate(conn, Settings(windows_engine="tsmon"))
    monkeypatch.setenv("TSMON_DATABASE_URL", db_url)
    out = CliRunner().invoke(cli, ["windows", "status"])
    assert out.exit_code == 0, out.output
    assert "engine: tsmon" in out.output and "  1m: materialised before" in out.output


def _failing_policy(conn: Conn) -> int:
    """Make the 1m refresh policy fail (a refresh window too small for a bucket) and run it now."""
    job_id = conn.execute(
        "SELECT job_id FROM timescaledb_information.jobs "
        "WHERE proc_name = 'policy_refresh_continuous_aggregate' AND hypertable_name = 'samples_1m'"
    ).fetchone()
    assert job_id is not None
    too_small = '{"start_offset": "2 minutes", "end_offset": "1 minute"}'
    conn.execute(
        "SELECT alter_job(job_id, config => config || %s::jsonb, next_start => now()) "
        "FROM timescaledb_information.jobs WHERE job_id = %s",
        (too_small, job_id[0]),
    )
    return int(job_id[0])


@pytest.mark.slow
def test_status_reports_a_policy_that_never_succeeded(
    db_url: str, test_server: DatabaseServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    if test_server.edition != "timescale":
        pytest.skip("policy jobs exist on the full TimescaleDB edition only")
    with psycopg.connect(db_url, autocommit=True) as conn:
        migrate(conn, Settings(windows_engine="continuous_aggregates"))
        if health.background_workers(conn) == 0:
            pytest.skip("this server runs no background workers: no policy runs to fail")
        job_id = _failing_policy(conn)
        # A new database gets its job scheduler at the launcher's next poll (every minute by default).
        for _ in range(360):
            job = next(j for j in health.job_health(conn) if j.job_id == job_id)
            if job.total_failures:
                break
            time.sleep(0.5)
        assert job.failing and job.last_success is None and job.total_failures >= 1, job
    monkeypatch.setenv("TSMON_DATABASE_URL", db_url)
    out = CliRunner().invoke(cli, ["windows", "status"])
    assert out.exit_code == 0, out.output  # it crashed on -infinity as "last success"
    assert f"job {job_id} policy_refresh_continuous_aggregate" in out.output
    assert "Failed, last success never" in out.output
