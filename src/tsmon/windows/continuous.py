"""Windows as TimescaleDB continuous aggregates (full edition): real-time, refreshed, retained, compressed."""

from __future__ import annotations

import psycopg
from psycopg import sql

from tsmon.windows.definitions import RESOLUTIONS, aggregate_query
from tsmon.windows.retention import RetentionSettings

Conn = psycopg.Connection[tuple[object, ...]]
SAMPLES = sql.Identifier("tsmon", "samples")


def install(conn: Conn) -> None:
    """Create the hierarchical continuous aggregates (empty; `backfill` materialises history)."""
    for res in RESOLUTIONS:
        source = SAMPLES if res.source is None else sql.Identifier("tsmon", f"samples_{res.source}")
        conn.execute(
            sql.SQL(
                "CREATE MATERIALIZED VIEW IF NOT EXISTS {rel} WITH (timescaledb.continuous, "
                # Real-time aggregation is off by default since 2.13: windows must include the newest data.
                "timescaledb.materialized_only = false) AS {query} WITH NO DATA"
            ).format(rel=res.relation, query=aggregate_query(res, source))
        )
        # A continuous aggregate is a view in the catalog (its data lives in a hypertable).
        conn.execute(sql.SQL("COMMENT ON VIEW {} IS {}").format(res.relation, res.comment))
        # The default (10x the source's chunks) would keep retention from dropping anything for months.
        hypertable = conn.execute(
            "SELECT format('%%I.%%I', materialization_hypertable_schema, materialization_hypertable_name) "
            "FROM timescaledb_information.continuous_aggregates "
            "WHERE view_schema = 'tsmon' AND view_name = %s",
            (f"samples_{res.name}",),
        ).fetchone()
        assert hypertable is not None
        conn.execute(
            "SELECT set_chunk_time_interval(%s::regclass, %s::interval)", (hypertable[0], res.chunk_interval)
        )


def apply_policies(conn: Conn, retention: RetentionSettings) -> None:
    """(Re)create refresh, retention and compression policies from the current settings."""
    for res in RESOLUTIONS:
        rel = sql.Literal(f"tsmon.samples_{res.name}")
        conn.execute(sql.SQL("SELECT remove_continuous_aggregate_policy({}, if_exists => true)").format(rel))
        conn.execute(
            sql.SQL(
                "SELECT add_continuous_aggregate_policy({rel}, start_offset => {s}::interval, "
                "end_offset => {e}::interval, schedule_interval => {every}::interval)"
            ).format(
                rel=rel,
                s=sql.Literal(res.refresh_start),
                e=sql.Literal(res.refresh_end),
                every=sql.Literal(res.refresh_every),
            )
        )
    for relation, days in retention.by_relation().items():
        rel = sql.Literal(relation)
        conn.execute(sql.SQL("SELECT remove_retention_policy({}, if_exists => true)").format(rel))
        if days is not None:
            conn.execute(
                sql.SQL("SELECT add_retention_policy({}, drop_after => {}::interval)").format(
                    rel, sql.Literal(f"{days} days")
                )
            )
    compressed = conn.execute(
        "SELECT 1 FROM timescaledb_information.compression_settings "
        "WHERE hypertable_schema = 'tsmon' AND hypertable_name = 'samples'"
    ).fetchone()
    if not compressed:
        conn.execute(
            "ALTER TABLE tsmon.samples SET (timescaledb.compress, "
            "timescaledb.compress_segmentby = 'series_id', timescaledb.compress_orderby = 'time DESC')"
        )
    conn.execute("SELECT remove_compression_policy('tsmon.samples', if_exists => true)")
    conn.execute(
        sql.SQL("SELECT add_compression_policy('tsmon.samples', compress_after => {}::interval)").format(
            sql.Literal(f"{retention.compress_after_days} days")
        )
    )


def refresh(conn: Conn) -> None:
    """Materialise everything complete by now, finest first (each level is built from the one below).

    Up to now, not to infinity: buckets that have not ended stay real-time, like the policies leave them.
    """
    for res in RESOLUTIONS:
        conn.execute(
            sql.SQL("CALL refresh_continuous_aggregate({}, NULL, now())").format(
                sql.Literal(f"tsmon.samples_{res.name}")
            )
        )


def drop(conn: Conn) -> None:
    for res in reversed(RESOLUTIONS):
        conn.execute(sql.SQL("DROP MATERIALIZED VIEW IF EXISTS {} CASCADE").format(res.relation))
    conn.execute("SELECT remove_retention_policy('tsmon.samples', if_exists => true)")
    conn.execute("SELECT remove_compression_policy('tsmon.samples', if_exists => true)")
