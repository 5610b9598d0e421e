"""The one write path for every protocol: resolve series ids, then binary COPY sorted samples."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
import psycopg
from psycopg import errors

from tsmon.db import Conn, is_transient
from tsmon.ingest.batch import SampleBatch, datetime_to_us, us_to_datetime
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

# Windows need to know about samples below their watermark (late data), and detection which series
# were written behind what it may have scored; same transaction (sql/45_windows_write, 60_detection).
_NOTE_WRITTEN = "SELECT tsmon.note_samples_written(%s, %s), tsmon.detection_late_before()"
_NOTE_LATE = "SELECT tsmon.note_late_samples(%b::bigint[], %b::bigint[], %b::bigint[])"

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
    """Bounded map metric -> canonical labels -> series id, shared by threads.

    When full it is emptied rather than trimmed (LRU bookkeeping cost more than the lookups
    themselves): a working set larger than the cache then costs one database round trip per
    batch until it is warm again. Size it above the number of active series.
    """

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._by_metric: dict[str, dict[str, int]] = {}
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_many(self, metric: str, labels: list[str]) -> list[int | None]:
        """Ids (or None) for label sets of one metric: the hot path of every write."""
        ids = self._by_metric.get(metric)
        found: list[int | None] = [None] * len(labels) if ids is None else list(map(ids.get, labels))
        hits = len(found) - found.count(None)
        self.hits += hits
        self.misses += len(found) - hits
        return found

    def get(self, key: SeriesKey) -> int | None:
        return self.get_many(key[0], [key[1]])[0]

    def put(self, key: SeriesKey, sid: int) -> None:
        with self._lock:
            if self._size >= self.max_size:
                self._by_metric, self._size = {}, 0
            ids = self._by_metric.setdefault(key[0], {})
            if key[1] not in ids:
                self._size += 1
            ids[key[1]] = sid

    def __len__(self) -> int:
        return self._size


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

    def __init__(self, conn: Conn, cache: SeriesCache, limits: Limits | None = None) -> None:
        self.conn = conn
        self.cache = cache
        self.limits = limits or Limits()

    def resolve_series(
        self, keys: list[SeriesKey]
    ) -> tuple[dict[SeriesKey, int], dict[SeriesKey, Refusal], int]:
        """Ids for the keys, from the cache or the database; returns (ids, refused keys, series created)."""
        found: dict[SeriesKey, int] = {}
        missing: list[SeriesKey] = []
        by_metric: dict[str, list[str]] = {}
        for metric, labels in dict.fromkeys(keys):
            by_metric.setdefault(metric, []).append(labels)
        for metric, label_list in by_metric.items():
            for labels, sid in zip(label_list, self.cache.get_many(metric, label_list), strict=True):
                if sid is None:
                    missing.append((metric, labels))
                else:
                    found[(metric, labels)] = sid
        created_ids, refused, created = self._resolve_missing(missing)
        found.update(created_ids)
        return found, refused, created

    def _resolve_missing(
        self, missing: list[SeriesKey]
    ) -> tuple[dict[SeriesKey, int], dict[SeriesKey, Refusal], int]:
        """Check limits, then find or create the series in their own committed transaction.

        Committed separately so a sample batch that later rolls back never leaves the cache
        pointing at ids that do not exist.
        """
        found: dict[SeriesKey, int] = {}
        refused: dict[SeriesKey, Refusal] = {}
        valid = []
        for key in missing:
            refusal = self.limits.check_series(*key)
            if refusal is None:
                valid.append(key)
            else:
                refused[key] = refusal
        if not valid:
            return found, refused, 0
        valid.sort()  # a stable order for locks taken by concurrent writers
        try:
            rows = self._resolve_rows(valid)
        except psycopg.Error as exc:
            if is_transient(exc):
                raise
            # One series the database refuses (an error no limit foresaw) must not cost the
            # others: resolve them one at a time and refuse only those that fail.
            rows = []
            for key in valid:
                try:
                    rows += self._resolve_rows([key])
                except psycopg.Error as one:
                    if is_transient(one):
                        raise
                    message = one.diag.message_primary or type(one).__name__
                    refused[key] = Refusal("database_refused", f"the database refused the series: {message}")
        created = 0
        for key, series_id, was_created, refusal_code in rows:
            if series_id is None:
                code = str(refusal_code)
                limit = (
                    self.limits.max_series_per_metric
                    if code.endswith("metric")
                    else self.limits.max_series_total
                )
                refused[key] = Refusal(code, SERIES_LIMIT_REASONS[code].format(limit=limit))
                continue
            sid = int(series_id)
            found[key] = sid
            self.cache.put(key, sid)
            created += bool(was_created)
        return found, refused, created

    def _resolve_rows(self, keys: list[SeriesKey]) -> list[tuple[SeriesKey, int | None, bool, str | None]]:
        """tsmon.resolve_series for ``keys`` in one committed transaction: (key, id, created, refusal)."""
        with self.conn.transaction():
            rows = self.conn.execute(
                "SELECT idx, series_id, created, refused FROM tsmon.resolve_series(%s, %s, %s, %s)",
                (
                    [k[0] for k in keys],
                    [k[1] for k in keys],
                    self.limits.max_series_per_metric,
                    self.limits.max_series_total,
                ),
            ).fetchall()
        return [(keys[int(idx) - 1], sid, bool(created), refused) for idx, sid, created, refused in rows]

    def _series_ids(self, batch: SampleBatch) -> tuple[np.ndarray, np.ndarray, list[SeriesRejection], int]:
        """Per-row series id (-1 where refused), plus the refused series and how many were created.

        Factorised in C: per-row work stays out of Python, only distinct series are looked up, and
        only cache misses become (metric, labels) tuples.
        """
        metric_codes, metric_names = pd.factorize(np.asarray(batch.metrics, dtype=object))
        label_codes, label_texts = pd.factorize(np.asarray(batch.labels, dtype=object))
        n_labels = len(label_texts)
        combined = metric_codes.astype(np.int64) * n_labels + label_codes
        unique_codes, row_series = np.unique(combined, return_inverse=True)
        unique_metric, unique_labels = unique_codes // n_labels, unique_codes % n_labels
        key_ids = np.full(len(unique_codes), -1, dtype=np.int64)
        missing: list[tuple[int, SeriesKey]] = []
        for m in np.unique(unique_metric).tolist():
            positions = np.flatnonzero(unique_metric == m)
            metric, texts = str(metric_names[m]), label_texts[unique_labels[positions]].tolist()
            for pos, text, sid in zip(
                positions.tolist(), texts, self.cache.get_many(metric, texts), strict=True
            ):
                if sid is None:
                    missing.append((pos, (metric, text)))
                else:
                    key_ids[pos] = sid
        ids, refused, created = self._resolve_missing([key for _, key in missing])
        rejected: list[SeriesRejection] = []
        if refused:
            per_key = np.bincount(row_series, minlength=len(unique_codes))
        for pos, key in missing:
            if key in refused:
                rejected.append(SeriesRejection(key[0], key[1], refused[key], int(per_key[pos])))
            else:
                key_ids[pos] = ids[key]
        return key_ids[row_series], row_series, rejected, created

    def write(self, batch: SampleBatch) -> WriteResult:
        """Store a batch in one transaction: all of its acceptable series, or (on error) nothing."""
        if not len(batch):
            return WriteResult(0, 0, upserted=False)
        sids, _, rejected, created = self._series_ids(batch)
        times = np.asarray(batch.times_us, dtype=np.int64)
        values = np.asarray(batch.values, dtype=np.float64)
        if rejected:
            accepted = sids >= 0
            sids, times, values = sids[accepted], times[accepted], values[accepted]
        if not len(sids):
            return WriteResult(0, created, upserted=False, rejected=rejected)
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
            with self.conn.transaction():
                with self.conn.cursor() as cur, cur.copy(_COPY_SAMPLES) as copy:
                    copy.write(encode_copy_binary(sids, times, values))
                self._note_written(sids, times)
            return False
        except errors.UniqueViolation:
            pass
        # Some samples already exist (a re-send, an overlapping file): COPY cannot skip them, so
        # merge the batch, the new value replacing the stored one. Binary parameters keep NaN bits.
        with self.conn.transaction():
            self.conn.execute(_UPSERT, (times.tolist(), sids.tolist(), values.tolist()))
            self._note_written(sids, times)
        return True

    def _note_written(self, sids: np.ndarray, times: np.ndarray) -> None:
        """Tell windows and detection what was written (rows sorted by series, then time)."""
        lo = int(times.min())
        span = (us_to_datetime(lo), us_to_datetime(int(times.max())))
        row = self.conn.execute(_NOTE_WRITTEN, span).fetchone()
        late_before = row[1] if row is not None else None
        if not isinstance(late_before, datetime) or lo >= datetime_to_us(late_before):
            return  # no detection, or every sample on time: the common case costs nothing more
        late = times < datetime_to_us(late_before)
        sids, times = sids[late], times[late]
        cuts = np.flatnonzero(sids[1:] != sids[:-1]) + 1
        first, last = np.concatenate(([0], cuts)), np.concatenate((cuts - 1, [len(sids) - 1]))
        self.conn.execute(_NOTE_LATE, (sids[first].tolist(), times[first].tolist(), times[last].tolist()))
