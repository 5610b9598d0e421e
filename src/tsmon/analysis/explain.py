"""Explain an aggregate's change: each label value's contribution to the delta of the metric's mean or sum."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np

from tsmon.analysis.selection import (
    AnalysisInputError,
    check_keys,
    choice_param,
    json_number,
    parse_labels,
    resolution_for,
    select_series,
    target_and_baseline,
    text_param,
)
from tsmon.db import Conn
from tsmon.stats.contributions import contributions
from tsmon.windows.reader import fetch_sums
from tsmon.windows.retention import RetentionSettings

PARAMS = (
    "metric",
    "labels",
    "by",
    "from",
    "to",
    "baseline_from",
    "baseline_to",
    "shift",
    "aggregate",
    "resolution",
)


def explain(
    conn: Conn, params: Mapping[str, object], retention: RetentionSettings, now: datetime
) -> dict[str, Any]:
    """Which values of the ``by`` labels (``host`` or ``host,region``) carry the change of the
    metric between the baseline and ``from``/``to``.

    ``aggregate=mean``: the mean over every sample of the selected series, split into each
    part's rate effect (its own mean moved) and mix effect (its share of the samples moved).
    ``aggregate=sum``: the sum over series of each series' mean (the level of a stacked graph);
    a part contributes the change of its series' means. Contributions add up to the delta
    exactly. A part absent from one range contributes all of its level (it appeared or left).
    """
    check_keys(params, PARAMS)
    metric = text_param(params, "metric", required=True) or ""
    by_text = text_param(params, "by", required=True) or ""
    by = [b.strip() for b in by_text.split(",") if b.strip()]
    if not by:
        raise AnalysisInputError("by", "give one or more label names, comma-separated")
    labels = parse_labels("labels", params.get("labels"))
    baseline, target = target_and_baseline(params, now)
    aggregate = choice_param(params, "aggregate", ("mean", "sum"), "mean") or "mean"
    res = choice_param(params, "resolution", ("1m", "1h", "1d"), None) or resolution_for(
        "from", [baseline, target], retention, now
    )
    series = select_series(conn, metric, labels)
    keys = sorted({tuple(s.labels.get(b, "") for b in by) for s in series})
    part_of = {s.series_id: keys.index(tuple(s.labels.get(b, "") for b in by)) for s in series}
    a, b = baseline.aligned(res), target.aligned(res)
    sums = fetch_sums(conn, res, sorted(part_of), [(a.start, a.stop), (b.start, b.stop)], extremes=False)
    if sums.count.size == 0:
        raise AnalysisInputError("from", "too few points: no window of the selected series in either range")
    in_a = (sums.epoch >= a.start.timestamp()) & (sums.epoch < a.stop.timestamp())
    k = len(keys)
    totals = []
    for side in (in_a, ~in_a):
        sid = sums.series_id[side]
        if aggregate == "mean":
            part = np.array([part_of[int(s)] for s in sid], dtype=np.int64)
            totals.append((np.bincount(part, sums.count[side], k), np.bincount(part, sums.sum[side], k)))
        else:  # each series' mean over the range, summed per part (count: series present)
            ids, inv = np.unique(sid, return_inverse=True)
            means = np.bincount(inv, sums.sum[side]) / np.bincount(inv, sums.count[side])
            part = np.array([part_of[int(s)] for s in ids], dtype=np.int64)
            totals.append((np.bincount(part, None, k).astype(np.float64), np.bincount(part, means, k)))
    (na, sa), (nb, sb) = totals
    c = contributions(na, sa, nb, sb, aggregate=aggregate)
    order = np.argsort(-np.abs(c.contribution), kind="stable")
    rows = []
    for i in order.tolist():
        level_a = sa[i] / na[i] if aggregate == "mean" and na[i] else (sa[i] if aggregate == "sum" else None)
        level_b = sb[i] / nb[i] if aggregate == "mean" and nb[i] else (sb[i] if aggregate == "sum" else None)
        rows.append(
            {
                "group": dict(zip(by, keys[i], strict=True)),
                "count_a": int(na[i]),
                "count_b": int(nb[i]),
                "value_a": json_number(level_a),
                "value_b": json_number(level_b),
                "contribution": json_number(c.contribution[i]),
                "share": json_number(c.share[i]),
                "rate": json_number(c.rate[i]),
                "mix": json_number(c.mix[i]),
            }
        )
    return {
        "analysis": "explain",
        "metric": metric,
        "labels": labels,
        "by": by,
        "aggregate": aggregate,
        "resolution": res,
        "baseline": a.as_json(),
        "range": b.as_json(),
        "total_a": json_number(c.total_a),
        "total_b": json_number(c.total_b),
        "delta": json_number(c.delta),
        "results": rows,
    }
