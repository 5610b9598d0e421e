"""The one write path for every protocol: resolve series ids, then binary COPY sorted samples."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg import errors

from tsmon.ingest.batch import SampleBatch

# PostgreSQL counts timestamps from 2000-01-01; the batch from 1970-01-01.
_PG_EPOCH_OFFSET_US = 946_684_800 * 1_000_000
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)
# One binary COPY tuple: field count, then (length, big-endian payload) for time, series_id, value.
_ROW = np.dtype(
    [("n", ">i2"), ("lt", ">i4"), ("t", ">i8"), ("ls", ">i4"), ("s", ">i8"), ("lv", ">i4"), ("v", ">f8")]
)
_COPY_SAMPLES = "COPY tsmon.samples (time, series_id, value) FROM STDIN (FORMAT BINARY)"


def encode_copy_binary(series_ids: np.ndarray, times_us: np.ndarray, values: np.ndarray) -> bytes:
    """Rows as PostgreSQL binary COPY data. Values keep their exact bits (staleness-marker NaNs too)."""
    rows = np.empty(len(values), dtype=_ROW)
    rows["n"] = 3
    rows["lt"] = rows["ls"] = rows["lv"] = 8
    rows["t"] = times_us - _PG_EPOCH_OFFSET_US
    rows["s"] = series_ids
    # Assign through the raw bits so no float conversion can canonicalise a NaN payload.
    rows["v"] = values.view(np.uint64).astype(">u8").view(">f8")
    return _COPY_HEADER + rows.tobytes() + _COPY_TRAILER


class SeriesCache:
    """Bounded LRU map from (metric, canonical labels) to series id."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._ids: OrderedDict[tuple[str, str], int] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[str, str]) -> int | None:
        sid = self._ids.get(key)
        if sid is None:
            self.misses += 1
            return None
        self.hits += 1
        self._ids.move_to_end(key)
        return sid

    def put(self, key: tuple[str, str], sid: int) -> None:
        self._ids[key] = sid
        self._ids.move_to_end(key)
        while len(self._ids) > self.max_size:
            self._ids.popitem(last=False)

    def __len__(self) -> int:
        return len(self._ids)


@dataclass
class WriteResult:
    rows: int
    new_series: int
    upserted: bool  # True when the batch overlapped stored samples and went through ON CONFLICT


class SampleWriter:
    """Writes SampleBatches through one connection. Not thread-safe: one writer per connection."""

    def __init__(self, conn: psycopg.Connection[tuple[object, ...]], cache: SeriesCache) -> None:
        self.conn = conn
        self.cache = cache

    def resolve_series(self, keys: list[tuple[str, str]]) -> tuple[dict[tuple[str, str], int], int]:
        """Ids for the given keys, creating missing series in their own committed transaction.

        Committed separately so a sample batch that later rolls back never leaves the cache
        pointing at ids that do not exist. Sorted inserts keep concurrent writers deadlock-free.
        """
        found: dict[tuple[str, str], int] = {}
        missing: list[tuple[str, str]] = []
        for key in dict.fromkeys(keys):
            sid = self.cache.get(key)
            if sid is None:
                missing.append(key)
            else:
                found[key] = sid
        created = 0
        if missing:
            missing.sort()
            metrics = [k[0] for k in missing]
            labels = [k[1] for k in missing]
            with self.conn.transaction():
                cur = self.conn.execute(
                    """INSERT INTO tsmon.series (metric, labels)
                       SELECT m, l::jsonb FROM unnest(%s::text[], %s::text[]) AS u(m, l)
                       ON CONFLICT ON CONSTRAINT series_metric_labels_key DO NOTHING""",
                    (metrics, labels),
                )
                created = max(cur.rowcount, 0)
                rows = self.conn.execute(
                    """SELECT s.id, u.m, u.l FROM unnest(%s::text[], %s::text[]) AS u(m, l)
                       JOIN tsmon.series s ON s.metric = u.m AND s.labels = u.l::jsonb""",
                    (metrics, labels),
                ).fetchall()
            for series_id, metric, label_text in rows:
                key = (str(metric), str(label_text))
                assert isinstance(series_id, int)
                found[key] = series_id
                self.cache.put(key, series_id)
        return found, created

    def write(self, batch: SampleBatch) -> WriteResult:
        """Store a batch in one transaction: all of it or (on error) none of it."""
        if not len(batch):
            return WriteResult(0, 0, upserted=False)
        keys = list(zip(batch.metrics, batch.labels, strict=True))
        ids, created = self.resolve_series(keys)
        sids = np.fromiter((ids[k] for k in keys), dtype=np.int64, count=len(keys))
        times = np.asarray(batch.times_us, dtype=np.int64)
        values = np.asarray(batch.values, dtype=np.float64)
        # Sort in index order (about doubles COPY speed); stable, so among duplicates of one
        # (series, time) the last one sent is last, and is the one kept: newest value wins.
        order = np.lexsort((times, sids))
        sids, times, values = sids[order], times[order], values[order]
        keep = np.ones(len(sids), dtype=bool)
        keep[:-1] = (sids[1:] != sids[:-1]) | (times[1:] != times[:-1])
        data = encode_copy_binary(sids[keep], times[keep], values[keep])
        upserted = self._copy(data)
        return WriteResult(int(keep.sum()), created, upserted)

    def _copy(self, data: bytes) -> bool:
        try:
            with self.conn.transaction(), self.conn.cursor() as cur, cur.copy(_COPY_SAMPLES) as copy:
                copy.write(data)
            return False
        except errors.UniqueViolation:
            pass
        # Some samples already exist (a re-send, or an overlapping file): plain COPY cannot skip
        # them, so stage the batch and merge, the new value replacing the stored one.
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS tsmon_samples_in "
                "(time timestamptz, series_id bigint, value float8) ON COMMIT DELETE ROWS"
            )
            with cur.copy(
                "COPY tsmon_samples_in (time, series_id, value) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.write(data)
            cur.execute(
                """INSERT INTO tsmon.samples (time, series_id, value)
                   SELECT time, series_id, value FROM tsmon_samples_in
                   ON CONFLICT (series_id, time) DO UPDATE SET value = EXCLUDED.value
                   WHERE float8send(tsmon.samples.value) IS DISTINCT FROM float8send(EXCLUDED.value)"""
            )
        return True
