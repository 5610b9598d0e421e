"""compare on a real database: Welch from windows equals scipy on raw samples, SQL agrees, AR(1) unflagged."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import psycopg
import pytest
from scipy import stats as sps

from tests.analysis.seed import BASE, Conn, epoch, raw_values, refresh, write, write_many
from tsmon.analysis.compare import CompareRequest, compare
from tsmon.analysis.selection import AnalysisInputError, TimeRange
from tsmon.windows.retention import RetentionSettings

A = TimeRange(BASE, BASE + timedelta(hours=2))
B = TimeRange(BASE + timedelta(hours=3), BASE + timedelta(hours=5))
KEEP = RetentionSettings()


def seed_three(conn: Conn) -> None:
    rng = np.random.default_rng(13)
    for i, shift in enumerate((0.0, 0.8, 0.0)):
        t = np.sort(epoch(BASE) + rng.uniform(0, 6 * 3600, 4000))
        v = 1000.0 + rng.normal(0, 1 + i, t.size) + np.where(t >= epoch(B.start), shift, 0.0)
        write(conn, "latency", {"host": f"web{i}", "dc": "x" if i < 2 else "y"}, t, v)
    refresh(conn)


@pytest.mark.parametrize("resolution", [None, "1h"])
def test_welch_equals_scipy_on_raw_samples_and_sql_agrees(conn: Conn, resolution: str | None) -> None:
    seed_three(conn)
    out = compare(conn, CompareRequest("latency", {}, A, B, resolution=resolution), KEEP)
    assert out["resolution"] == (resolution or "1m") and out["series"] == 3
    by_host = {r["labels"]["host"]: r for r in out["results"]}
    for row in by_host.values():
        a = raw_values(conn, row["series_id"], A.start, A.stop)
        b = raw_values(conn, row["series_id"], B.start, B.stop)
        want = sps.ttest_ind(b, a, equal_var=False)
        assert (row["n_a"], row["n_b"]) == (a.size, b.size)
        assert row["welch_t"] == pytest.approx(want.statistic, rel=1e-9)
        # p in the far tail magnifies the last digits of t (dp/p ~ t dt): 1e-9 on t, 1e-6 on p.
        assert row["p_naive"] == pytest.approx(want.pvalue, rel=1e-6, abs=1e-300)
        assert row["df"] == pytest.approx(want.df, rel=1e-9)
        assert row["stddev_b"] == pytest.approx(b.std(ddof=1), rel=1e-9)
        if resolution is None:  # the rank tests read the 1m means: the same from the raw samples
            ma, mb = minute_means(conn, row["series_id"], A), minute_means(conn, row["series_id"], B)
            assert row["ks_p"] == pytest.approx(sps.ks_2samp(mb, ma).pvalue, rel=1e-9)
            assert row["mwu_p"] == pytest.approx(sps.mannwhitneyu(mb, ma).pvalue, rel=1e-9)
    if resolution is None:  # 120 one-minute windows a range: enough to flag the shift
        assert by_host["web1"]["flagged"] and by_host["web1"]["delta"] > 0.5
        assert out["results"][0]["labels"]["host"] == "web1"  # most significant first
    else:  # two hourly windows a range: the effective test cannot tell a shift from slow noise
        assert all(r["n_eff_a"] == 2 and not r["flagged"] for r in out["results"])
    sql_rows = compare_in_sql(conn, resolution)
    assert [r["series_id"] for r in sql_rows] == sorted(r["series_id"] for r in out["results"])
    for s in sql_rows:
        py = next(r for r in out["results"] if r["series_id"] == s["series_id"])
        for key in ("n_a", "n_b", "mean_a", "mean_b", "stddev_a", "delta", "welch_t", "df", "p_naive"):
            assert s[key] == pytest.approx(py[key], rel=1e-9), key
        for key in ("r_lag1", "n_eff_a", "n_eff_b", "p_effective"):
            assert s[key] == pytest.approx(py[key], rel=1e-7, abs=1e-12), key


def minute_means(conn: Conn, series_id: int, r: TimeRange) -> np.ndarray:
    rows = conn.execute(
        "SELECT avg(value) FROM tsmon.metric_samples WHERE series_id = %s AND time >= %s AND time < %s "
        "GROUP BY date_trunc('minute', time) ORDER BY date_trunc('minute', time)",
        (series_id, r.start, r.stop),
    ).fetchall()
    return np.array([x[0] for x in rows])


def compare_in_sql(conn: Conn, resolution: str | None) -> list[dict[str, object]]:
    """tsmon.compare_ranges as Grafana's role would call it."""
    with conn.transaction():
        conn.execute("SET LOCAL ROLE tsmon_reader")
        cur = conn.execute(
            "SELECT * FROM tsmon.compare_ranges('latency', '{}', %s, %s, %s, %s, %s)",
            (A.start, A.stop, B.start, B.stop, resolution),
        )
        names = [c.name for c in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def test_ar1_noise_without_change_is_rarely_flagged(conn: Conn) -> None:
    """1,000 series of AR(1) noise (phi = 0.8, one sample a minute), 6 h against the next 6 h."""
    rng = np.random.default_rng(2027)
    n, minutes = 1000, 720
    e = rng.normal(0, 1, (n, minutes))
    x = np.empty_like(e)
    x[:, 0] = e[:, 0] / np.sqrt(1 - 0.8**2)
    for t in range(1, minutes):
        x[:, t] = 0.8 * x[:, t - 1] + e[:, t]
    times = epoch(BASE) + 60.0 * np.arange(minutes)
    # Not refreshed: read through the windows' real-time part (the other tests read materialised ones).
    write_many(conn, "noise", [{"i": str(i)} for i in range(n)], [times] * n, list(100 + x))
    a = TimeRange(BASE, BASE + timedelta(hours=6))
    b = TimeRange(BASE + timedelta(hours=6), BASE + timedelta(hours=12))
    out = compare(conn, CompareRequest("noise", {}, a, b), KEEP)
    assert out["resolution"] == "1m" and out["series"] == n
    naive = sum(r["p_naive"] < 0.05 for r in out["results"])
    effective = sum(r["p_effective"] < 0.05 for r in out["results"])
    print(
        f"AR(1) phi=0.8 through compare, 1000 series, no change: naive Welch p<0.05 for {naive}, "
        f"effective-n p<0.05 for {effective}, flagged after BH {out['flagged']}"
    )
    assert effective <= 60, effective
    assert naive >= 300, naive
    assert out["flagged"] <= 5


def test_bad_input_names_the_argument(conn: Conn) -> None:
    seed_three(conn)
    with pytest.raises(AnalysisInputError, match="no metric named") as unknown:
        compare(conn, CompareRequest("nope", {}, A, B), KEEP)
    assert unknown.value.argument == "metric"
    with pytest.raises(AnalysisInputError) as labels:
        compare(conn, CompareRequest("latency", {"host": "db9"}, A, B), KEEP)
    assert labels.value.argument == "labels"
    late = TimeRange(BASE + timedelta(days=1), BASE + timedelta(days=1, hours=2))
    with pytest.raises(AnalysisInputError, match="too few points"):
        compare(conn, CompareRequest("latency", {}, A, late), KEEP)
    short = TimeRange(BASE + timedelta(seconds=10), BASE + timedelta(seconds=50))
    with pytest.raises(AnalysisInputError, match="shorter than one") as tiny:
        compare(conn, CompareRequest("latency", {}, short, B), KEEP)
    assert tiny.value.argument == "baseline_from"
    with pytest.raises(AnalysisInputError, match="retention") as old:
        compare(
            conn,
            CompareRequest("latency", {}, A, B),
            RetentionSettings(minute_days=1, hour_days=2, day_days=2),
        )
    assert old.value.argument == "baseline_from"  # the older range is the one past retention
    with pytest.raises(AnalysisInputError) as alpha:
        compare(conn, CompareRequest("latency", {}, A, B, alpha=0), KEEP)
    assert alpha.value.argument == "alpha"
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="empty range"):
        conn.execute(
            "SELECT * FROM tsmon.compare_ranges('latency', '{}', %s, %s, %s, %s)",
            (A.start, A.start, B.start, B.stop),
        )


def test_extreme_values_give_nulls_not_errors(conn: Conn) -> None:
    """Squares of values beyond 1e150 are +Infinity in the windows: no variance, so no test (null)."""
    t = epoch(BASE) + 60.0 * np.arange(300)
    write(conn, "huge", {"h": "x"}, t, np.full(300, 1e200) * (1 + 0.01 * np.sin(np.arange(300))))
    write(conn, "huge", {"h": "y"}, t, 1.0 + np.sin(np.arange(300)))
    refresh(conn)
    a = TimeRange(BASE, BASE + timedelta(minutes=150))
    b = TimeRange(BASE + timedelta(minutes=150), BASE + timedelta(minutes=300))
    out = compare(conn, CompareRequest("huge", {}, a, b), KEEP)
    rows = {r["labels"]["h"]: r for r in out["results"]}
    assert rows["x"]["stddev_a"] is None and rows["x"]["welch_t"] is None and not rows["x"]["flagged"]
    assert rows["y"]["welch_t"] is not None
    assert out["results"][-1]["labels"]["h"] == "x"  # untestable rows last
