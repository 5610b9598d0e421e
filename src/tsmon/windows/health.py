"""Are the windows current? Watermark lag per resolution (either engine) and TimescaleDB job health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg import sql
from psycopg.rows import class_row

from tsmon.db import Conn
from tsmon.windows.definitions import RESOLUTIONS, Resolution

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


def expected_lag(res: Resolution) -> timedelta:
    """How far behind now a level's watermark may be while its refresh runs on time.

    The policy materialises up to now - end_offset, floored to the bucket, every schedule
    interval; three missed runs beyond that is "behind" (the worker then refreshes itself).
    """
    return _interval(res.refresh_end) + res.step + 3 * _interval(res.refresh_every)


def _interval(text: str) -> timedelta:
    number, unit = text.split()
    return timedelta(**{unit.rstrip("s") + "s": float(number)})


def watermarks(conn: Conn, engine: str) -> dict[str, datetime | None]:
    """Each level's materialisation watermark (None: nothing materialised yet)."""
    if engine == "tsmon":
        rows = conn.execute("SELECT resolution, watermark FROM tsmon.window_watermarks").fetchall()
        return {str(name): mark for name, mark in rows if mark is None or isinstance(mark, datetime)}
    marks: dict[str, datetime | None] = {}
    for res in RESOLUTIONS:
        row = conn.execute(
            sql.SQL(
                # An empty aggregate's watermark is the type's minimum (4714 BC): nothing materialised.
                "SELECT CASE WHEN w > '1900-01-01' AND w < '9999-01-01' THEN w END FROM ("
                "SELECT _timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark("
                "mat_hypertable_id)) AS w FROM _timescaledb_catalog.continuous_agg "
                "WHERE user_view_schema = 'tsmon' AND user_view_name = {}) m"
            ).format(sql.Literal(f"samples_{res.name}"))
        ).fetchone()
        marks[res.name] = row[0] if row and isinstance(row[0], datetime) else None
    return marks


def first_sample(conn: Conn) -> datetime | None:
    row = conn.execute("SELECT min(time) FROM tsmon.samples").fetchone()
    return row[0] if row and isinstance(row[0], datetime) else None


def behind(marks: dict[str, datetime | None], now: datetime, first: datetime | None) -> list[str]:
    """The levels whose watermark is further behind than their refresh schedule allows.

    A level with nothing materialised is behind once raw samples older than that allowance
    exist (a complete bucket should have been materialised by then); ``first`` is the oldest.
    """
    late = []
    for res in RESOLUTIONS:
        if res.name not in marks:
            continue
        mark = marks[res.name]
        since = mark if mark is not None else first
        if since is not None and now - since > expected_lag(res):
            late.append(res.name)
    return late
