"""Windows maintained by tsmon (Apache edition): materialised tables, a real-time tail, a refresh job."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from psycopg import sql

from tsmon.db import Conn
from tsmon.windows.definitions import BY_NAME, COLUMNS, RESOLUTIONS, Resolution, aggregate_query, floor_time
from tsmon.windows.retention import RetentionSettings

SAMPLES = sql.Identifier("tsmon", "samples")
# Shared by writers (tsmon.note_samples_written), exclusive here: see sql/45_windows_write.sql.
WRITE_LOCK = 7631001
_COLUMN_LIST = sql.SQL(", ").join(map(sql.Identifier, COLUMNS))


def install(conn: Conn) -> None:
    """Tables, watermarks and the union views, under the continuous aggregates' names."""
    for res in RESOLUTIONS:
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {t} (bucket timestamptz NOT NULL, series_id bigint NOT NULL, "
                "count bigint NOT NULL, sum float8, sum_sq float8, min float8, max float8, first float8, "
                "last float8, increase float8, PRIMARY KEY (series_id, bucket))"
            ).format(t=res.table)
        )
        conn.execute(
            sql.SQL(
                "SELECT create_hypertable({t}, by_range('bucket', {c}::interval), if_not_exists => true)"
            ).format(t=sql.Literal(f"tsmon._windows_{res.name}"), c=sql.Literal(res.chunk_interval))
        )
        conn.execute(
            "INSERT INTO tsmon.window_watermarks (resolution) VALUES (%s) ON CONFLICT DO NOTHING", (res.name,)
        )
    for res in RESOLUTIONS:
        wm = _watermark(res)
        if res.source is None:
            tail = aggregate_query(res, SAMPLES, sql.SQL("time >= {}").format(wm))
        else:
            # The provisional rows of this level and the finer ones above the minute level (each
            # level's unfinished bucket, up to the finer level's watermark) plus the minutes not
            # materialised yet: a few rows per series, so a query never aggregates an hour of
            # minutes or a day of hours at query time.
            parts = [
                sql.SQL("SELECT {c} FROM {t} WHERE bucket >= {wm}").format(
                    c=_COLUMN_LIST, t=level.table, wm=_watermark(level)
                )
                for level in RESOLUTIONS[1 : RESOLUTIONS.index(res) + 1]
            ]
            parts.append(
                sql.SQL("SELECT {c} FROM {mrt}").format(c=_COLUMN_LIST, mrt=_real_time(RESOLUTIONS[0]))
            )
            source = sql.SQL("({}) AS finer").format(sql.SQL(" UNION ALL ").join(parts))
            tail = aggregate_query(res, source)
        conn.execute(sql.SQL("CREATE OR REPLACE VIEW {} AS {}").format(_real_time(res), tail))
        conn.execute(
            sql.SQL("COMMENT ON VIEW {} IS {}").format(
                _real_time(res),
                sql.Literal(f"Internal: the {res.name} windows not materialised yet (query time)."),
            )
        )
        conn.execute(
            sql.SQL(
                "CREATE OR REPLACE VIEW {rel} AS SELECT {c} FROM {t} WHERE bucket < {wm} "
                "UNION ALL SELECT {c} FROM {rt}"
            ).format(rel=res.relation, c=_COLUMN_LIST, t=res.table, wm=wm, rt=_real_time(res))
        )
        conn.execute(sql.SQL("COMMENT ON VIEW {} IS {}").format(res.relation, res.comment))
    # A database refreshed by an older tsmon has no provisional rows yet: the views need them now.
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
        rows = conn.execute("SELECT resolution, watermark FROM tsmon.window_watermarks").fetchall()
        marks = {str(name): mark for name, mark in rows if isinstance(mark, datetime)}
        if len(marks) == len(RESOLUTIONS):
            _write_provisional(conn, marks)


