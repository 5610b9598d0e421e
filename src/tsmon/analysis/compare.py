"""Compare two time ranges of each selected series: exact Welch, effective-n p-values, rank tests, BH."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from tsmon.analysis.selection import (
    AnalysisInputError,
    TimeRange,
    check_keys,
    choice_param,
    float_param,
    parse_labels,
    resolution_for,
    select_series,
    target_and_baseline,
    text_param,
)
from tsmon.db import Conn
from tsmon.stats import moments
from tsmon.stats.effective import segment_effective_welch
from tsmon.stats.multiple import benjamini_hochberg
from tsmon.stats.ranks import rank_tests_many
from tsmon.stats.welch import cohens_d, welch_t
from tsmon.windows.reader import SeriesSums, fetch_sums
from tsmon.windows.retention import RetentionSettings


@dataclass(frozen=True)
class CompareRequest:
    metric: str
    labels: dict[str, str]
    range_a: TimeRange  # the baseline (before)
    range_b: TimeRange  # the range of interest (after)
    alpha: float = 0.05
    alternative: str = "two-sided"
    resolution: str | None = None  # None: the finest giving at most MAX_WINDOWS per range


PARAMS = (
    "metric",
    "labels",
    "from",
    "to",
    "baseline_from",
    "baseline_to",
    "shift",
    "alpha",
    "alternative",
    "resolution",
)
RESOLUTIONS = ("1m", "1h", "1d")
ALTERNATIVES = ("two-sided", "less", "greater")


def compare_request(params: Mapping[str, object], now: datetime | None = None) -> CompareRequest:
    """The request from CLI options or an API body: ``from``/``to`` is the range of interest, the
    baseline is ``baseline_from``/``baseline_to``, or the same range ``shift`` earlier (default:
    the range just before, of the same length)."""
    check_keys(params, PARAMS)
    metric = text_param(params, "metric", required=True) or ""
    labels = parse_labels("labels", params.get("labels"))
    baseline, target = target_and_baseline(params, now)
    return CompareRequest(
        metric=metric,
        labels=labels,
        range_a=baseline,
        range_b=target,
        alpha=float_param(params, "alpha", 0.05, 0.0, 1.0),
        alternative=choice_param(params, "alternative", ALTERNATIVES, "two-sided") or "two-sided",
        resolution=choice_param(params, "resolution", RESOLUTIONS, None),
    )


@dataclass(frozen=True)
class Side:
    """One range's per-series window statistics, aligned with a list of series ids."""

    moments: moments.Moments
    means: np.ndarray  # window means, concatenated per series
    starts: np.ndarray  # each series' first window in ``means``


def _side(sums: SeriesSums, ids: np.ndarray) -> Side:
    """Merge each series' windows (Chan); series with no window get n = 0."""
    pos = np.searchsorted(ids, sums.series_id)
    per_window = moments.from_sums(sums.count, sums.sum, sums.sum_sq)
    merged = moments.merge(per_window, pos, ids.size)
    starts = np.searchsorted(pos, np.arange(ids.size)).astype(np.int64)
    return Side(merged, per_window.mean, starts)


