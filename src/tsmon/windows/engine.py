"""Choose, record and switch the windows engine at migrate time; refresh and retention for either one."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from tsmon.db import Conn
from tsmon.windows import continuous, health, maintained, switch
from tsmon.windows.retention import RetentionSettings

log = logging.getLogger("tsmon.windows")
Engine = Literal["continuous_aggregates", "tsmon"]
# Version of the window aggregates (definitions.aggregate_query); see migration 0009.
DEFINITION = 2


def current_engine(conn: Conn) -> Engine | None:
    row = conn.execute("SELECT engine FROM tsmon.windows_engine").fetchone()
    return None if row is None else row[0]


def wanted_engine(conn: Conn, setting: str) -> Engine:
    """The setting, or for 'auto' what the server's edition offers (as tsmon.capabilities() reports it)."""
    if setting in ("continuous_aggregates", "tsmon"):
        return setting  # type: ignore[return-value]
    row = conn.execute("SELECT current_setting('timescaledb.license', true) = 'timescale'").fetchone()
    return "continuous_aggregates" if row and row[0] else "tsmon"


def install_windows(conn: Conn, setting: str, retention: RetentionSettings) -> Engine:
    """Create the windows for the chosen engine; on a change of engine, rebuild and keep every window.

    Runs with autocommit (continuous aggregates refresh outside transactions). The public views
    over the windows (sql/50_windows.sql) are re-created by the migration run afterwards.
    """
    engine = wanted_engine(conn, setting)
    before = current_engine(conn)
    # Continuous aggregates keep the query they were created with: an older definition is rebuilt
    # like an engine change (tsmon's own views are re-created by every install).
    outdated = before == engine == "continuous_aggregates" and _definition(conn) < DEFINITION
    if before is not None and (before != engine or outdated):
        log.warning(
            "windows: rebuilding %s as %s (definition %s) from raw samples, keeping older windows",
            before,
            engine,
            DEFINITION,
        )
        switch.carry_out(conn, before)
        (continuous.drop if before == "continuous_aggregates" else maintained.drop)(conn)
    if engine == "continuous_aggregates":
        continuous.install(conn)
        continuous.apply_policies(conn, retention)
    else:
        maintained.install(conn)
    conn.execute(
        "INSERT INTO tsmon.windows_engine (engine, definition) VALUES (%s, %s) ON CONFLICT (singleton) "
        "DO UPDATE SET engine = EXCLUDED.engine, definition = EXCLUDED.definition, "
        "chosen_at = CASE WHEN windows_engine.engine = EXCLUDED.engine THEN windows_engine.chosen_at "
        "ELSE now() END",
        (engine, DEFINITION),
    )
    if before != engine or outdated or switch.pending(conn):
        # History must be materialised once: real-time results only cover what is above the watermark.
        refresh_windows(conn, retention)
        switch.restore(conn, engine)
    return engine


def _definition(conn: Conn) -> int:
    row = conn.execute("SELECT definition FROM tsmon.windows_engine").fetchone()
    return int(row[0]) if row else DEFINITION


def refresh_windows(conn: Conn, retention: RetentionSettings, now: datetime | None = None) -> bool:
    """Bring every window up to date now; True when fully caught up."""
    engine = current_engine(conn)
    if engine == "continuous_aggregates":
        continuous.refresh(conn)
        return True
    if engine == "tsmon":
        now = now or datetime.now(UTC)
        oldest = now - timedelta(days=retention.raw_days)
        while not maintained.refresh(conn, now, oldest=oldest).caught_up:
            pass
        return True
    return False


def apply_retention(conn: Conn, retention: RetentionSettings) -> None:
    """Drop chunks past retention now: tsmon's drop_chunks, or run the retention policies' jobs."""
    engine = current_engine(conn)
    if engine == "tsmon":
        maintained.apply_retention(conn, retention)
    elif engine == "continuous_aggregates":
        continuous.apply_policies(conn, retention)
        jobs = conn.execute(
            "SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention' "
            "AND hypertable_schema IN ('tsmon', '_timescaledb_internal')"
        ).fetchall()
        for (job_id,) in jobs:
            conn.execute("CALL run_job(%s)", (job_id,))


@dataclass
class CatchUp:
    """What `catch_up` found and did: watermarks after it, levels that were behind, policy job health."""

    watermarks: dict[str, datetime | None] = field(default_factory=dict)
    behind: list[str] = field(default_factory=list)
    jobs: list[health.JobHealth] = field(default_factory=list)


def catch_up(conn: Conn) -> CatchUp:
    """Continuous aggregates whose policies fail or never run (no background workers) are
    refreshed here instead, so the windows never fall behind; a no-op while policies keep up."""
    report = CatchUp()
    if current_engine(conn) != "continuous_aggregates":
        return report
    report.jobs = health.job_health(conn)
    report.behind = [f.resolution for f in health.freshness(conn) if f.behind]
    if report.behind:
        continuous.refresh(conn)
    report.watermarks = {f.resolution: f.watermark for f in health.freshness(conn)}
    return report
