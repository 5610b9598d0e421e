"""Windows equal a direct GROUP BY over raw samples (before refresh, after, after late data); both engines."""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.conftest import DatabaseServer
from tsmon.ingest.batch import SampleBatch, canonical_labels, datetime_to_us
from tsmon.ingest.writer import SampleWriter, SeriesCache
from tsmon.schema import migrate
from tsmon.settings import Settings
from tsmon.windows.engine import apply_retention, current_engine, refresh_windows
from tsmon.windows.retention import RetentionSettings

Conn = psycopg.Connection[tuple[object, ...]]
STALE = struct.unpack(">d", bytes.fromhex("7ff0000000000002"))[0]
BUCKETS = {"1m": "1 minute", "1h": "1 hour", "1d": "1 day"}
NOW = datetime.now(UTC).replace(second=0, microsecond=0)


def engines(server: DatabaseServer) -> list[str]:
    return ["tsmon", "continuous_aggregates"] if server.edition == "timescale" else ["tsmon"]


@pytest.fixture(params=["tsmon", "continuous_aggregates"])
def engine_conn(request: pytest.FixtureRequest, db_url: str, test_server: DatabaseServer) -> Iterator[Conn]:
    """A migrated database whose windows use the given engine (continuous aggregates: full edition only)."""
    engine = str(request.param)
    if engine not in engines(test_server):
        pytest.skip("continuous aggregates need the full TimescaleDB edition")
    with psycopg.connect(db_url, autocommit=True) as conn:
        migrate(conn, Settings(windows_engine=engine))  # type: ignore[arg-type]  # switches if needed
        assert current_engine(conn) == engine
        print(f"windows engine under test: {engine} ({test_server.edition} edition)")
        yield conn


def write(conn: Conn, rows: list[tuple[str, int, float]]) -> None:
    """(series name, µs, value) rows through the product's writer, in shuffled small batches."""
    random.shuffle(rows)
    writer = SampleWriter(conn, SeriesCache(1000))
    for i in range(0, len(rows), 97):
        batch = SampleBatch()
        for name, t, v in rows[i : i + 97]:
            batch.append("m", canonical_labels({"s": name}), t, v)
        writer.write(batch)