def compare(
    conn: Conn, req: CompareRequest, retention: RetentionSettings, now: datetime | None = None
) -> dict[str, Any]:
    """Per series: sizes, means, deviations, delta, Welch's t (naive p) and the effective-n p-value
    that flags, Mann-Whitney U and KS on window means, Cohen's d, and BH q-values across series.

    Welch's t is exact for the windows read (the same as scipy on their raw samples); the ranges
    are floored to whole windows of the resolution. Flagged: BH q of the effective p <= alpha.
    """
    if not 0 < req.alpha < 1:
        raise AnalysisInputError("alpha", f"must be in (0, 1), not {req.alpha}")
    series = select_series(conn, req.metric, req.labels)
    oldest = "baseline_from" if req.range_a.start <= req.range_b.start else "from"
    res = req.resolution or resolution_for(oldest, [req.range_a, req.range_b], retention, now)
    a, b = req.range_a.aligned(res), req.range_b.aligned(res)
    for name, r in (("baseline_from", a), ("from", b)):
        if r.stop <= r.start:
            raise AnalysisInputError(name, f"shorter than one {res} window")
    ids = np.array([s.series_id for s in series], dtype=np.int64)
    sums = fetch_sums(conn, res, ids.tolist(), [(a.start, a.stop), (b.start, b.stop)], extremes=False)
    in_a = (sums.epoch >= a.start.timestamp()) & (sums.epoch < a.stop.timestamp())
    sa, sb = _side(sums.select(in_a), ids), _side(sums.select(~in_a), ids)
    if not np.any((sa.moments.n >= 2) & (sb.moments.n >= 2)):
        raise AnalysisInputError("from", "too few points: no series has two samples in both ranges")
    ma, mb = sa.moments, sb.moments
    welch = welch_t(mb, ma, alternative=req.alternative)  # after minus before
    eff = segment_effective_welch(
        sb.means, sb.starts, sa.means, sa.starts, mean_a=mb.mean, mean_b=ma.mean, alternative=req.alternative
    )
    d = cohens_d(mb, ma)
    fdr = benjamini_hochberg(eff.test.pvalue, alpha=req.alpha)
    wins_a, wins_b = np.split(sa.means, sa.starts[1:]), np.split(sb.means, sb.starts[1:])
    ranks = rank_tests_many(wins_b, wins_a, alternative=req.alternative)
    sd_a, sd_b = ma.stddev, mb.stddev  # properties: computed once, not per series
    rows = []
    for i, s in enumerate(series):
        wa, wb = wins_a[i], wins_b[i]
        delta = float(mb.mean[i] - ma.mean[i])
        rows.append(
            {
                "series_id": s.series_id,
                "labels": s.labels,
                "n_a": int(ma.n[i]),
                "n_b": int(mb.n[i]),
                "windows_a": int(wa.size),
                "windows_b": int(wb.size),
                "mean_a": _num(ma.mean[i]),
                "mean_b": _num(mb.mean[i]),
                "stddev_a": _num(sd_a[i]),
                "stddev_b": _num(sd_b[i]),
                "delta": _num(delta),
                "delta_pct": _num(100.0 * delta / abs(ma.mean[i])) if ma.mean[i] else None,
                "welch_t": _num(welch.statistic[i]),
                "df": _num(welch.df[i]),
                "p_naive": _num(welch.pvalue[i]),
                "r_lag1": _num(eff.r[i]),
                "n_eff_a": _num(eff.n_eff_b[i]),
                "n_eff_b": _num(eff.n_eff_a[i]),
                "p_effective": _num(eff.test.pvalue[i]),
                "q_effective": _num(fdr.qvalue[i]),
                "flagged": bool(fdr.rejected[i]),
                "cohens_d": _num(d[i]),
                "mwu_u": _num(ranks.mwu_u[i]),
                "mwu_p": _num(ranks.mwu_p[i]),
                "rank_biserial": _num(ranks.rank_biserial[i]),
                "ks_d": _num(ranks.ks_d[i]),
                "ks_p": _num(ranks.ks_p[i]),
            }
        )
    rows.sort(key=lambda r: (r["p_effective"] is None, r["p_effective"] or 0.0))
    return {
        "analysis": "compare",
        "metric": req.metric,
        "labels": req.labels,
        "resolution": res,
        "baseline": a.as_json(),
        "range": b.as_json(),
        "alpha": req.alpha,
        "alternative": req.alternative,
        "series": len(rows),
        "flagged": sum(1 for r in rows if r["flagged"]),
        "results": rows,
    }


def _num(x: float | np.floating[Any]) -> float | None:
    """A JSON number: NaN and infinities (no test, extreme values) become null."""
    v = float(x)
    return v if np.isfinite(v) else None
