"""Windows as TimescaleDB continuous aggregates (full edition): real-time, refreshed, retained, compressed."""

from __future__ import annotations

import time

import psycopg
from psycopg import sql

from tsmon.db import Conn
from tsmon.windows.definitions import RESOLUTIONS, aggregate_query
from tsmon.windows.retention import RetentionSettings

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


def _policy_in_place(conn: Conn, proc: str, relation: str, wanted: dict[str, str]) -> bool:
    """Whether a policy job exists for ``relation`` with exactly these interval settings."""
    row = conn.execute(
        "SELECT config, schedule_interval FROM timescaledb_information.jobs "
        "WHERE proc_name = %s AND hypertable_name = %s",
        (proc, relation.split(".")[1]),
    ).fetchone()
    if row is None:
        return False
    config = dict(row[0])
    config["schedule_interval"] = str(row[1])
    for key, value in wanted.items():
        same = conn.execute("SELECT %s::interval = %s::interval", (config.get(key), value)).fetchone()
        if not same or not same[0]:
            return False
    return True


def _ensure_policy(
    conn: Conn, proc: str, relation: str, wanted: dict[str, str] | None, add: sql.Composed
) -> None:
    """Replace the policy only when it differs (so migrating twice changes nothing); None removes it."""
    if wanted is not None and _policy_in_place(conn, proc, relation, wanted):
        return
    remove = {
        "policy_refresh_continuous_aggregate": "remove_continuous_aggregate_policy",
        "policy_retention": "remove_retention_policy",
        "policy_compression": "remove_compression_policy",
    }[proc]
    conn.execute(
        sql.SQL("SELECT {}({}, if_exists => true)").format(sql.Identifier(remove), sql.Literal(relation))
    )
    if wanted is not None:
        conn.execute(add)


def apply_policies(conn: Conn, retention: RetentionSettings) -> None:
    """Refresh, retention and compression policies as the settings say; unchanged ones are left alone."""
    for res in RESOLUTIONS:
        rel = f"tsmon.samples_{res.name}"
        wanted = {
            "start_offset": res.refresh_start,
            "end_offset": res.refresh_end,
            "schedule_interval": res.refresh_every,
        }
        add = sql.SQL(
            "SELECT add_continuous_aggregate_policy({rel}, start_offset => {s}::interval, "
            "end_offset => {e}::interval, schedule_interval => {every}::interval)"
        ).format(
            rel=sql.Literal(rel),
            s=sql.Literal(res.refresh_start),
            e=sql.Literal(res.refresh_end),
            every=sql.Literal(res.refresh_every),
        )
        _ensure_policy(conn, "policy_refresh_continuous_aggregate", rel, wanted, add)
    for relation, days in retention.by_relation().items():
        drop_after = f"{days} days"
        add = sql.SQL("SELECT add_retention_policy({}, drop_after => {}::interval)").format(
            sql.Literal(relation), sql.Literal(drop_after)
        )
        _ensure_policy(
            conn, "policy_retention", relation, None if days is None else {"drop_after": drop_after}, add
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
    after = f"{retention.compress_after_days} days"
    add = sql.SQL("SELECT add_compression_policy('tsmon.samples', compress_after => {}::interval)").format(
        sql.Literal(after)
    )
    _ensure_policy(conn, "policy_compression", "tsmon.samples", {"compress_after": after}, add)


REFRESH_ATTEMPTS = 10


def refresh(conn: Conn) -> None:
    """Materialise everything complete by now, finest first (each level is built from the one below).

    Up to now, not to infinity: buckets that have not ended stay real-time, like the policies leave them.
    """
    for res in RESOLUTIONS:
        statement = sql.SQL("CALL refresh_continuous_aggregate({}, NULL, now())").format(
            sql.Literal(f"tsmon.samples_{res.name}")
        )
        for attempt in range(REFRESH_ATTEMPTS):
            try:
                conn.execute(statement)
                break
            except psycopg.errors.LockNotAvailable:
                # The refresh policy is running on the same range: wait for it rather than fail.
                if attempt == REFRESH_ATTEMPTS - 1:
                    raise
                time.sleep(0.5 * (attempt + 1))


def drop(conn: Conn) -> None:
    for res in reversed(RESOLUTIONS):
        conn.execute(sql.SQL("DROP MATERIALIZED VIEW IF EXISTS {} CASCADE").format(res.relation))
    conn.execute("SELECT remove_retention_policy('tsmon.samples', if_exists => true)")
    conn.execute("SELECT remove_compression_policy('tsmon.samples', if_exists => true)")