def random_rows(rng: random.Random, start: datetime, end: datetime, n: int) -> list[tuple[str, int, float]]:
    rows = []
    span = int((end - start).total_seconds())
    counters = {f"c{i}": 0.0 for i in range(2)}
    for _ in range(n):
        name = rng.choice(["g0", "g1", "g2", "c0", "c1"])
        t = datetime_to_us(start) + rng.randrange(span) * 1_000_000 + rng.choice([0, 250_000])
        if name.startswith("c"):  # counters: mostly rising, sometimes reset
            counters[name] = 0.0 if rng.random() < 0.05 else counters[name] + rng.randrange(10)
            v = counters[name]
        else:
            v = (
                rng.choice([rng.gauss(50, 20), float("nan"), STALE])
                if rng.random() < 0.03
                else rng.gauss(50, 20)
            )
        rows.append((name, t, v))
    # duplicates: the same series and time again, a different value (the newest wins)
    rows += [(nm, t, v + 1) for nm, t, v in rng.sample(rows, n // 20)]
    return rows


EXPECTED = """
    SELECT time_bucket(%(b)s::interval, time) AS bucket, series_id, count(*), sum(value), sum(value * value),
           min(value), max(value),
           (array_agg(value ORDER BY time))[1], (array_agg(value ORDER BY time DESC))[1],
           coalesce(sum(CASE WHEN p IS NULL THEN 0 WHEN value >= p THEN value - p ELSE value END), 0)
    FROM (SELECT *, lag(value) OVER (PARTITION BY series_id, time_bucket(%(b)s::interval, time)
                                     ORDER BY time) AS p
          FROM tsmon.samples WHERE value <> 'NaN'::float8) raw
    GROUP BY 1, 2 ORDER BY 2, 1"""


def assert_windows_match_raw(conn: Conn, phase: str) -> None:
    for res, bucket in BUCKETS.items():
        expected = conn.execute(EXPECTED, {"b": bucket}).fetchall()
        got = conn.execute(
            f"SELECT bucket, series_id, count, sum, sum_sq, min, max, first, last, increase "
            f"FROM tsmon.samples_{res} ORDER BY series_id, bucket"
        ).fetchall()
        assert len(got) == len(expected), f"{phase}, {res}: {len(got)} windows, raw gives {len(expected)}"
        for g, e in zip(got, expected, strict=True):
            assert g[:3] == e[:3], f"{phase}, {res}: {g[:3]} vs {e[:3]}"
            for a, b in zip(g[3:], e[3:], strict=True):
                assert math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-6), (
                    f"{phase}, {res}: {g} vs {e}"
                )


def test_windows_equal_raw_group_by(engine_conn: Conn) -> None:
    conn, rng = engine_conn, random.Random(42)
    write(conn, random_rows(rng, NOW - timedelta(days=3), NOW - timedelta(hours=2), 3000))
    assert_windows_match_raw(conn, "before any refresh (all real-time)")
    refresh_windows(conn, RetentionSettings())
    assert_windows_match_raw(conn, "after refresh")
    # Late data into materialised buckets, new data past the watermark, re-sent duplicates.
    write(conn, random_rows(rng, NOW - timedelta(days=2), NOW - timedelta(days=1), 500))
    write(conn, random_rows(rng, NOW - timedelta(hours=2), NOW - timedelta(minutes=5), 500))
    refresh_windows(conn, RetentionSettings())
    assert_windows_match_raw(conn, "after late data and a second refresh")
    total = conn.execute("SELECT sum(count) FROM tsmon.samples_1d").fetchone()
    assert total == conn.execute("SELECT count(*) FROM tsmon.samples WHERE value <> 'NaN'").fetchone()


def test_new_data_is_visible_before_refresh(engine_conn: Conn) -> None:
    conn = engine_conn
    write(conn, [("g0", datetime_to_us(NOW - timedelta(hours=3)), 1.0)])
    refresh_windows(conn, RetentionSettings())
    # Above every watermark (a refresh may materialise up to the present; samples may be a little ahead).
    write(conn, [("g0", datetime_to_us(datetime.now(UTC) + timedelta(minutes=2)), 5.0)])
    assert conn.execute("SELECT sum(count), max(max) FROM tsmon.samples_1m").fetchone() == (2, 5.0)
    assert conn.execute("SELECT sum(count), max(max) FROM tsmon.samples_1d").fetchone() == (2, 5.0)


def test_counter_increase_across_resets_and_boundaries(engine_conn: Conn) -> None:
    conn = engine_conn
    hour = NOW.replace(minute=0) - timedelta(hours=3)
    # 10 -> 15 -> 20 | 22 -> 4 (reset) -> 9 | next hour 12 -> 1 (reset)
    points = [(0, 10), (20, 15), (40, 20), (60, 22), (80, 4), (100, 9), (3600, 12), (3620, 1)]
    write(conn, [("c0", datetime_to_us(hour + timedelta(seconds=s)), float(v)) for s, v in points])
    same_day = (hour + timedelta(seconds=3620)).date() == hour.date()
    for _phase in ("real-time", "materialised"):
        minutes = conn.execute("SELECT increase FROM tsmon.samples_1m ORDER BY bucket").fetchall()
        assert [float(r[0]) for r in minutes] == [5 + 5, 4 + 5, 1]  # deltas inside each minute; resets count
        hours = conn.execute("SELECT increase FROM tsmon.samples_1h ORDER BY bucket").fetchall()
        assert [float(r[0]) for r in hours] == [5 + 5 + 2 + 4 + 5, 1]  # minute boundaries included
        days = conn.execute("SELECT increase FROM tsmon.samples_1d ORDER BY bucket").fetchall()
        assert [float(r[0]) for r in days] == ([21 + 3 + 1] if same_day else [21, 1])
        refresh_windows(conn, RetentionSettings())


def test_retention_drops_old_chunks(engine_conn: Conn) -> None:
    conn = engine_conn
    old, recent = NOW - timedelta(days=25), NOW - timedelta(hours=1)
    write(conn, [("g0", datetime_to_us(old + timedelta(minutes=i)), 1.0) for i in range(5)])
    write(conn, [("g0", datetime_to_us(recent + timedelta(minutes=i)), 2.0) for i in range(5)])
    refresh_windows(conn, RetentionSettings())
    short = RetentionSettings(raw_days=5, minute_days=5, hour_days=5, day_days=None)
    apply_retention(conn, short)
    # Whole chunks go: nothing 25 days old is left in raw samples and the 1m / 1h windows ...
    for relation, column in [("samples", "time"), ("samples_1m", "bucket"), ("samples_1h", "bucket")]:
        left = conn.execute(
            f"SELECT count(*) FROM tsmon.{relation} WHERE {column} < now() - interval '20 days'"
        )
        assert left.fetchone() == (0,), relation
        assert conn.execute(f"SELECT count(*) FROM tsmon.{relation}").fetchone() != (0,), relation
    # ... while 1d windows are kept (no retention by default), from their materialisation.
    old_days = conn.execute("SELECT count(*) FROM tsmon.samples_1d WHERE bucket < now() - interval '20 days'")
    assert old_days.fetchone() == (1,)


def test_pick_resolution(conn: Conn) -> None:
    cases = [("1 hour", "raw"), ("6 hours", "1m"), ("30 days", "1h"), ("2 years", "1d")]
    for span, expected in cases:
        row = conn.execute(
            "SELECT tsmon.pick_resolution(now() - %s::interval, now(), 300)", (span,)
        ).fetchone()
        assert row == (expected,), span
    write(
        conn,
        [("g0", datetime_to_us(NOW - timedelta(days=10) + timedelta(hours=i)), float(i)) for i in range(48)],
    )
    rows = conn.execute(
        "SELECT DISTINCT resolution, count(*) OVER () "
        "FROM tsmon.metric_windows('m', now() - interval '30 days', now())"
    ).fetchall()
    assert rows == [("1h", 48)]


def test_windows_follow_minute_by_minute_refreshes(engine_conn: Conn) -> None:
    """The unfinished hour and day stay right while refreshes advance a minute at a time.

    Crosses an hour and a day boundary, with late samples inside the unfinished hour and the
    previous one, and a counter reset: the coarser levels' provisional buckets are merged minute by
    minute and rebuilt when late data falls inside them.
    """
    conn, rng = engine_conn, random.Random(7)
    start = NOW.replace(hour=0, minute=0) - timedelta(days=1, minutes=75)  # 22:45, two days ago
    counter = 0.0
    for step in range(90):
        minute = start + timedelta(minutes=step)
        rows = []
        for second in (5, 35):
            t = datetime_to_us(minute + timedelta(seconds=second))
            counter = 0.0 if step == 40 and second == 5 else counter + rng.randrange(5)
            rows += [("g0", t, rng.gauss(50, 10)), ("c0", t, counter)]
        if step % 7 == 3:  # late: a sample back in this hour or the one before
            late = minute - timedelta(minutes=rng.randrange(1, 70), seconds=-17)
            rows.append(("g1", datetime_to_us(late), rng.gauss(10, 1)))
        write(conn, rows)
        refresh_windows(conn, RetentionSettings(), now=minute + timedelta(minutes=1, seconds=1))
        if step % 10 == 9 or step in (14, 15, 16, 75, 76):  # around the hour and day boundaries
            assert_windows_match_raw(conn, f"after the refresh of {minute:%H:%M}")
