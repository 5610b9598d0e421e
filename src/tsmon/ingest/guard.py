"""The database's own ingest guard: the limits row and the samples' time-window trigger."""

from __future__ import annotations

from psycopg import sql

from tsmon.db import Conn
from tsmon.settings import Settings

# The trigger's window is wider than the API's by this much, so the API's own check (with a located
# reason) always answers first and the trigger only stops writes that went around it.
MARGIN_SECONDS = 300.0
TRIGGER = "samples_time_window"


def install_ingest_guard(conn: Conn, settings: Settings, engine: str) -> None:
    """Write the limits row from ``settings`` and (re)create the time-window trigger on tsmon.samples.

    The trigger fires only for rows outside the window (its WHEN clause), so in-window writes pay
    one comparison per row. It is not installed under continuous aggregates: TimescaleDB 2.28
    records no invalidation for a COPY into a hypertable that has a row trigger, so windows would
    silently miss late rows; there the API's check and ``upsert_samples``' check remain.
    """
    future = settings.limit_future_seconds
    retention = settings.raw_retention_days * 86400.0
    conn.execute(
        "UPDATE tsmon.ingest_limits SET series_per_metric = %s, series_total = %s, "
        "future = make_interval(secs => %s), retention = make_interval(secs => %s), updated_at = now()",
        (settings.limit_series_per_metric, settings.limit_series_total, future, retention),
    )
    conn.execute(sql.SQL("DROP TRIGGER IF EXISTS {} ON tsmon.samples").format(sql.Identifier(TRIGGER)))
    if engine == "continuous_aggregates":
        return
    conn.execute(
        sql.SQL(
            "CREATE TRIGGER {name} BEFORE INSERT ON tsmon.samples FOR EACH ROW "
            "WHEN (NEW.time > now() + {ahead} OR NEW.time < now() - {behind}) "
            "EXECUTE FUNCTION tsmon.refuse_sample_outside_window()"
        ).format(
            name=sql.Identifier(TRIGGER),
            ahead=_interval(future),
            behind=_interval(retention),
        )
    )


def _interval(seconds: float) -> sql.Composable:
    return sql.SQL("interval {}").format(sql.Literal(f"{seconds + MARGIN_SECONDS} seconds"))
