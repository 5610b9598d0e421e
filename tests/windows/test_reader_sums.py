"""fetch_sums: each window's count, sum, sum of squares, min and max equal a GROUP BY of the raw samples."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from tests.analysis.seed import BASE, Conn, epoch, refresh, write_many
from tsmon.windows.reader import fetch_sums


@pytest.mark.parametrize("materialised", [False, True])
def test_sums_equal_raw_group_by(conn: Conn, materialised: bool) -> None:
    rng = np.random.default_rng(12)
    times = [np.sort(epoch(BASE) + rng.uniform(0, 6 * 3600, 3000)) for _ in range(3)]
    write_many(
        conn, "m", [{"h": str(i)} for i in range(3)], times, [rng.normal(50, 5, 3000) for _ in range(3)]
    )
    if materialised:
        refresh(conn)
    ids = [int(r[0]) for r in conn.execute("SELECT id FROM tsmon.series ORDER BY id").fetchall()]  # type: ignore[call-overload]
    ranges = [(BASE, BASE + timedelta(hours=1)), (BASE + timedelta(hours=3), BASE + timedelta(hours=5))]
    got = fetch_sums(conn, "1m", ids[:2], ranges)
    want = conn.execute(
        "SELECT series_id, extract(epoch FROM time_bucket('1 minute', time))::float8 b, count(*), "
        "sum(value), sum(value * value), min(value), max(value) FROM tsmon.samples WHERE series_id = ANY(%s) "
        "AND ((time >= %s AND time < %s) OR (time >= %s AND time < %s)) GROUP BY 1, 2 ORDER BY 1, 2",
        (ids[:2], *ranges[0], *ranges[1]),
    ).fetchall()
    assert got.series_id.tolist() == [r[0] for r in want]
    assert got.epoch.tolist() == [r[1] for r in want]
    for i, field in enumerate(("count", "sum", "sum_sq", "min", "max"), start=2):
        assert getattr(got, field) == pytest.approx([float(r[i]) for r in want], rel=1e-12)  # type: ignore[arg-type]
    sids, starts = got.segments()
    assert sids.tolist() == ids[:2] and starts[0] == 0
    assert fetch_sums(conn, "1h", [], ranges).series_id.size == 0
