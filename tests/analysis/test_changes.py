"""tsmon.changes() (the SQL ranking) against the same definitions computed in numpy from raw samples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest

from tests.analysis.seed_changes import add_series, copy_samples, refresh
from tsmon.analysis.changes import ChangesInputError, ChangesRequest, rank, run_changes
from tsmon.stats.minutes import minute_windows, volume_ranking

Conn = psycopg.Connection[tuple[object, ...]]


def _now() -> datetime:
    t = datetime.now(UTC)
    return t.replace(second=0, microsecond=0)


def _seed(conn: Conn, now: datetime) -> tuple[datetime, datetime, dict[str, list[int]]]:
    """Gauges (one shifts in the window), counters (one with a reset, one whose rate doubles), a constant,
    a sparse series and one sampled once a minute; 15 s samples; two anomaly events."""
    rng = np.random.default_rng(7)
    end = now - timedelta(minutes=10)
    start = end - timedelta(minutes=20)
    first = start - timedelta(minutes=80)
    t = np.arange(first.timestamp(), end.timestamp(), 15.0)
    inw = t >= start.timestamp()
    ids = {
        "gauge": add_series(conn, "g", [{"i": str(i)} for i in range(8)]),
        "counter": add_series(conn, "c_total", [{"i": str(i)} for i in range(3)]),
        "other": add_series(conn, "o", [{"k": "constant"}, {"k": "sparse"}, {"k": "minutely"}]),
    }
    sid, ep, val = [], [], []

    def put(series: int, times: np.ndarray, values: np.ndarray) -> None:
        sid.append(np.full(times.size, series)), ep.append(times), val.append(values)

    for i, s in enumerate(ids["gauge"]):
        shift = 4.0 * inw if i == 0 else 1.5 * inw if i == 1 else 0.0
        put(s, t, 100 + 10 * i + rng.normal(0, 1, t.size) + shift)
    for i, s in enumerate(ids["counter"]):
        rate = rng.poisson(5 * (1 + inw) if i == 2 else 5, t.size).astype(float)
        level = np.cumsum(rate)
        if i == 1:
            level[t.size // 3 :] -= level[t.size // 3]  # a reset to 0
        put(s, t, level)
    constant, sparse, minutely = ids["other"]
    put(constant, t, np.full(t.size, 3.0))
    put(sparse, t[inw][:2], np.array([1.0, 2.0]))
    put(minutely, t[::4], 50 + rng.normal(0, 1, t[::4].size) - 3 * inw[::4])
    copy_samples(conn, np.concatenate(sid), np.concatenate(ep), np.concatenate(val))
    conn.execute(
        "INSERT INTO tsmon.anomalies (series_id, config_id, detector, model_version, started_at, ended_at, "
        "peak_score, peak_at, severity, status) VALUES "
        "(%s, 1, 'x', 1, %s, NULL, 0.99, %s, 'warning', 'open'), "
        "(%s, 1, 'x', 1, %s, %s, 0.99, %s, 'warning', 'closed')",
        (
            ids["gauge"][1],
            start + timedelta(minutes=2),
            start + timedelta(minutes=3),
            ids["gauge"][3],
            start - timedelta(minutes=5),
            start + timedelta(minutes=1),
            start,
        ),
    )
    refresh(conn, now)
    return start, end, ids


def _python_ranking(
    conn: Conn, start: datetime, end: datetime, min_w: int, min_b: int
) -> list[tuple[int, str, float]]:
    """The same ranking from raw samples, with the pure functions."""
    first = start - 4 * (end - start)
    raw = conn.execute(
        "SELECT series_id, extract(epoch FROM time)::float8, value FROM tsmon.samples "
        "WHERE time >= %s AND time < %s",
        (first, end),
    ).fetchall()
    arr = np.array(raw, dtype=np.float64)
    onsets = dict(
        conn.execute(
            "SELECT series_id, extract(epoch FROM min(started_at))::float8 FROM tsmon.anomalies "
            "WHERE started_at < %s AND coalesce(ended_at, 'infinity') > %s GROUP BY 1",
            (end, start),
        ).fetchall()
    )
    ranked = volume_ranking(
        minute_windows(arr[:, 0].astype(np.int64), arr[:, 1], arr[:, 2]),
        start.timestamp(),
        onsets,
        min_window=min_w,
        min_baseline=min_b,
    )
    return [
        (int(i), str(k), float(v))
        for i, k, v in zip(ranked.series_id, ranked.kind, ranked.score, strict=True)
    ]


def test_sql_ranking_equals_numpy_on_raw_samples(conn: Conn) -> None:
    now = _now()
    start, end, ids = _seed(conn, now)
    rows = conn.execute(
        "SELECT series_id, kind, score, ranked, skipped_constant, skipped_sparse, co_anomaly_order "
        "FROM tsmon.changes(%s, %s, NULL, NULL, NULL, 5, 20) ORDER BY rank",
        (start, end),
    ).fetchall()
    expected = _python_ranking(conn, start, end, 5, 20)
    assert [(r[0], r[1]) for r in rows] == [(e[0], e[1]) for e in expected]
    np.testing.assert_allclose([float(r[2]) for r in rows], [e[2] for e in expected], rtol=1e-9)
    assert rows[0][3:6] == (len(expected), 1, 1)  # the constant and the sparse series skipped
    kinds = {int(r[0]): r[1] for r in rows}
    assert [kinds[i] for i in ids["counter"]] == ["counter"] * 3  # the reset one too
    assert kinds[ids["other"][2]] == "gauge"
    # The shifted gauge, the co-anomalous ones (the earlier event is the candidate cause), the doubled rate.
    orders = {int(r[0]): r[6] for r in rows}
    assert orders[ids["gauge"][3]] == 1 and orders[ids["gauge"][1]] == 2
    assert rows[0][0] == ids["gauge"][0]


def test_run_is_stored_and_filtered(conn: Conn) -> None:
    now = _now()
    start, end, ids = _seed(conn, now)
    run = run_changes(conn, ChangesRequest(start, end, metric="c_total", limit=2), now, 90.0)
    assert run.run_id is not None and [r.rank for r in run.results] == [1, 2]
    assert run.results[0].series_id == ids["counter"][2] and run.results[0].kind == "counter"
    stored = conn.execute(
        "SELECT series_id, metric, score FROM tsmon.analysis_changes WHERE run_id = %s ORDER BY rank",
        (run.run_id,),
    ).fetchall()
    assert [(s, m) for s, m, _ in stored] == [(r.series_id, "c_total") for r in run.results]
    body = run.to_json()
    assert body["run_id"] == run.run_id and body["results"][0]["metric"] == "c_total"
    ks = rank(conn, ChangesRequest(start, end, metric="g", method="ks2", limit=3), now, 90.0)
    assert all(r.method == "ks2" and 0 < r.statistic <= 1 and r.p_value is not None for r in ks.results)
    by_id = {r.series_id: r for r in ks.results}
    assert by_id[ids["gauge"][0]].statistic == max(r.statistic for r in ks.results)
    assert by_id[ids["gauge"][1]].score == pytest.approx(2 * by_id[ids["gauge"][1]].statistic)  # co-anomaly


@pytest.mark.parametrize(
    ("request_", "argument"),
    [
        (ChangesRequest(None, None), "from"),
        (
            ChangesRequest(
                metric="nope", start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 1, 2, tzinfo=UTC)
            ),
            "metric",
        ),
        (ChangesRequest(metric="g", labels={"i": "99"}), "labels"),
        (ChangesRequest(event_id=123456), "event"),
        (ChangesRequest(limit=0), "limit"),
        (ChangesRequest(method="t"), "method"),
    ],
)
def test_bad_requests_name_the_argument(conn: Conn, request_: ChangesRequest, argument: str) -> None:
    add_series(conn, "g", [{"i": "0"}])
    with pytest.raises(ChangesInputError) as err:
        rank(conn, request_, _now(), 90.0)
    assert err.value.argument == argument


def test_ranges_empty_past_retention_or_without_points(conn: Conn) -> None:
    now = _now()
    hour = timedelta(hours=1)
    for start, end, argument in [
        (now - hour, now - 2 * hour, "to"),
        (now - 87 * 24 * hour, now - 86 * 24 * hour, "from"),  # the baseline starts 91 days ago
        (now - 100 * 24 * hour, now - 99 * 24 * hour, "from"),
        (now + hour, now + 2 * hour, "from"),
    ]:
        with pytest.raises(ChangesInputError) as err:
            rank(conn, ChangesRequest(start, end), now, 90.0)
        assert err.value.argument == argument
    with pytest.raises(ChangesInputError, match="too few points"):
        rank(conn, ChangesRequest(now - hour, now), now, 90.0)


def test_roles_read_and_store_runs_with_least_privilege(conn: Conn) -> None:
    now = _now()
    start, end, _ = _seed(conn, now)
    conn.execute("SET ROLE tsmon_reader")
    assert conn.execute("SELECT count(*) FROM tsmon.changes(%s, %s)", (start, end)).fetchone() == (10,)
    assert conn.execute("SELECT count(*) FROM tsmon.anomaly_changes").fetchone() == (0,)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT tsmon.record_changes_run('{}', now(), now(), now(), NULL, '{}', '[]')")
    conn.execute("RESET ROLE")
    conn.execute("SET ROLE tsmon_ingest")  # writes samples, and nothing of this
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT count(*) FROM tsmon.changes(%s, %s)", (start, end))
    conn.execute("RESET ROLE")
    conn.execute("SET ROLE tsmon_api")  # the API's login: runs through the definer functions only
    run = run_changes(conn, ChangesRequest(start, end, method="ks2"), now, 90.0)
    assert run.run_id is not None and len(run.results) == 10
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT count(*) FROM tsmon.analysis_runs")
    conn.execute("RESET ROLE")
    conn.execute("SET ROLE tsmon_worker")
    assert conn.execute("SELECT count(*) FROM tsmon.analysis_change_results").fetchone() == (10,)
