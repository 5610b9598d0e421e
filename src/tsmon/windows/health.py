"""Are the windows current? Watermark lag per resolution (either engine) and TimescaleDB job health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg.rows import class_row

from tsmon.db import Conn

# Policies of tsmon's own relations (refresh, retention, compression), not other extensions' jobs.
_TSMON_JOBS = """
    SELECT j.job_id, j.proc_name AS proc, coalesce(j.hypertable_name, '') AS relation, j.scheduled,
           s.last_run_status AS last_status,
           -- -infinity: never finished successfully (psycopg cannot load infinite timestamps)
           nullif(s.last_successful_finish, '-infinity') AS last_success,
           nullif(s.last_run_started_at, '-infinity') AS last_run,
           coalesce(s.total_runs, 0) AS total_runs, coalesce(s.total_failures, 0) AS total_failures,
           (SELECT e.err_message FROM timescaledb_information.job_errors e WHERE e.job_id = j.job_id
             ORDER BY e.start_time DESC NULLS LAST LIMIT 1) AS last_error
    FROM timescaledb_information.jobs j
    LEFT JOIN timescaledb_information.job_stats s USING (job_id)
    -- a continuous aggregate's policies name the aggregate (tsmon.samples_1m), not its hypertable
    WHERE j.proc_name LIKE 'policy_%%' AND j.hypertable_schema = 'tsmon'
    ORDER BY j.job_id"""


@dataclass(frozen=True)
class JobHealth:
    """One TimescaleDB policy job of tsmon's relations, as job_stats and job_errors report it."""

    job_id: int
    proc: str
    relation: str
    scheduled: bool
    last_status: str | None
    last_success: datetime | None
    last_run: datetime | None
    total_runs: int
    total_failures: int
    last_error: str | None

    @property
    def failing(self) -> bool:
        return self.last_status == "Failed"


def job_health(conn: Conn) -> list[JobHealth]:
    """tsmon's policy jobs (none on the Apache edition, whose windows tsmon maintains itself)."""
    with conn.cursor(row_factory=class_row(JobHealth)) as cur:
        cur.execute(_TSMON_JOBS)
        return cur.fetchall()


def background_workers(conn: Conn) -> int:
    """timescaledb.max_background_workers: 0 means no policy ever runs (some managed services)."""
    row = conn.execute("SELECT current_setting('timescaledb.max_background_workers', true)").fetchone()
    return int(row[0]) if row and row[0] else 0


@dataclass(frozen=True)
class Freshness:
    """One window level as tsmon.windows_freshness() sees it (the rule lives there, in SQL only)."""

    resolution: str
    engine: str
    watermark: datetime | None
    lag_seconds: float | None
    allowed_lag_seconds: float
    behind: bool


def freshness(conn: Conn) -> list[Freshness]:
    """Each level's watermark, lag and whether it is further behind than its refresh schedule allows."""
    with conn.cursor(row_factory=class_row(Freshness)) as cur:
        cur.execute(
            "SELECT resolution, engine, watermark, lag_seconds, allowed_lag_seconds, behind "
            "FROM tsmon.windows_freshness()"
        )
        return cur.fetchall()