def _watermark(res: Resolution) -> sql.Composed:
    return sql.SQL("tsmon.window_watermark({})").format(sql.Literal(res.name))


def _real_time(res: Resolution) -> sql.Identifier:
    """The part of a level not yet materialised, aggregated at query time (watermarks: 1d <= 1h <= 1m)."""
    return sql.Identifier("tsmon", f"_windows_{res.name}_real_time")


def drop(conn: Conn) -> None:
    for res in reversed(RESOLUTIONS):
        conn.execute(sql.SQL("DROP VIEW IF EXISTS {} CASCADE").format(res.relation))
        conn.execute(sql.SQL("DROP VIEW IF EXISTS {} CASCADE").format(_real_time(res)))
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(res.table))
    conn.execute("DELETE FROM tsmon.window_watermarks")
    conn.execute("DELETE FROM tsmon.window_invalidations")


@dataclass
class RefreshReport:
    """What one refresh did: the new watermarks and how many buckets were (re)written per level."""

    watermarks: dict[str, datetime] = field(default_factory=dict)
    buckets_written: dict[str, int] = field(default_factory=dict)
    invalidations: int = 0
    caught_up: bool = True


def _merge(ranges: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _source(res: Resolution) -> tuple[sql.Identifier, sql.Identifier]:
    if res.source is None:
        return SAMPLES, sql.Identifier("time")
    return BY_NAME[res.source].table, sql.Identifier("bucket")


def _rewrite(conn: Conn, res: Resolution, lo: datetime, hi: datetime) -> int:
    """Recompute the buckets of ``res`` in [lo, hi) from its source's materialised data."""
    if lo >= hi:
        return 0
    conn.execute(sql.SQL("DELETE FROM {} WHERE bucket >= %s AND bucket < %s").format(res.table), (lo, hi))
    source, time_col = _source(res)
    where = sql.SQL("{c} >= %s AND {c} < %s").format(c=time_col)
    cur = conn.execute(
        sql.SQL("INSERT INTO {t} ({cols}) {q}").format(
            t=res.table, cols=_COLUMN_LIST, q=aggregate_query(res, source, where)
        ),
        (lo, hi),
    )
    return max(cur.rowcount, 0)


def _first_source_time(conn: Conn, res: Resolution) -> datetime | None:
    source, time_col = _source(res)
    row = conn.execute(sql.SQL("SELECT min({}) FROM {}").format(time_col, source)).fetchone()
    return row[0] if row and isinstance(row[0], datetime) else None


def refresh(
    conn: Conn, now: datetime, max_span: timedelta = timedelta(hours=6), oldest: datetime | None = None
) -> RefreshReport:
    """Fold late data into materialised buckets, then materialise what is complete; one transaction.

    Work is proportional to what changed (invalidated ranges and new buckets), not to history.
    At most ``max_span`` of new raw data per call, so a catch-up after downtime goes in steps.
    ``oldest`` (raw retention) keeps late-data recomputation away from dropped raw chunks.
    """
    report = RefreshReport()
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
        marks: dict[str, datetime | None] = dict(
            conn.execute("SELECT resolution, watermark FROM tsmon.window_watermarks").fetchall()
        )
        rows = conn.execute("DELETE FROM tsmon.window_invalidations RETURNING lo, hi").fetchall()
        report.invalidations = len(rows)
        late = _merge([(lo, hi) for lo, hi in rows if isinstance(lo, datetime) and isinstance(hi, datetime)])
        if oldest is not None:
            late = [(max(lo, oldest), hi) for lo, hi in late if hi > oldest]
        source_mark: datetime | None = None
        for res in RESOLUTIONS:
            old = marks.get(res.name)
            if res.source is None:  # complete minutes: those ended at least a minute ago
                new = floor_time(now - res.step, res.step)
            else:
                assert source_mark is not None
                new = floor_time(source_mark, res.step)
            start = old
            if start is None:
                first = _first_source_time(conn, res)
                if first is None:  # nothing to materialise yet: all of it stays real-time
                    break
                start = floor_time(first, res.step)
            if res.source is None and new - start > max_span:
                new, report.caught_up = floor_time(start + max_span, res.step), False
            new = max(new, start)
            written = 0
            if old is not None:
                for lo, hi in late:
                    written += _rewrite(
                        conn, res, floor_time(lo, res.step), min(floor_time(hi, res.step) + res.step, old)
                    )
            written += _rewrite(conn, res, start, new)
            conn.execute(
                "UPDATE tsmon.window_watermarks SET watermark = %s, refreshed_at = now() "
                "WHERE resolution = %s",
                (new, res.name),
            )
            report.watermarks[res.name] = new
            report.buckets_written[res.name] = written
            source_mark = new
        if len(report.watermarks) == len(RESOLUTIONS):
            _write_provisional(conn, report.watermarks, marks, late)
    return report


def _write_provisional(
    conn: Conn,
    marks: dict[str, datetime],
    before: dict[str, datetime | None] | None = None,
    late: list[tuple[datetime, datetime]] | None = None,
) -> None:
    """Keep each coarser level's unfinished bucket: [its watermark, the finer level's watermark).

    Query time merges it with the finer levels' unfinished buckets and the newest minutes. When
    the bucket is the one of the last refresh and no late data fell inside it, only the finer rows
    materialised since are merged in (the hour: every minute; the day: every hour); otherwise it
    is rebuilt from the finer table (at most an hour of minutes, a day of hours).
    """
    before = before or {}
    for res in RESOLUTIONS[1:]:
        assert res.source is not None
        finer = BY_NAME[res.source]
        lo, hi = marks[res.name], marks[finer.name]
        old_hi = before.get(finer.name)
        if (
            before.get(res.name) == lo
            and old_hi is not None
            and not any(end > lo and start < old_hi for start, end in late or [])
        ):
            if hi > old_hi:
                merged = sql.SQL(
                    "(SELECT {c} FROM {t} WHERE bucket >= %s UNION ALL "
                    "SELECT {c} FROM {f} WHERE bucket >= %s AND bucket < %s) AS parts"
                ).format(c=_COLUMN_LIST, t=res.table, f=finer.table)
                conn.execute(
                    sql.SQL(
                        "INSERT INTO {t} ({cols}) {q} ON CONFLICT (series_id, bucket) DO UPDATE SET {set}"
                    ).format(
                        t=res.table,
                        cols=_COLUMN_LIST,
                        q=aggregate_query(res, merged),
                        set=sql.SQL(", ").join(
                            sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in COLUMNS[2:]
                        ),
                    ),
                    (lo, old_hi, hi),
                )
            continue
        conn.execute(sql.SQL("DELETE FROM {} WHERE bucket >= %s").format(res.table), (lo,))
        conn.execute(
            sql.SQL("INSERT INTO {t} ({cols}) {q}").format(
                t=res.table,
                cols=_COLUMN_LIST,
                q=aggregate_query(res, finer.table, sql.SQL("bucket >= %s AND bucket < %s")),
            ),
            (lo, hi),
        )


def apply_retention(conn: Conn, retention: RetentionSettings) -> dict[str, int]:
    """drop_chunks on raw samples and the materialised windows past their retention.

    Through tsmon.drop_expired_chunks, so that the worker's login needs no ownership of the tables.
    """
    dropped: dict[str, int] = {}
    tables = {
        "tsmon.samples": retention.raw_days,
        "tsmon._windows_1m": retention.minute_days,
        "tsmon._windows_1h": retention.hour_days,
        "tsmon._windows_1d": retention.day_days,
    }
    for table, days in tables.items():
        if days is None:
            continue
        row = conn.execute("SELECT tsmon.drop_expired_chunks(%s, %s)", (table, days)).fetchone()
        dropped[table] = int(row[0]) if row else 0
    return dropped
