"""Describe each selected series over a range: count, mean, stddev, min, max and p50 / p90 / p99."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from tsmon.analysis.selection import (
    AnalysisInputError,
    TimeRange,
    check_keys,
    choice_param,
    json_number,
    parse_labels,
    select_series,
    text_param,
    time_range,
)
from tsmon.db import Conn
from tsmon.stats import moments
from tsmon.windows.reader import fetch_sums
from tsmon.windows.retention import RetentionSettings

PARAMS = ("metric", "labels", "from", "to", "source")
QUANTILES = (0.5, 0.9, 0.99)
# Exact statistics straight from the raw samples, NaN values left out (the windows leave them out too).
_RAW = """
    SELECT series_id, count(*), avg(value), stddev_samp(value), min(value), max(value),
           percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY value)
    FROM tsmon.metric_samples
    WHERE series_id = ANY(%s) AND time >= %s AND time < %s AND value <> 'NaN'::float8
    GROUP BY series_id ORDER BY series_id
"""


def describe(
    conn: Conn, params: Mapping[str, object], retention: RetentionSettings, now: datetime
) -> dict[str, Any]:
    """Per series over ``from``/``to``. Exact (percentiles interpolated linearly, as numpy's default
    and percentile_cont) while the range is inside raw retention; else count, mean, stddev, min and
    max are exact from the 1m windows and the percentiles approximate: count-weighted percentiles
    of the 1m means, which understate the tails (p99 of minute means is not p99 of samples)."""
    check_keys(params, PARAMS)
    metric = text_param(params, "metric", required=True) or ""
    labels = parse_labels("labels", params.get("labels"))
    r = time_range("from", params.get("from"), "to", params.get("to"), now)
    source = choice_param(params, "source", ("auto", "raw", "1m"), "auto")
    series = select_series(conn, metric, labels)
    raw_kept = r.start >= now - timedelta(days=retention.raw_days)
    if source == "raw" and not raw_kept:
        raise AnalysisInputError(
            "from", f"{r.start.isoformat()} is past raw retention ({retention.raw_days} d)"
        )
    use_raw = source == "raw" or (source == "auto" and raw_kept)
    if (
        not use_raw
        and retention.minute_days is not None
        and r.start < now - timedelta(days=retention.minute_days)
    ):
        raise AnalysisInputError("from", f"{r.start.isoformat()} is past the 1m windows' retention")
    by_id = {s.series_id: s.labels for s in series}
    rows = _raw_rows(conn, list(by_id), r) if use_raw else _window_rows(conn, list(by_id), r)
    if not rows:
        raise AnalysisInputError("from", "too few points: no sample of the selected series in the range")
    for row in rows:
        row["labels"] = by_id[row["series_id"]]
    return {
        "analysis": "describe",
        "metric": metric,
        "labels": labels,
        "range": r.as_json(),
        "source": "raw" if use_raw else "1m",
        "percentiles": "exact" if use_raw else "approximate",
        "series": len(rows),
        "results": rows,
    }


def _raw_rows(conn: Conn, ids: list[int], r: TimeRange) -> list[dict[str, Any]]:
    out = []
    for sid, n, mean, sd, lo, hi, q in conn.execute(_RAW, (ids, r.start, r.stop)).fetchall():
        out.append(_row(int(sid), int(n), (mean, sd, lo, hi), list(q)))
    return out


def _window_rows(conn: Conn, ids: list[int], r: TimeRange) -> list[dict[str, Any]]:
    sums = fetch_sums(conn, "1m", ids, [(r.start, r.stop)])
    sids, starts = sums.segments()
    if not sids.size:
        return []
    per = moments.from_sums(sums.count, sums.sum, sums.sum_sq)
    group = np.repeat(np.arange(sids.size), np.diff(np.append(starts, sums.count.size)))
    m = moments.merge(per, group, sids.size)
    out = []
    for i, sid in enumerate(sids.tolist()):
        sl = slice(starts[i], starts[i + 1] if i + 1 < sids.size else sums.count.size)
        qs = _weighted_quantiles(per.mean[sl], sums.count[sl])
        lo, hi = float(sums.min[sl].min()), float(sums.max[sl].max())
        out.append(_row(sid, int(m.n[i]), (m.mean[i], m.stddev[i], lo, hi), qs))
    return out


def _weighted_quantiles(values: np.ndarray, weights: np.ndarray) -> list[float]:
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cum = (np.cumsum(w) - 0.5 * w) / w.sum()
    return [float(np.interp(q, cum, v)) for q in QUANTILES]


def _row(sid: int, n: int, stats: tuple[Any, Any, Any, Any], qs: list[float]) -> dict[str, Any]:
    mean, sd, lo, hi = stats
    return {
        "series_id": sid,
        "count": n,
        "mean": json_number(mean),
        "stddev": json_number(sd),
        "min": json_number(lo),
        "max": json_number(hi),
        "p50": json_number(qs[0]),
        "p90": json_number(qs[1]),
        "p99": json_number(qs[2]),
    }
