"""Series grouped by one label's values (latency by host): ANOVA, Kruskal-Wallis, Tukey HSD naming pairs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np

from tsmon.analysis.selection import (
    AnalysisInputError,
    check_keys,
    choice_param,
    float_param,
    json_number,
    parse_labels,
    resolution_for,
    select_series,
    text_param,
    time_range,
)
from tsmon.db import Conn
from tsmon.stats import moments
from tsmon.stats.groups import anova, tukey_hsd
from tsmon.stats.ranks import kruskal
from tsmon.windows.reader import fetch_sums
from tsmon.windows.retention import RetentionSettings

PARAMS = ("metric", "labels", "by", "from", "to", "alpha", "resolution")


def groups(
    conn: Conn, params: Mapping[str, object], retention: RetentionSettings, now: datetime
) -> dict[str, Any]:
    """Do the samples of ``metric`` differ between the values of label ``by`` over ``from``/``to``?

    ANOVA and Tukey's HSD are exact from the windows' sums (each group's samples are all the
    samples of its series); Kruskal-Wallis ranks the groups' window means. All three assume
    independent values: with autocorrelated samples their p-values are too small, so read
    ``eta_squared`` and the group means for how much, not only the p-value for whether.
    """
    check_keys(params, PARAMS)
    metric = text_param(params, "metric", required=True) or ""
    by = text_param(params, "by", required=True) or ""
    labels = parse_labels("labels", params.get("labels"))
    r = time_range("from", params.get("from"), "to", params.get("to"), now)
    alpha = float_param(params, "alpha", 0.05, 0.0, 1.0)
    res = choice_param(params, "resolution", ("1m", "1h", "1d"), None) or resolution_for(
        "from", [r], retention, now
    )
    series = [s for s in select_series(conn, metric, labels) if by in s.labels]
    names = sorted({s.labels[by] for s in series})
    if len(names) < 2:
        raise AnalysisInputError(
            "by", f"label {by!r} has {len(names)} value(s) among the series; need 2 or more"
        )
    group_of = {s.series_id: names.index(s.labels[by]) for s in series}
    sums = fetch_sums(conn, res, sorted(group_of), [(r.start, r.stop)], extremes=False)
    if sums.count.size == 0:
        raise AnalysisInputError("from", "too few points: no window of the selected series in the range")
    g = np.array([group_of[int(s)] for s in sums.series_id], dtype=np.int64)
    per = moments.from_sums(sums.count, sums.sum, sums.sum_sq)
    m = moments.merge(per, g, len(names))
    keep = [i for i in range(len(names)) if m.n[i] > 0]
    if len(keep) < 2:
        raise AnalysisInputError("from", "too few points: fewer than two groups have samples in the range")
    km = moments.Moments(m.n[keep], m.mean[keep], m.m2[keep])
    kept = [names[i] for i in keep]
    a, t = anova(km), tukey_hsd(km)
    kw = kruskal([per.mean[g == i] for i in keep])
    return {
        "analysis": "groups",
        "metric": metric,
        "labels": labels,
        "by": by,
        "range": r.as_json(),
        "resolution": res,
        "groups": [
            {
                "value": name,
                "series": sum(1 for v in group_of.values() if v == names.index(name)),
                "n": int(km.n[i]),
                "mean": json_number(km.mean[i]),
                "stddev": json_number(km.stddev[i]),
            }
            for i, name in enumerate(kept)
        ],
        "anova": {
            "statistic": json_number(a.statistic),
            "pvalue": json_number(a.pvalue),
            "df_between": a.df_between,
            "df_within": a.df_within,
            "eta_squared": json_number(a.eta_squared),
        },
        "kruskal": {"statistic": json_number(kw.statistic), "pvalue": json_number(kw.pvalue), "df": kw.df},
        "tukey": [
            {
                "a": kept[i],
                "b": kept[j],
                "diff": json_number(d),
                "statistic": json_number(q),
                "pvalue": json_number(p),
                "differ": bool(p <= alpha),
            }
            for i, j, d, q, p in zip(t.i, t.j, t.diff, t.statistic, t.pvalue, strict=True)
        ],
    }
