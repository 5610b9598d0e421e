"""Switching the windows engine keeps every materialised window: carried out, rebuilt, then restored.

Windows outlive raw samples (raw 30 days, minutes 90, hours 730, days forever), so rebuilding
from raw alone would lose everything older. The old engine's rows are copied into carry tables
before it is dropped; after the new engine has materialised what raw samples still hold, a carried
row fills each bucket the new engine has not got, or holds fewer samples in (raw data dropped).
An interrupted switch leaves its carry tables: the next migrate restores from them, never re-copies.
"""

from __future__ import annotations

import logging

from psycopg import sql

from tsmon.db import Conn
from tsmon.windows.definitions import COLUMNS, RESOLUTIONS, Resolution

log = logging.getLogger("tsmon.windows")
_COLUMN_LIST = sql.SQL(", ").join(map(sql.Identifier, COLUMNS))


def carry_table(res: Resolution) -> sql.Identifier:
    return sql.Identifier("tsmon", f"_windows_carry_{res.name}")


def _exists(conn: Conn, ident: sql.Identifier) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (ident.as_string(conn),)).fetchone()
    return bool(row and row[0])


def pending(conn: Conn) -> bool:
    """Whether an earlier switch left windows to restore."""
    return any(_exists(conn, carry_table(res)) for res in RESOLUTIONS)


def carry_out(conn: Conn, engine: str) -> dict[str, int]:
    """Copy every materialised window of ``engine`` into carry tables.

    Materialised rows only: the part still computed at query time comes from raw samples, which
    the new engine reads too (and an extreme value there must not stop the copy).
    """
    copied: dict[str, int] = {}
    for res in RESOLUTIONS:
        carry = carry_table(res)
        if _exists(conn, carry) or not _exists(conn, res.relation):
            continue
        table, bound = _target(conn, engine, res)
        cur = conn.execute(
            sql.SQL("CREATE TABLE {carry} AS SELECT {c} FROM {t} WHERE bucket < {bound}").format(
                carry=carry, c=_COLUMN_LIST, t=table, bound=bound
            )
        )
        copied[res.name] = max(cur.rowcount, 0)
    log.info("windows carried over the rebuild: %s", copied)
    return copied


def _target(conn: Conn, engine: str, res: Resolution) -> tuple[sql.Identifier, sql.Composable]:
    """Where the new engine keeps the level's materialised rows, and the bound below which they are final."""
    if engine == "tsmon":
        return res.table, sql.SQL("tsmon.window_watermark({})").format(sql.Literal(res.name))
    row = conn.execute(
        "SELECT materialization_hypertable_schema, materialization_hypertable_name "
        "FROM timescaledb_information.continuous_aggregates WHERE view_schema = 'tsmon' AND view_name = %s",
        (f"samples_{res.name}",),
    ).fetchone()
    assert row is not None, f"continuous aggregate tsmon.samples_{res.name} is missing"
    table = sql.Identifier(str(row[0]), str(row[1]))
    # Above the newest materialised bucket the aggregate answers from its source at query time.
    bound = sql.SQL("coalesce((SELECT max(bucket) + {step}::interval FROM {t}), 'infinity')").format(
        step=sql.Literal(res.bucket), t=table
    )
    return table, bound


def restore(conn: Conn, engine: str) -> dict[str, int]:
    """Fill the new engine's windows from the carry tables (finest level first), then drop them."""
    restored: dict[str, int] = {}
    for res in RESOLUTIONS:
        carry = carry_table(res)
        if not _exists(conn, carry):
            continue
        table, bound = _target(conn, engine, res)
        with conn.transaction():
            # The new row was built from fewer raw samples than the carried one: the carried one wins.
            conn.execute(
                sql.SQL(
                    "DELETE FROM {t} t USING {carry} c WHERE t.series_id = c.series_id "
                    "AND t.bucket = c.bucket AND t.count < c.count AND c.bucket < {bound}"
                ).format(t=table, carry=carry, bound=bound)
            )
            cur = conn.execute(
                sql.SQL(
                    "INSERT INTO {t} ({c}) SELECT {cc} FROM {carry} c WHERE c.bucket < {bound} "
                    "AND NOT EXISTS (SELECT 1 FROM {t} t WHERE t.series_id = c.series_id "
                    "AND t.bucket = c.bucket)"
                ).format(
                    t=table,
                    c=_COLUMN_LIST,
                    cc=sql.SQL(", ").join(sql.Identifier("c", col) for col in COLUMNS),
                    carry=carry,
                    bound=bound,
                )
            )
            restored[res.name] = max(cur.rowcount, 0)
            conn.execute(sql.SQL("DROP TABLE {}").format(carry))
    log.info("windows restored after the engine switch: %s", restored)
    return restored
