"""The one write path for every protocol: resolve series ids, then binary COPY sorted samples."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import psycopg
from psycopg import errors

from tsmon.ingest.batch import SampleBatch
from tsmon.ingest.limits import SERIES_LIMIT_REASONS, Limits, Refusal

# PostgreSQL counts timestamps from 2000-01-01; the batch from 1970-01-01.
_PG_EPOCH_OFFSET_US = 946_684_800 * 1_000_000
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)
# One binary COPY tuple: field count, then (length, big-endian payload) for time, series_id, value.
_ROW = np.dtype(
    [("n", ">i2"), ("lt", ">i4"), ("t", ">i8"), ("ls", ">i4"), ("s", ">i8"), ("lv", ">i4"), ("v", ">f8")]
)
_COPY_SAMPLES = "COPY tsmon.samples (time, series_id, value) FROM STDIN (FORMAT BINARY)"

_UPSERT = """SELECT tsmon.upsert_samples(
    ARRAY(SELECT 'epoch'::timestamptz + t * interval '1 microsecond'
          FROM unnest(%b::bigint[]) WITH ORDINALITY AS u(t, i) ORDER BY i),
    %b::bigint[], %b::float8[])"""

SeriesKey = tuple[str, str]  # (metric, canonical labels JSON)


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
    """Bounded LRU map from (metric, canonical labels) to series id; safe to share between threads."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._ids: OrderedDict[SeriesKey, int] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: SeriesKey) -> int | None:
        with self._lock:
            sid = self._ids.get(key)
            if sid is None:
                self.misses += 1
                return None
            self.hits += 1
            self._ids.move_to_end(key)
            return sid

    def put(self, key: SeriesKey, sid: int) -> None:
        with self._lock:
            self._ids[key] = sid
            self._ids.move_to_end(key)
            while len(self._ids) > self.max_size:
                self._ids.popitem(last=False)

    def __len__(self) -> int:
        return len(self._ids)


@dataclass
class SeriesRejection:
    """A series whose samples were not stored: which, why, and how many samples it had."""

    metric: str
    labels: str
    refusal: Refusal
    samples: int = 0


@dataclass
class WriteResult:
    rows: int
    new_series: int
    upserted: bool  # True when the batch overlapped stored samples and was merged
    rejected: list[SeriesRejection] = field(default_factory=list)

    @property
    def rejected_samples(self) -> int:
        return sum(r.samples for r in self.rejected)


class SampleWriter:
    """Writes SampleBatches through one connection (one writer per connection; the cache may be shared)."""

    def __init__(
        self, conn: psycopg.Connection[tuple[object, ...]], cache: SeriesCache, limits: Limits | None = None
    ) -> None:
        self.conn = conn
        self.cache = cache
        self.limits = limits or Limits()

    def resolve_series(
        self, keys: list[SeriesKey]
    ) -> tuple[dict[SeriesKey, int], dict[SeriesKey, Refusal], int]:
        """Ids for the keys, creating missing series in their own committed transaction.

        Committed separately so a sample batch that later rolls back never leaves the cache
        pointing at ids that do not exist. Returns (ids, refused keys with reasons, series created).
        """
        found: dict[SeriesKey, int] = {}
        refused: dict[SeriesKey, Refusal] = {}
        missing: list[SeriesKey] = []
        for key in dict.fromkeys(keys):
            sid = self.cache.get(key)
            if sid is not None:
                found[key] = sid
                continue
            refusal = self.limits.check_series(*key)
            if refusal is None:
                missing.append(key)
            else:
                refused[key] = refusal
        created = 0
        if missing:
            missing.sort()  # a stable order for locks taken by concurrent writers
            with self.conn.transaction():
                rows = self.conn.execute(
                    "SELECT idx, series_id, created, refused FROM tsmon.resolve_series(%s, %s, %s, %s)",
                    (
                        [k[0] for k in missing],
                        [k[1] for k in missing],
                        self.limits.max_series_per_metric,
                        self.limits.max_series_total,
                    ),
                ).fetchall()
            for idx, series_id, was_created, refusal_code in rows:
                key = missing[int(str(idx)) - 1]
                if series_id is None:
                    code = str(refusal_code)
                    limit = (
                        self.limits.max_series_per_metric
                        if code.endswith("metric")
                        else self.limits.max_series_total
                    )
                    refused[key] = Refusal(code, SERIES_LIMIT_REASONS[code].format(limit=limit))
                    continue
                sid = int(str(series_id))
                found[key] = sid
                self.cache.put(key, sid)
                created += bool(was_created)
        return found, refused, created

    def write(self, batch: SampleBatch) -> WriteResult:
        """Store a batch in one transaction: all of its acceptable series, or (on error) nothing."""
        if not len(batch):
            return WriteResult(0, 0, upserted=False)
        keys = list(zip(batch.metrics, batch.labels, strict=True))
        ids, refused, created = self.resolve_series(keys)
        times = np.asarray(batch.times_us, dtype=np.int64)
        values = np.asarray(batch.values, dtype=np.float64)
        rejected: list[SeriesRejection] = []
        if refused:
            keep_rows = np.fromiter((k not in refused for k in keys), dtype=bool, count=len(keys))
            counts: dict[SeriesKey, int] = {}
            for k in keys:
                if k in refused:
                    counts[k] = counts.get(k, 0) + 1
            rejected = [SeriesRejection(k[0], k[1], refused[k], n) for k, n in counts.items()]
            keys = [k for k in keys if k not in refused]
            times, values = times[keep_rows], values[keep_rows]
        if not keys:
            return WriteResult(0, created, upserted=False, rejected=rejected)
        sids = np.fromiter((ids[k] for k in keys), dtype=np.int64, count=len(keys))
        # Sort in index order (about doubles COPY speed); stable, so among duplicates of one
        # (series, time) the last one sent is last, and is the one kept: newest value wins.
        order = np.lexsort((times, sids))
        sids, times, values = sids[order], times[order], values[order]
        keep = np.ones(len(sids), dtype=bool)
        keep[:-1] = (sids[1:] != sids[:-1]) | (times[1:] != times[:-1])
        sids, times, values = sids[keep], times[keep], values[keep]
        upserted = self._copy(sids, times, values)
        return WriteResult(len(sids), created, upserted, rejected)

    def _copy(self, sids: np.ndarray, times: np.ndarray, values: np.ndarray) -> bool:
        try:
            with self.conn.transaction(), self.conn.cursor() as cur, cur.copy(_COPY_SAMPLES) as copy:
                copy.write(encode_copy_binary(sids, times, values))
            return False
        except errors.UniqueViolation:
            pass
        # Some samples already exist (a re-send, an overlapping file): COPY cannot skip them, so
        # merge the batch, the new value replacing the stored one. Binary parameters keep NaN bits.
        with self.conn.transaction():
            self.conn.execute(_UPSERT, (times.tolist(), sids.tolist(), values.tolist()))
        return True
