"""Correlate and regress two series on aligned windows: Pearson, Spearman, best lag, linear regression."""

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
    text_param,
    time_range,
)
from tsmon.db import Conn
from tsmon.stats.association import cross_correlation, linregress, pearson, spearman
from tsmon.windows.definitions import BY_NAME
from tsmon.windows.reader import fetch_sums
from tsmon.windows.retention import RetentionSettings

PARAMS = ("metric", "labels", "metric_y", "labels_y", "from", "to", "max_lag", "resolution", "alternative")


def _one(
    conn: Conn, metric: str, labels: dict[str, str], metric_arg: str, labels_arg: str
) -> tuple[int, dict[str, str]]:
    series = select_series(conn, metric, labels, argument=metric_arg, labels_argument=labels_arg)
    if len(series) != 1:
        raise AnalysisInputError(labels_arg, f"matches {len(series)} series of {metric!r}; narrow it to one")
    return series[0].series_id, series[0].labels


def correlate(
    conn: Conn, params: Mapping[str, object], retention: RetentionSettings, now: datetime
) -> dict[str, Any]:
    """x = (``metric``, ``labels``), y = (``metric_y``, ``labels_y``; default the same labels), each
    one series, their window means aligned by bucket over ``from``/``to``.

    Correlation is not a cause: two series with a trend or the same daily cycle correlate
    strongly without any link, and the p-values assume independent windows (autocorrelated
    series make them far too small). The best lag is a lead to follow, not a test.
    """
    check_keys(params, PARAMS)
    metric = text_param(params, "metric", required=True) or ""
    metric_y = text_param(params, "metric_y") or metric
    labels = parse_labels("labels", params.get("labels"))
    labels_y = parse_labels("labels_y", params["labels_y"]) if params.get("labels_y") is not None else labels
    r = time_range("from", params.get("from"), "to", params.get("to"), now)
    alternative = (
        choice_param(params, "alternative", ("two-sided", "less", "greater"), "two-sided") or "two-sided"
    )
    try:
        max_lag = int(params.get("max_lag", 10))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise AnalysisInputError("max_lag", f"{params.get('max_lag')!r} is not an integer") from None
    if not 0 <= max_lag <= 500:
        raise AnalysisInputError("max_lag", f"must be between 0 and 500 windows, not {max_lag}")
    res = choice_param(params, "resolution", ("1m", "1h", "1d"), None) or resolution_for(
        "from", [r], retention, now
    )
    sx, lx = _one(conn, metric, labels, "metric", "labels")
    sy, ly = _one(conn, metric_y, labels_y, "metric_y", "labels_y")
    if sx == sy:
        raise AnalysisInputError("labels_y", "x and y are the same series")
    step = BY_NAME[res].step.total_seconds()
    start = np.floor(r.start.timestamp() / step) * step
    cells = int(np.ceil((r.stop.timestamp() - start) / step))
    sums = fetch_sums(conn, res, [sx, sy], [(r.start, r.stop)], extremes=False)
    grid = np.full((2, cells), np.nan)
    for row, sid in enumerate((sx, sy)):
        mine = sums.series_id == sid
        idx = ((sums.epoch[mine] - start) / step).astype(np.int64)
        grid[row, idx] = sums.sum[mine] / sums.count[mine]
    x, y = grid
    pairs = int(np.sum(np.isfinite(x) & np.isfinite(y)))
    if pairs < 3:
        raise AnalysisInputError("from", f"too few points: {pairs} aligned {res} windows, need 3 or more")
    p, s = pearson(x, y, alternative=alternative), spearman(x, y, alternative=alternative)
    xc, lr = cross_correlation(x, y, max_lag=max_lag), linregress(x, y, alternative=alternative)
    return {
        "analysis": "correlate",
        "x": {"series_id": sx, "metric": metric, "labels": lx},
        "y": {"series_id": sy, "metric": metric_y, "labels": ly},
        "range": r.as_json(),
        "resolution": res,
        "n": pairs,
        "pearson": {"statistic": json_number(p.statistic), "pvalue": json_number(p.pvalue)},
        "spearman": {"statistic": json_number(s.statistic), "pvalue": json_number(s.pvalue)},
        "cross_correlation": {
            "best_lag": xc.best_lag,
            "best_r": json_number(xc.best_r),
            "lags": xc.lags,
            "r": [json_number(v) for v in xc.r],
        },
        "regression": {
            "slope": json_number(lr.slope),
            "intercept": json_number(lr.intercept),
            "r_squared": json_number(lr.r_squared),
            "pvalue": json_number(lr.pvalue),
            "stderr": json_number(lr.stderr),
        },
    }
