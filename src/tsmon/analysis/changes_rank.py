"""Rankings for "what changed": volume in SQL (tsmon.changes), KS2 over the values of the series it ranks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import orjson
from psycopg import sql
from psycopg.rows import dict_row

from tsmon.db import Conn
from tsmon.stats.changes import BASELINE_FACTOR, CANDIDATE_CAUSE_BOOST, CO_ANOMALY_BOOST, ks2
from tsmon.windows.reader import SeriesWindows, fetch_windows

_RECORD = np.dtype([("series_id", ">i8"), ("epoch", ">f8"), ("value", ">f8")])


@dataclass(frozen=True)
class ChangeRow:
    """One ranked series (the columns of tsmon.analysis_change_results, plus metric and labels)."""

    rank: int
    series_id: int
    metric: str
    labels: dict[str, str]
    score: float
    method: str
    kind: str
    statistic: float
    p_value: float | None
    window_points: int
    window_mean: float | None
    baseline_points: int
    baseline_mean: float | None
    baseline_stddev: float | None
    co_anomaly_id: int | None
    co_anomaly_onset: datetime | None
    co_anomaly_order: int | None


@dataclass(frozen=True)
class Ranking:
    rows: list[ChangeRow]
    ranked: int
    skipped_constant: int
    skipped_sparse: int


@dataclass(frozen=True)
class Selection:
    """The window and series of a ranking, and how many minutes with data a series needs."""

    start: datetime
    end: datetime
    metric: str | None
    labels: dict[str, str] | None
    min_window: int
    min_baseline: int
    alternative: str


def _sql_ranking(conn: Conn, s: Selection, limit: int | None) -> list[dict[str, object]]:
    labels = None if s.labels is None else orjson.dumps(s.labels).decode()
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT * FROM tsmon.changes(%s, %s, %s, %s::jsonb, %s, %s, %s, %s)",
            (s.start, s.end, s.metric, labels, limit, s.min_window, s.min_baseline, s.alternative),
        ).fetchall()


def _row(r: dict[str, object], **override: object) -> ChangeRow:
    fields = {k: r[k] for k in ChangeRow.__dataclass_fields__ if k in r}
    return ChangeRow(**{"method": "volume", "p_value": None, **fields, **override})  # type: ignore[arg-type]


def _counts(rows: list[dict[str, object]]) -> tuple[int, int, int]:
    if not rows:
        return 0, 0, 0
    first = rows[0]
    return int(first["ranked"]), int(first["skipped_constant"]), int(first["skipped_sparse"])  # type: ignore[call-overload]


def rank_volume(conn: Conn, s: Selection, limit: int) -> Ranking:
    """The top ``limit`` by volume score, computed in the database in one scan of the 1m windows."""
    rows = _sql_ranking(conn, s, limit)
    return Ranking([_row(r) for r in rows], *_counts(rows))


def _increases(conn: Conn, series: list[int], start: datetime, stop: datetime) -> SeriesWindows:
    """Per-minute counter increases, packed like fetch_windows's averages (which it does not return)."""
    query = sql.SQL(
        "SELECT string_agg(int8send(w.series_id) || float8send(extract(epoch FROM w.bucket)::float8) "
        "|| float8send(w.increase), ''::bytea ORDER BY w.series_id, w.bucket) FROM tsmon.samples_1m w "
        "WHERE w.series_id = ANY(%(ids)s) AND w.bucket >= %(start)s AND w.bucket < %(stop)s "
        "AND w.count > 0 AND w.sum IS NOT NULL"
    )
    with conn.cursor(binary=True) as cur:
        row = cur.execute(query, {"ids": series, "start": start, "stop": stop}).fetchone()
    packed = row[0] if row is not None and isinstance(row[0], bytes | memoryview) else b""
    rec = np.frombuffer(packed, dtype=_RECORD)
    return SeriesWindows(
        rec["series_id"].astype(np.int64), rec["epoch"].astype(np.float64), rec["value"].astype(np.float64)
    )


def rank_ks2(conn: Conn, s: Selection, limit: int) -> Ranking:
    """Every series the volume ranking keeps, re-ranked by the KS2 statistic D of its per-minute values
    (window against baseline; smaller p first on ties), with the same co-anomaly boost."""
    rows = _sql_ranking(conn, s, None)
    baseline_start = s.start - (s.end - s.start) * BASELINE_FACTOR
    kinds = {int(r["series_id"]): str(r["kind"]) for r in rows}  # type: ignore[call-overload]
    values: dict[int, np.ndarray] = {}
    epochs: dict[int, np.ndarray] = {}
    for kind, fetch in (("gauge", None), ("counter", _increases)):
        ids = [i for i, k in kinds.items() if k == kind]
        if not ids:
            continue
        got = (
            fetch_windows(conn, "1m", ids, baseline_start, s.end)
            if fetch is None
            else fetch(conn, ids, baseline_start, s.end)
        )
        for sid, epoch, value in got.by_series():
            epochs[sid], values[sid] = epoch, value
    cut = s.start.timestamp()
    scored = []
    for r in rows:
        sid = int(r["series_id"])  # type: ignore[call-overload]
        inw = epochs[sid] >= cut
        res = ks2(values[sid][inw], values[sid][~inw], alternative=s.alternative)  # type: ignore[arg-type]
        order = r["co_anomaly_order"]
        boost = CANDIDATE_CAUSE_BOOST if order == 1 else CO_ANOMALY_BOOST if order is not None else 1.0
        scored.append((res.statistic * boost, -res.pvalue, -sid, res, r))
    scored.sort(key=lambda t: t[:3], reverse=True)
    top = [
        _row(r, rank=i, method="ks2", score=score, statistic=res.statistic, p_value=res.pvalue)
        for i, (score, _, _, res, r) in enumerate(scored[:limit], start=1)
    ]
    return Ranking(top, *_counts(rows))
