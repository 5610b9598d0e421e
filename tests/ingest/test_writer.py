"""The writer: binary COPY, newest value wins, idempotent re-sends, race-free series creation."""

from __future__ import annotations

import random
import string
import struct
import threading
import time

import numpy as np
import psycopg
import pytest

from tsmon.ingest.batch import SampleBatch, canonical_labels
from tsmon.ingest.limits import Limits
from tsmon.ingest.writer import SampleWriter, SeriesCache, encode_copy_binary

T0 = 1_767_225_600_000_000  # 2026-01-01 in µs


def _batch(rows: list[tuple[str, str, int, float]]) -> SampleBatch:
    b = SampleBatch()
    for r in rows:
        b.append(*r)
    return b


def _stored(conn: psycopg.Connection[tuple[object, ...]]) -> list[tuple[object, ...]]:
    return conn.execute(
        """SELECT s.metric, s.labels::text, extract(epoch FROM x.time)::float8, x.value
           FROM tsmon.samples x JOIN tsmon.series s ON s.id = x.series_id ORDER BY 1, 2, 3"""
    ).fetchall()


def test_encoding_keeps_nan_payload_bits() -> None:
    stale = struct.unpack(">d", bytes.fromhex("7ff0000000000002"))[0]
    data = encode_copy_binary(np.array([7]), np.array([T0]), np.array([stale]))
    assert data[-10:-2] == bytes.fromhex("7ff0000000000002")


