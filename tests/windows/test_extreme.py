"""Every finite float aggregates: extreme values never make a window query or a refresh fail."""

from __future__ import annotations

import math
from datetime import timedelta

from tests.windows.test_engines import NOW, Conn, engine_conn  # noqa: F401 (fixture)
from tests.windows.test_engines import write as write_rows
from tsmon.ingest.batch import datetime_to_us
from tsmon.windows.engine import refresh_windows
from tsmon.windows.retention import RetentionSettings

MAX = 1.7976931348623157e308
EXTREMES = {
    "huge": [1e200, 1e200],
    "tiny": [1e-200, 1e-200],
    "denormal": [5e-324, 5e-324],
    "max": [MAX, MAX, -MAX],
    "mixed": [MAX, -MAX, 1e-300, 0.0],
}


def test_extreme_values_never_stop_windows(engine_conn: Conn) -> None:  # noqa: F811
    conn = engine_conn
    t0 = NOW.replace(minute=0) - timedelta(hours=3)
    rows: list[tuple[str, int, float]] = [
        (name, datetime_to_us(t0 + timedelta(seconds=10 * i)), v)
        for name, values in EXTREMES.items()
        for i, v in enumerate(values)
    ]
    rows += [("normal", datetime_to_us(t0 + timedelta(seconds=s)), float(s)) for s in (0, 20, 40)]
    write_rows(conn, rows)
    for phase in ("real-time", "materialised"):
        for res in ("1m", "1h", "1d"):
            got = {
                str(r[0]): r[1:]
                for r in conn.execute(
                    f"SELECT labels ->> 's', count, avg, min, max, stddev, increase FROM tsmon.metric_{res}"
                ).fetchall()
            }
            assert got["normal"][:4] == (3, 20.0, 0.0, 40.0), (phase, res, got["normal"])
            assert math.isclose(float(got["normal"][4]), 20.0), (phase, res)
            assert got["huge"][:4] == (2, 1e200, 1e200, 1e200) and got["huge"][4] is None, (phase, res)
            assert got["tiny"][:4] == (2, 1e-200, 1e-200, 1e-200), (phase, res)
            assert got["denormal"][:2] == (2, 0.0), (phase, res)  # sums below 1e-290 average to 0
            assert got["max"][0] == 3 and got["max"][2:4] == (-MAX, MAX), (phase, res)
            assert got["mixed"][0] == 4 and got["mixed"][2:4] == (-MAX, MAX), (phase, res)
        for function in ("tsmon.metric_windows('m', %(lo)s, %(hi)s, 1)",):
            assert conn.execute(f"SELECT count(*) FROM {function}", {"lo": t0, "hi": NOW}).fetchone() != (0,)
        assert conn.execute(
            "SELECT count(*) FROM tsmon.series_windows(ARRAY(SELECT id FROM tsmon.series), %s, %s, 1000)",
            (t0, NOW),
        ).fetchone() != (0,)
        refresh_windows(conn, RetentionSettings())  # must not fail: the next loop reads materialised rows
