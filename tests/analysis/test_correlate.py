"""correlate: the lag is found; correlations and regression equal scipy on aligned windows; SQL agrees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import stats as sps

from tests.analysis.seed import BASE, Conn, as_reader, epoch, refresh, write
from tsmon.analysis.correlate import correlate
from tsmon.analysis.selection import AnalysisInputError
from tsmon.windows.retention import RetentionSettings

NOW = datetime.now(UTC)
PARAMS = {
    "metric": "cpu",
    "labels": '{"host": "a"}',
    "metric_y": "latency",
    "labels_y": '{"host": "a"}',
    "from": BASE.isoformat(),
    "to": (BASE + timedelta(hours=6)).isoformat(),
}


def seed_pair(conn: Conn) -> tuple[np.ndarray, np.ndarray]:
    """cpu of host a, and its latency 3 minutes later (one sample a minute), plus host b's cpu."""
    rng = np.random.default_rng(16)
    t = epoch(BASE) + 60.0 * np.arange(360)
    cpu = 50 + np.cumsum(rng.normal(0, 1, 360))
    latency = 10 + 0.5 * np.roll(cpu, 3) + rng.normal(0, 0.5, 360)
    latency[:3] = np.nan  # no latency before the first cpu it follows
    write(conn, "cpu", {"host": "a"}, t, cpu)
    write(conn, "cpu", {"host": "b"}, t, rng.normal(0, 1, 360))
    write(conn, "latency", {"host": "a"}, t[3:], latency[3:])
    refresh(conn)
    return cpu, latency


def test_lag_correlations_and_regression_equal_scipy(conn: Conn) -> None:
    cpu, latency = seed_pair(conn)
    out = correlate(conn, {**PARAMS, "max_lag": 5}, RetentionSettings(), NOW)
    assert out["resolution"] == "1m" and out["n"] == 357
    assert out["cross_correlation"]["best_lag"] == 3
    ok = np.isfinite(latency)
    x, y = cpu[ok], latency[ok]
    assert out["pearson"]["statistic"] == pytest.approx(sps.pearsonr(x, y).statistic, rel=1e-9)
    assert out["spearman"]["pvalue"] == pytest.approx(sps.spearmanr(x, y).pvalue, rel=1e-6, abs=1e-300)
    lr = sps.linregress(x, y)
    assert out["regression"]["slope"] == pytest.approx(lr.slope, rel=1e-9)
    assert out["regression"]["r_squared"] == pytest.approx(lr.rvalue**2, rel=1e-9)
    sx, sy = out["x"]["series_id"], out["y"]["series_id"]
    (row,) = as_reader(
        conn,
        "SELECT * FROM tsmon.correlate_series(%s, %s, %s, %s)",
        (sx, sy, BASE, BASE + timedelta(hours=6)),
    )
    assert row["n"] == 357 and row["pearson_r"] == pytest.approx(out["pearson"]["statistic"], rel=1e-9)
    assert row["pearson_p"] == pytest.approx(sps.pearsonr(x, y).pvalue, rel=1e-6, abs=1e-300)
    assert row["slope"] == pytest.approx(lr.slope, rel=1e-9)
    assert row["intercept"] == pytest.approx(lr.intercept, rel=1e-9)


def test_each_side_must_be_one_series(conn: Conn) -> None:
    seed_pair(conn)
    with pytest.raises(AnalysisInputError, match="matches 2 series") as many:
        correlate(conn, {**PARAMS, "labels": "{}", "labels_y": '{"host": "a"}'}, RetentionSettings(), NOW)
    assert many.value.argument == "labels"
    with pytest.raises(AnalysisInputError, match="same series") as same:
        correlate(conn, {**PARAMS, "metric_y": "cpu"}, RetentionSettings(), NOW)
    assert same.value.argument == "labels_y"
    with pytest.raises(AnalysisInputError) as lag:
        correlate(conn, {**PARAMS, "max_lag": "x"}, RetentionSettings(), NOW)
    assert lag.value.argument == "max_lag"
    with pytest.raises(AnalysisInputError, match="no series") as none:
        correlate(conn, {**PARAMS, "labels_y": '{"host": "z"}'}, RetentionSettings(), NOW)
    assert none.value.argument == "labels_y"