def test_write_and_duplicates_newest_wins(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    writer = SampleWriter(conn, SeriesCache(100))
    result = writer.write(
        _batch(
            [
                ("cpu", '{"host":"a"}', T0 + 1_000_000, 1.0),
                ("cpu", '{"host":"a"}', T0, 0.5),  # out of order
                ("cpu", '{"host":"b"}', T0, 2.0),
                ("cpu", '{"host":"a"}', T0, 0.75),  # same series and time later in the batch: wins
            ]
        )
    )
    assert (result.rows, result.new_series, result.upserted) == (3, 2, False)
    assert _stored(conn) == [
        ("cpu", '{"host": "a"}', 1767225600.0, 0.75),
        ("cpu", '{"host": "a"}', 1767225601.0, 1.0),
        ("cpu", '{"host": "b"}', 1767225600.0, 2.0),
    ]
    # A re-send overlapping stored samples goes through the merge path; newest value wins.
    again = writer.write(_batch([("cpu", '{"host":"a"}', T0, 9.0), ("cpu", '{"host":"c"}', T0, 3.0)]))
    assert again.upserted and again.new_series == 1
    assert [r for r in _stored(conn) if r[2] == 1767225600.0] == [
        ("cpu", '{"host": "a"}', 1767225600.0, 9.0),
        ("cpu", '{"host": "b"}', 1767225600.0, 2.0),
        ("cpu", '{"host": "c"}', 1767225600.0, 3.0),
    ]


def test_same_batch_twice_stores_once(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    batch = _batch([("m", "{}", T0 + i * 10_000_000, float(i)) for i in range(1000)])
    writer = SampleWriter(conn, SeriesCache(100))
    writer.write(batch)
    writer.write(batch)
    SampleWriter(conn, SeriesCache(100)).write(batch)  # a fresh process with a cold cache
    assert conn.execute("SELECT count(*), sum(value) FROM tsmon.samples").fetchone() == (1000, 499500.0)


def test_concurrent_writers_create_each_series_once(db_url: str) -> None:
    keys = [("req", f'{{"path":"/{i}"}}') for i in range(300)]
    ids: list[dict[tuple[str, str], int]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def work(order: int) -> None:
        try:
            with psycopg.connect(db_url, autocommit=True) as c:
                barrier.wait()
                mine = keys if order % 2 else list(reversed(keys))
                found, _, _ = SampleWriter(c, SeriesCache(1000)).resolve_series(mine)
                ids.append(found)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(found == ids[0] for found in ids) and len(ids[0]) == 300
    with psycopg.connect(db_url) as c:
        assert c.execute("SELECT count(*) FROM tsmon.series").fetchone() == (300,)


def test_series_cache_is_bounded() -> None:
    cache = SeriesCache(2)
    cache.put(("a", "{}"), 1)
    cache.put(("b", "{}"), 2)
    assert cache.get(("a", "{}")) == 1 and len(cache) == 2
    cache.put(("c", "{}"), 3)  # full: emptied, then c stored
    assert cache.get(("a", "{}")) is None and cache.get(("c", "{}")) == 3 and len(cache) == 1
    assert cache.get_many("c", ["{}", '{"x":"1"}']) == [3, None]
    assert (cache.hits, cache.misses) == (3, 2)


def test_cardinality_guard_refuses_new_series_only(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    limits = Limits(max_series_per_metric=3, max_series_total=5)
    writer = SampleWriter(conn, SeriesCache(100), limits)
    first = writer.write(_batch([("a", f'{{"i":"{i}"}}', T0, 1.0) for i in range(5)]))
    assert first.rows == 3 and first.new_series == 3
    assert {r.refusal.code for r in first.rejected} == {"series_limit_metric"}
    assert first.rejected_samples == 2
    assert "series limit (3)" in first.rejected[0].refusal.reason
    # Known series keep flowing; the total limit stops a second metric after 2 more.
    second = SampleWriter(conn, SeriesCache(100), limits).write(
        _batch([("a", '{"i":"0"}', T0 + 1, 2.0)] + [("b", f'{{"i":"{i}"}}', T0, 1.0) for i in range(3)])
    )
    assert second.rows == 3 and [r.refusal.code for r in second.rejected] == ["series_limit_total"]
    assert conn.execute("SELECT sum(n) FROM tsmon.series_counts").fetchone() == (5,)


def test_series_limits_are_checked_before_creation(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    writer = SampleWriter(conn, SeriesCache(100), Limits(max_labels_per_series=2, max_label_value_bytes=8))
    result = writer.write(
        _batch(
            [
                ("ok", '{"a":"1","b":"2"}', T0, 1.0),
                ("many", '{"a":"1","b":"2","c":"3"}', T0, 1.0),
                ("long", '{"a":"123456789"}', T0, 1.0),
                ("long", '{"a":"123456789"}', T0 + 1, 1.0),
            ]
        )
    )
    assert result.rows == 1
    assert sorted((r.metric, r.refusal.code, r.samples) for r in result.rejected) == [
        ("long", "label_value_too_long", 2),
        ("many", "too_many_labels", 1),
    ]


def test_largest_allowed_series_fits_the_index(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    limits = Limits()
    rng = random.Random(7)  # incompressible values, so the index cannot shrink them
    free = limits.max_series_bytes - len("m") - len('{"a":"","b":""}') - 2 * 8
    values = ["".join(rng.choices(string.ascii_letters, k=free // 2)) for _ in range(2)]
    labels = canonical_labels({"a": values[0], "b": values[1] + "z" * (free % 2)})
    assert limits.check_series("m", labels) is None
    assert limits.check_series("m", labels.replace('"}', 'z"}')) is not None
    assert SampleWriter(conn, SeriesCache(10), limits).write(_batch([("m", labels, T0, 1.0)])).rows == 1


def test_ingest_role_can_write_but_not_read_or_delete(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    conn.execute("SET ROLE tsmon_ingest")
    writer = SampleWriter(conn, SeriesCache(100))
    day = 86_400_000_000
    # Inside the time window the database holds this role to (raw retention, 30 days).
    start = (int(time.time()) // 86_400 - 3) * day
    batch = _batch([("m", "{}", start + i * day, float(i)) for i in range(3)])  # new chunks too
    assert writer.write(batch).rows == 3
    assert writer.write(_batch([("m", "{}", start, 42.0)])).upserted  # re-send merges
    for stmt in [
        "SELECT * FROM tsmon.samples",
        "SELECT * FROM tsmon.series",
        "DELETE FROM tsmon.samples",
        "UPDATE tsmon.samples SET value = 0",
        "INSERT INTO tsmon.series (metric) VALUES ('x')",
    ]:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(stmt)
    conn.execute("RESET ROLE")
    assert conn.execute("SELECT value FROM tsmon.samples ORDER BY time").fetchall() == [
        (42.0,),
        (1.0,),
        (2.0,),
    ]


def test_a_series_the_database_refuses_costs_only_itself(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    # A real database error no limit foresaw (here a constraint the operator added) for one series.
    conn.execute("ALTER TABLE tsmon.series ADD CONSTRAINT no_forbidden CHECK (metric <> 'forbidden')")
    batch = _batch(
        [("forbidden", "{}", T0, 1.0), ("allowed", '{"a":"1"}', T0, 2.0), ("allowed", '{"a":"2"}', T0, 3.0)]
    )
    result = SampleWriter(conn, SeriesCache(10)).write(batch)
    assert result.rows == 2
    [rejection] = result.rejected
    assert (rejection.metric, rejection.refusal.code, rejection.samples) == (
        "forbidden",
        "database_refused",
        1,
    )
    assert "no_forbidden" in rejection.refusal.reason
    assert [row[:2] for row in _stored(conn)] == [("allowed", '{"a": "1"}'), ("allowed", '{"a": "2"}')]


def test_unstorable_text_is_refused_before_the_database() -> None:
    limits = Limits()
    nul = limits.check_series("m", canonical_labels({"k": "a\x00b"}))
    surrogate = limits.check_series("m\ud800", "{}")
    assert nul is not None and nul.code == "invalid_characters" and "NUL" in nul.reason
    assert (
        surrogate is not None and surrogate.code == "invalid_characters" and "surrogate" in surrogate.reason
    )
