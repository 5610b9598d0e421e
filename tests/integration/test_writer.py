"""The writer: binary COPY, newest value wins, idempotent re-sends, race-free series creation."""

from __future__ import annotations

import struct
import threading

import numpy as np
import psycopg

from tsmon.ingest.batch import SampleBatch
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
                found, _ = SampleWriter(c, SeriesCache(1000)).resolve_series(mine)
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
    assert cache.get(("a", "{}")) == 1  # a is now most recent
    cache.put(("c", "{}"), 3)
    assert cache.get(("b", "{}")) is None and cache.get(("a", "{}")) == 1 and len(cache) == 2
