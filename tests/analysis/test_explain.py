"""explain: the host that moved carries the change; contributions add up to the raw delta; SQL agrees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tests.analysis.seed import BASE, Conn, as_reader, epoch, refresh, write
from tsmon.analysis.explain import explain
from tsmon.windows.retention import RetentionSettings

NOW = datetime.now(UTC)
SPLIT = BASE + timedelta(hours=3)
PARAMS = {
    "metric": "req",
    "by": "host",
    "from": SPLIT.isoformat(),
    "to": (SPLIT + timedelta(hours=3)).isoformat(),
}


def seed_hosts(conn: Conn) -> None:
    rng = np.random.default_rng(17)
    for host, region, level in (("a", "eu", 10.0), ("b", "eu", 20.0), ("c", "us", 30.0)):
        t = np.sort(epoch(BASE) + rng.uniform(0, 6 * 3600, 2000))
        v = rng.normal(level, 1, t.size) + np.where((host == "b") & (t >= epoch(SPLIT)), 15.0, 0.0)
        write(conn, "req", {"host": host, "region": region}, t, v)
    refresh(conn)


def raw_mean(conn: Conn, start: datetime, stop: datetime) -> float:
    row = conn.execute(
        "SELECT avg(value) FROM tsmon.metric_samples WHERE metric = 'req' AND time >= %s AND time < %s",
        (start, stop),
    ).fetchone()
    assert row is not None
    return float(row[0])  # type: ignore[arg-type]


@pytest.mark.parametrize("resolution", ["1m", "1h"])
def test_contributions_name_the_host_and_add_up(conn: Conn, resolution: str) -> None:
    seed_hosts(conn)
    out = explain(conn, {**PARAMS, "resolution": resolution}, RetentionSettings(), NOW)
    want = raw_mean(conn, SPLIT, SPLIT + timedelta(hours=3)) - raw_mean(conn, BASE, SPLIT)
    assert out["delta"] == pytest.approx(want, rel=1e-9)
    assert sum(r["contribution"] for r in out["results"]) == pytest.approx(out["delta"], rel=1e-9)
    top = out["results"][0]
    assert top["group"] == {"host": "b"} and top["share"] > 0.8
    sql_rows = as_reader(
        conn,
        "SELECT * FROM tsmon.explain_change('req', '{}', ARRAY['host'], %s, %s, %s, %s, %s)",
        (BASE, SPLIT, SPLIT, SPLIT + timedelta(hours=3), resolution),
    )
    for s, r in zip(sql_rows, out["results"], strict=True):
        assert s["group_labels"] == r["group"]
        for key in ("contribution", "share", "rate", "mix"):
            assert s[key] == pytest.approx(r[key], rel=1e-9, abs=1e-12), key


def test_by_two_labels_and_the_sum(conn: Conn) -> None:
    seed_hosts(conn)
    out = explain(conn, {**PARAMS, "by": "region,host", "aggregate": "sum"}, RetentionSettings(), NOW)
    assert out["results"][0]["group"] == {"region": "eu", "host": "b"}
    assert out["results"][0]["contribution"] == pytest.approx(15.0, abs=0.3)
    assert out["delta"] == pytest.approx(sum(r["contribution"] for r in out["results"]), rel=1e-12)
