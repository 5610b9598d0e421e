"""Prometheus counter semantics in SQL (sql/30_counters.sql).

tsmon.counter_increase / tsmon.counter_rate work on ordered arrays; tsmon.increase / tsmon.rate read a
metric's series from tsmon.metric_samples. Expected values are Promscale's published prom_rate answers
(0.04, 0.036, 0.033 per second) and hand-worked applications of Prometheus's extrapolatedRate.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.types.json import Jsonb

Conn = psycopg.Connection[tuple[object, ...]]
Samples = Sequence[tuple[datetime, float]]

STALE_NAN = struct.unpack(">d", bytes.fromhex("7ff0000000000002"))[0]

# Promscale's prom_rate fixture (timescale/promscale_extension, src/aggregates/prom_rate.rs): a counter
# sampled every 5 minutes from 2000-01-02 15:00 UTC, rising by 12 per sample to 60 at 15:25, reset to
# 0 at 15:30, then rising again to 48 at 15:50.
PROMSCALE_T0 = datetime(2000, 1, 2, 15, 0, tzinfo=UTC)
PROMSCALE = [
    (PROMSCALE_T0 + timedelta(minutes=5 * i), float(v))
    for i, v in enumerate([0, 12, 24, 36, 48, 60, 0, 12, 24, 36, 48])
]

T1 = datetime(2024, 3, 1, tzinfo=UTC)
US = timedelta(microseconds=1)


def at(seconds: float) -> datetime:
    return T1 + timedelta(seconds=seconds)


def series(pairs: Sequence[tuple[float, float]]) -> list[tuple[datetime, float]]:
    """(seconds after T1, value) pairs as samples."""
    return [(at(s), float(v)) for s, v in pairs]


def add_series(conn: Conn, metric: str, labels: dict[str, str], samples: Samples) -> int:
    row = conn.execute(
        "INSERT INTO tsmon.series (metric, labels) VALUES (%s, %s) RETURNING id", (metric, Jsonb(labels))
    ).fetchone()
    assert row is not None
    series_id = int(row[0])  # type: ignore[call-overload]
    with conn.cursor() as cur:
        # %b: binary floats keep a staleness marker's NaN payload bit-exact.
        cur.executemany(
            "INSERT INTO tsmon.samples (time, series_id, value) VALUES (%s, %s, %b)",
            [(t, series_id, v) for t, v in samples],
        )
    return series_id


def over_arrays(conn: Conn, fn: str, start: datetime, end: datetime, samples: Samples) -> float | None:
    row = conn.execute(
        f"SELECT tsmon.{fn}(%s, %s, %s::timestamptz[], %s::float8[])",
        (start, end, [t for t, _ in samples], [v for _, v in samples]),
    ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[return-value]


def from_table(conn: Conn, fn: str, start: datetime, end: datetime, series_id: int) -> float | None:
    """The documented usage: aggregate one series' samples straight from the hypertable."""
    row = conn.execute(
        f"""SELECT tsmon.{fn}(%(start)s, %(end)s,
                                array_agg(time ORDER BY time), array_agg(value ORDER BY time))
            FROM tsmon.samples WHERE series_id = %(id)s AND time > %(start)s AND time <= %(end)s""",
        {"start": start, "end": end, "id": series_id},
    ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[return-value]


def srf(
    conn: Conn, fn: str, metric: str, start: datetime, end: datetime, step: timedelta | None = None
) -> list[tuple[datetime, dict[str, str], float]]:
    rows = conn.execute(
        f"SELECT time, labels, value FROM tsmon.{fn}(%s, %s, %s, %s) ORDER BY labels::text, time",
        (metric, start, end, step),
    ).fetchall()
    return rows  # type: ignore[return-value]


# --- Promscale known answers ---------------------------------------------------------------------------
# Promscale's windows are closed, [start, end]; ours are left-open like Prometheus 3, (start, end].
# For the 0.04 and 0.033 cases that makes no difference (shown below); for 0.036 the window starts
# exactly on the first sample, so we start it 1 microsecond earlier to include that sample.

PROMSCALE_CASES = [
    # (name, window start, window end, Promscale's rate, increase = rate * window seconds)
    ("no_reset_in_range", PROMSCALE_T0, PROMSCALE_T0 + timedelta(minutes=25), 0.04, 60.0),
    ("reset_in_range", PROMSCALE_T0 - US, PROMSCALE_T0 + timedelta(minutes=50), 0.036, 108.0),
    (
        "extrapolate",
        PROMSCALE_T0 - timedelta(minutes=5),
        PROMSCALE_T0 + timedelta(minutes=55),
        0.033,
        118.8,
    ),
]


@pytest.mark.parametrize(
    ("start", "end", "rate", "increase"),
    [case[1:] for case in PROMSCALE_CASES],
    ids=[case[0] for case in PROMSCALE_CASES],
)
def test_promscale_prom_rate_answers(
    conn: Conn, start: datetime, end: datetime, rate: float, increase: float
) -> None:
    # The array functions pick the window's samples themselves: pass the whole fixture.
    assert over_arrays(conn, "counter_rate", start, end, PROMSCALE) == pytest.approx(rate, rel=1e-9)
    assert over_arrays(conn, "counter_increase", start, end, PROMSCALE) == pytest.approx(increase, rel=1e-9)

    series_id = add_series(conn, "promscale_counter", {"job": "promscale"}, PROMSCALE)
    assert from_table(conn, "counter_rate", start, end, series_id) == pytest.approx(rate, rel=1e-9)
    ((time, labels, value),) = srf(conn, "rate", "promscale_counter", start, end)
    assert (time, labels) == (end, {"job": "promscale"})
    assert value == pytest.approx(rate, rel=1e-9)
    ((_, _, value),) = srf(conn, "increase", "promscale_counter", start, end)
    assert value == pytest.approx(increase, rel=1e-9)


def test_window_is_left_open(conn: Conn) -> None:
    """(15:00, 15:50] leaves out the sample at 15:00 (value 0), unlike Promscale's closed window.

    Samples 12..60, 0..48 at 15:05..15:50: delta 48 - 12 + 60 = 96 over 2700 s; the first sample is
    300 s from the start (< 1.1 * 300 s average), the zero point 2700 * 12/96 = 337.5 s is farther, so
    extrapolate the full 300 s: increase = 96 * 3000 / 2700, rate = 96 / 2700.
    """
    start, end = PROMSCALE_T0, PROMSCALE_T0 + timedelta(minutes=50)
    assert over_arrays(conn, "counter_increase", start, end, PROMSCALE) == pytest.approx(96 * 3000 / 2700)
    assert over_arrays(conn, "counter_rate", start, end, PROMSCALE) == pytest.approx(96 / 2700)
    # A sample exactly at window_end is in; one exactly at window_start is not.
    two = series([(0, 1), (10, 2)])
    assert over_arrays(conn, "counter_increase", at(-10), at(10), two) == pytest.approx(2.0)
    assert over_arrays(conn, "counter_increase", at(0), at(10), two) is None


# --- hand-worked Prometheus extrapolatedRate cases -----------------------------------------------------
# All sampled every 10 s, so the average interval is 10 s and the extrapolation threshold 11 s.


@pytest.mark.parametrize(
    ("values", "increase"),
    [
        # reset 15 -> 3 at 40 s: delta 13 - 5 + 15 = 23 over 50 s; start gap 10 s (zero point at
        # 50 * 5/23 = 10.9 s is farther), end gap 0: increase 23 * 60/50 = 27.6.
        ([5, 10, 15, 3, 8, 13], 27.6),
        # two resets (15 -> 3, 8 -> 2): delta 2 - 5 + 15 + 8 = 20; zero point 12.5 s: 20 * 60/50 = 24.
        ([5, 10, 15, 3, 8, 2], 24.0),
        # reset to exactly 0 in the middle: delta 10 - 5 + 15 = 20; zero point 12.5 s: 24.
        ([5, 10, 15, 0, 5, 10], 24.0),
    ],
)
def test_counter_resets_mid_window(conn: Conn, values: list[float], increase: float) -> None:
    samples = series([(10 * (i + 1), v) for i, v in enumerate(values)])  # at 10, 20, ..., 60 s
    assert over_arrays(conn, "counter_increase", at(0), at(60), samples) == pytest.approx(increase)
    assert over_arrays(conn, "counter_rate", at(0), at(60), samples) == pytest.approx(increase / 60)
    add_series(conn, "resets_total", {}, samples)
    ((_, _, value),) = srf(conn, "increase", "resets_total", at(0), at(60))
    assert value == pytest.approx(increase)


def test_extrapolation_stops_at_zero(conn: Conn) -> None:
    """Counter 1, 11, ..., 51 at 10..60 s in (0, 60]: its zero point is 1 s before the first sample,
    closer than the 10 s to the window start, so increase = 50 * (50 + 1) / 50 = 51 (60 uncapped)."""
    samples = series([(10 * k, 10 * k - 9) for k in range(1, 7)])
    assert over_arrays(conn, "counter_increase", at(0), at(60), samples) == pytest.approx(51.0)
    assert over_arrays(conn, "counter_rate", at(0), at(60), samples) == pytest.approx(0.85)
    # A counter starting at 0 is not extrapolated to the left at all: 0, 10, 20 at 10..30 s in
    # (0, 30]: 20 * (20 + 0 + 0) / 20.
    assert over_arrays(conn, "counter_increase", at(0), at(30), series([(10, 0), (20, 10), (30, 20)])) == 20
    # The limit needs slope and a non-negative first value: a flat counter gives 0, not NULL.
    assert over_arrays(conn, "counter_increase", at(0), at(30), series([(10, 7), (20, 7), (30, 7)])) == 0


def test_series_starting_and_ending_inside_the_window(conn: Conn) -> None:
    """Samples at 40, 50, 60 s in (0, 100]: both gaps (40 s) exceed 11 s, so extrapolate only half an
    interval (5 s) each way: delta 20 over 20 s -> 20 * 30/20 = 30."""
    samples = series([(40, 10), (50, 20), (60, 30)])
    assert over_arrays(conn, "counter_increase", at(0), at(100), samples) == pytest.approx(30.0)
    assert over_arrays(conn, "counter_rate", at(0), at(100), samples) == pytest.approx(0.3)
    # The zero-point limit applies after the half-interval rule (Prometheus since PR #13725): for
    # 7, 17, 27 the zero point is 20 * 7/20 = 7 s back, farther than the 5 s half interval, so still 30
    # (Promscale, which limits first, would extrapolate 7 s and give 32).
    samples = series([(40, 7), (50, 17), (60, 27)])
    assert over_arrays(conn, "counter_increase", at(0), at(100), samples) == pytest.approx(30.0)


def test_nan_and_staleness_markers_are_ignored(conn: Conn) -> None:
    clean = series([(10, 5), (20, 10), (30, 15), (40, 3), (50, 8), (60, 13)])  # 27.6, as above
    noisy = sorted([*clean, (at(25), math.nan), (at(45), STALE_NAN), (at(55), math.nan), (at(59), STALE_NAN)])
    assert over_arrays(conn, "counter_increase", at(0), at(60), noisy) == pytest.approx(27.6)
    # NaN as the first and last elements too; in (0, 61] the last real sample is 1 s from the end.
    edged = [(at(1), math.nan), *noisy, (at(60.5), math.nan)]
    assert over_arrays(conn, "counter_increase", at(0), at(60), edged) == pytest.approx(27.6)
    assert over_arrays(conn, "counter_increase", at(0), at(61), edged) == pytest.approx(23 * 61 / 50)

    series_id = add_series(conn, "noisy_total", {"job": "x"}, noisy)
    bits = conn.execute(
        "SELECT count(*) FROM tsmon.samples WHERE float8send(value) = '\\x7ff0000000000002'::bytea"
    ).fetchone()
    assert bits == (2,)  # the markers really are stored bit-exact
    assert from_table(conn, "counter_increase", at(0), at(60), series_id) == pytest.approx(27.6)
    ((_, _, value),) = srf(conn, "increase", "noisy_total", at(0), at(60))
    assert value == pytest.approx(27.6)


def test_fewer_than_two_samples_give_null(conn: Conn) -> None:
    one = series([(10, 5)])
    for fn in ("counter_increase", "counter_rate"):
        assert over_arrays(conn, fn, at(0), at(60), one) is None
        assert over_arrays(conn, fn, at(0), at(60), []) is None
        assert over_arrays(conn, fn, at(0), at(60), series([(10, 5), (20, math.nan)])) is None
        assert over_arrays(conn, fn, at(0), at(60), series([(10, 5), (70, 9)])) is None  # 70 s is outside
        row = conn.execute(f"SELECT tsmon.{fn}(%s, %s, NULL, NULL)", (at(0), at(60))).fetchone()
        assert row == (None,)
    # array_agg over no rows is NULL, so the documented query gives NULL for an idle series.
    assert from_table(conn, "counter_rate", at(0), at(60), 123456) is None
    # The set-returning functions leave such series out.
    add_series(conn, "sparse_total", {"n": "one"}, one)
    add_series(conn, "sparse_total", {"n": "two"}, series([(10, 5), (20, 6)]))
    rows = srf(conn, "rate", "sparse_total", at(0), at(60))
    assert [labels for _, labels, _ in rows] == [{"n": "two"}]


def test_step_gives_one_row_per_series_per_step(conn: Conn) -> None:
    # a: +1/s; b: +3/s with a reset between 60 s and 70 s; c: only two samples, both in the first step.
    add_series(conn, "http_requests_total", {"instance": "a"}, series([(t, t) for t in range(10, 121, 10)]))
    b = [(t, 3.0 * t) for t in range(10, 61, 10)] + [(t, 3.0 * (t - 60)) for t in range(70, 121, 10)]
    add_series(conn, "http_requests_total", {"instance": "b"}, series(b))
    add_series(conn, "http_requests_total", {"instance": "c"}, series([(10, 1), (20, 2)]))
    add_series(conn, "other_total", {"instance": "a"}, series([(t, 100.0 * t) for t in range(10, 121, 10)]))

    # Each step covers (t - 60 s, t]: a's samples 10..60 rise 50 over 50 s, extrapolated 10 s to the
    # start -> 60 -> 1/s; b's 30..180 -> 180 -> 3/s in both steps (the reset falls between the steps);
    # c: 1 over 10 s, 10 s to the start, 40 s (> 11 s) to the end so half an interval -> 2.5.
    minute = timedelta(seconds=60)
    expected_rate = [
        (at(60), {"instance": "a"}, 1.0),
        (at(120), {"instance": "a"}, 1.0),
        (at(60), {"instance": "b"}, 3.0),
        (at(120), {"instance": "b"}, 3.0),
        (at(60), {"instance": "c"}, 2.5 / 60),
    ]
    for end in (at(120), at(150)):  # a partial last step (120, 150] gives no point
        rows = srf(conn, "rate", "http_requests_total", at(0), end, minute)
        assert [(t, labels) for t, labels, _ in rows] == [(t, labels) for t, labels, _ in expected_rate]
        assert [v for _, _, v in rows] == pytest.approx([v for _, _, v in expected_rate])
    rows = srf(conn, "increase", "http_requests_total", at(0), at(120), minute)
    assert [v for _, _, v in rows] == pytest.approx([60.0, 60.0, 180.0, 180.0, 2.5])

    # Without a step: one row per series at window_end. b over (0, 120]: 30..180 then 30..180,
    # delta 180 - 30 + 180 = 330 over 110 s, extrapolated 10 s to the start -> 360 -> 3/s.
    rows = srf(conn, "rate", "http_requests_total", at(0), at(120))
    assert [(t, labels) for t, labels, _ in rows] == [
        (at(120), {"instance": "a"}),
        (at(120), {"instance": "b"}),
        (at(120), {"instance": "c"}),
    ]
    assert [v for _, _, v in rows] == pytest.approx([1.0, 3.0, 2.5 / 120])

    # Every step value equals counter_rate over that step's samples.
    check = conn.execute(
        """SELECT r.value, (SELECT tsmon.counter_rate(r.time - interval '60 s', r.time,
                                                      array_agg(m.time ORDER BY m.time),
                                                      array_agg(m.value ORDER BY m.time))
                            FROM tsmon.metric_samples m
                            WHERE m.metric = 'http_requests_total' AND m.labels = r.labels)
           FROM tsmon.rate('http_requests_total', %s, %s, interval '60 s') r""",
        (at(0), at(120)),
    ).fetchall()
    assert len(check) == 5
    for value, direct in check:
        assert value == pytest.approx(direct)


def test_step_and_window_validation(conn: Conn) -> None:
    add_series(conn, "v_total", {}, series([(10, 1), (20, 2)]))
    assert srf(conn, "rate", "v_total", at(60), at(0)) == []
    assert srf(conn, "rate", "v_total", at(0), at(30), timedelta(seconds=60)) == []  # no whole step
    assert srf(conn, "rate", "no_such_metric", at(0), at(60)) == []
    for step in ("0 s", "-1 min", "1 month"):
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            conn.execute(
                "SELECT * FROM tsmon.increase('v_total', %s, %s, %s::interval)", (at(0), at(60), step)
            )
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        conn.execute("SELECT * FROM tsmon.rate('v_total', '-infinity', %s)", (at(60),))
    # A day step is 24 hours.
    rows = srf(conn, "increase", "v_total", at(-86_400), at(86_400), timedelta(days=1))
    assert [t for t, _, _ in rows] == [at(0) + timedelta(days=1)]


def test_array_arguments_are_checked(conn: Conn) -> None:
    with pytest.raises(psycopg.errors.ArraySubscriptError):
        conn.execute(
            "SELECT tsmon.counter_increase(%s, %s, %s, %s::float8[])",
            (at(0), at(60), [at(10), at(20)], [1.0]),
        )
    with pytest.raises(psycopg.errors.DataException, match="strictly ascending"):
        over_arrays(conn, "counter_increase", at(0), at(60), series([(20, 1), (10, 2)]))
    # Arrays need not start at subscript 1.
    row = conn.execute(
        "SELECT tsmon.counter_increase(%s, %s, '[0:1]={2024-03-01 00:00:10+00,2024-03-01 00:00:20+00}', "
        "'[5:6]={1,2}')",
        (at(0), at(20)),
    ).fetchone()
    assert row is not None and row[0] == pytest.approx(2.0)


def test_documented_query_with_now(conn: Conn) -> None:
    with conn.transaction():  # one transaction: one now()
        row = conn.execute("SELECT now()").fetchone()
        assert row is not None
        now = row[0]
        assert isinstance(now, datetime)
        # 0, 60, ..., 240 at now - 270 s .. now - 30 s: 1/s, starts at 0 (no left extrapolation),
        # extrapolated 30 s to the end: 270 over 300 s.
        series_id = add_series(
            conn, "docs_total", {}, [(now - timedelta(seconds=270 - 60 * k), 60.0 * k) for k in range(5)]
        )
        row = conn.execute(
            # interval '5m', not a bare '5m': now() - '5m' parses '5m' as a timestamptz.
            "SELECT tsmon.counter_rate(now() - interval '5m', now(), array_agg(time ORDER BY time), "
            "array_agg(value ORDER BY time)) FROM tsmon.samples "
            "WHERE series_id = %s AND time > now() - interval '5m'",
            (series_id,),
        ).fetchone()
    assert row is not None and row[0] == pytest.approx(0.9)


def test_reader_needs_only_the_views_and_execute(conn: Conn) -> None:
    add_series(conn, "reader_total", {"instance": "a"}, series([(t, t) for t in range(10, 61, 10)]))
    conn.execute("SET ROLE tsmon_reader")
    try:
        rows = srf(conn, "rate", "reader_total", at(0), at(60), timedelta(seconds=30))
        assert [v for _, _, v in rows] == pytest.approx([1.0, 1.0])
        row = conn.execute(
            """SELECT tsmon.counter_rate(%(s)s, %(e)s,
                                         array_agg(time ORDER BY time), array_agg(value ORDER BY time))
               FROM tsmon.metric_samples WHERE metric = 'reader_total' AND time > %(s)s AND time <= %(e)s""",
            {"s": at(0), "e": at(60)},
        ).fetchone()
        assert row is not None and row[0] == pytest.approx(1.0)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM tsmon.samples LIMIT 1")
    finally:
        conn.execute("RESET ROLE")


def test_functions_are_documented_and_pinned(conn: Conn) -> None:
    rows = conn.execute(
        """SELECT p.proname, p.provolatile, p.proconfig, obj_description(p.oid, 'pg_proc') IS NOT NULL
           FROM pg_proc p WHERE p.pronamespace = 'tsmon'::regnamespace
             AND p.proname IN ('counter_increase', 'counter_rate', 'increase', 'rate')
           ORDER BY p.proname"""
    ).fetchall()
    assert rows == [
        ("counter_increase", "i", ["search_path=pg_catalog"], True),
        ("counter_rate", "i", ["search_path=pg_catalog"], True),
        ("increase", "s", ["search_path=pg_catalog"], True),
        ("rate", "s", ["search_path=pg_catalog"], True),
    ]
