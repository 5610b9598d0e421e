"""describe: exact statistics from raw samples (= numpy), from 1m windows past raw retention; SQL agrees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tests.analysis.seed import Conn, as_reader, raw_values
from tests.analysis.test_compare import A, B, seed_three
from tsmon.analysis.describe import describe
from tsmon.analysis.selection import AnalysisInputError
from tsmon.windows.retention import RetentionSettings

NOW = datetime.now(UTC)
PARAMS = {"metric": "latency", "from": A.start.isoformat(), "to": B.stop.isoformat()}


def test_raw_statistics_equal_numpy_and_sql(conn: Conn) -> None:
    seed_three(conn)
    out = describe(conn, PARAMS, RetentionSettings(), NOW)
    assert out["source"] == "raw" and out["percentiles"] == "exact" and out["series"] == 3
    sql_rows = as_reader(
        conn, "SELECT * FROM tsmon.describe_series('latency', '{}', %s, %s)", (A.start, B.stop)
    )
    for row, s in zip(out["results"], sql_rows, strict=True):
        x = raw_values(conn, row["series_id"], A.start, B.stop)
        want = {
            "count": x.size,
            "mean": x.mean(),
            "stddev": x.std(ddof=1),
            "min": x.min(),
            "max": x.max(),
            "p50": np.percentile(x, 50),
            "p90": np.percentile(x, 90),
            "p99": np.percentile(x, 99),
        }
        for key, value in want.items():
            assert row[key] == pytest.approx(value, rel=1e-9), key
            assert s[key] == pytest.approx(value, rel=1e-9), key


def test_past_raw_retention_reads_windows_and_marks_percentiles_approximate(conn: Conn) -> None:
    seed_three(conn)
    short = RetentionSettings(raw_days=1)
    out = describe(conn, PARAMS, short, NOW)
    assert out["source"] == "1m" and out["percentiles"] == "approximate"
    for row in out["results"]:
        x = raw_values(conn, row["series_id"], A.start, B.stop)
        assert row["count"] == x.size
        for key, value in (("mean", x.mean()), ("stddev", x.std(ddof=1)), ("min", x.min()), ("max", x.max())):
            assert row[key] == pytest.approx(value, rel=1e-9), key
        assert abs(row["p50"] - np.median(x)) < 0.2 * x.std()  # minute means: close in the middle
        assert row["p99"] < np.percentile(x, 99)  # and short in the tails
    with pytest.raises(AnalysisInputError, match="past raw retention") as raw:
        describe(conn, {**PARAMS, "source": "raw"}, short, NOW)
    assert raw.value.argument == "from"
    with pytest.raises(AnalysisInputError, match="retention"):
        describe(conn, PARAMS, RetentionSettings(raw_days=1, minute_days=1), NOW)
    with pytest.raises(AnalysisInputError, match="too few points"):
        later = {"from": (NOW + timedelta(days=1)).isoformat(), "to": (NOW + timedelta(days=2)).isoformat()}
        describe(conn, {**PARAMS, **later}, RetentionSettings(), NOW)
