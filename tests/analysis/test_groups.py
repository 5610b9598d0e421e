"""groups: ANOVA, Tukey from windows equal f_oneway, tukey_hsd on raw samples; Kruskal on 1m means; SQL."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from scipy import stats as sps

from tests.analysis.seed import BASE, Conn, as_reader, epoch, raw_values, refresh, write
from tests.analysis.test_compare import minute_means
from tsmon.analysis.groups import groups
from tsmon.analysis.selection import AnalysisInputError, TimeRange
from tsmon.windows.retention import RetentionSettings

NOW = datetime.now(UTC)
R = TimeRange(BASE, BASE.replace(hour=4))


def seed_hosts(conn: Conn) -> None:
    rng = np.random.default_rng(15)
    for host, level in (("a", 100.0), ("b", 100.1), ("c", 103.0)):
        for i in range(2):
            t = np.sort(epoch(BASE) + rng.uniform(0, 4 * 3600, 1500))
            write(conn, "lat", {"host": host, "i": str(i)}, t, rng.normal(level, 5, t.size))
    refresh(conn)


@pytest.mark.parametrize("resolution", ["1m", "1h"])
def test_anova_tukey_kruskal_equal_scipy(conn: Conn, resolution: str) -> None:
    seed_hosts(conn)
    params = {"metric": "lat", "by": "host", "from": R.start.isoformat(), "to": R.stop.isoformat()}
    out = groups(conn, {**params, "resolution": resolution}, RetentionSettings(), NOW)
    ids = {
        g: [
            int(r[0])
            for r in conn.execute(
                "SELECT id FROM tsmon.series WHERE labels->>'host' = %s ORDER BY id", (g,)
            ).fetchall()
        ]
        for g in "abc"
    }  # type: ignore[call-overload]
    samples = [np.concatenate([raw_values(conn, s, R.start, R.stop) for s in ids[g]]) for g in "abc"]
    f = sps.f_oneway(*samples)
    assert out["anova"]["statistic"] == pytest.approx(f.statistic, rel=1e-9)
    assert out["anova"]["pvalue"] == pytest.approx(f.pvalue, rel=1e-6, abs=1e-300)
    tk = sps.tukey_hsd(*samples)
    for pair in out["tukey"]:
        i, j = "abc".index(pair["a"]), "abc".index(pair["b"])
        assert pair["diff"] == pytest.approx(tk.statistic[i, j], rel=1e-9)
        assert pair["pvalue"] == pytest.approx(tk.pvalue[i, j], rel=1e-6, abs=1e-9)
    differ = {(p["a"], p["b"]) for p in out["tukey"] if p["differ"]}
    assert differ == {("a", "c"), ("b", "c")}
    if resolution == "1m":
        means = [np.concatenate([minute_means(conn, s, R) for s in ids[g]]) for g in "abc"]
        assert out["kruskal"]["pvalue"] == pytest.approx(sps.kruskal(*means).pvalue, rel=1e-9)
    sql_rows = as_reader(
        conn,
        "SELECT * FROM tsmon.group_anova('lat', '{}', 'host', %s, %s, %s)",
        (R.start, R.stop, resolution),
    )
    assert [r["group_value"] for r in sql_rows] == ["a", "b", "c"]
    assert sql_rows[0]["f"] == pytest.approx(f.statistic, rel=1e-9)
    assert sql_rows[0]["p"] == pytest.approx(f.pvalue, rel=1e-6, abs=1e-300)
    for r, g in zip(sql_rows, out["groups"], strict=True):
        assert (r["n"], r["series"]) == (g["n"], g["series"]) and r["mean"] == pytest.approx(
            g["mean"], rel=1e-12
        )


def test_one_group_or_no_label_is_an_error(conn: Conn) -> None:
    seed_hosts(conn)
    base = {"metric": "lat", "from": R.start.isoformat(), "to": R.stop.isoformat()}
    with pytest.raises(AnalysisInputError, match="need 2 or more") as one:
        groups(conn, {**base, "by": "host", "labels": '{"host": "a"}'}, RetentionSettings(), NOW)
    assert one.value.argument == "by"
    with pytest.raises(AnalysisInputError) as missing:
        groups(conn, {**base}, RetentionSettings(), NOW)
    assert missing.value.argument == "by"
