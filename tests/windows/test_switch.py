"""Switching the windows engine (either way) keeps every window, those older than raw retention too."""

from __future__ import annotations

import math
import random
from datetime import timedelta

import psycopg
import pytest

from tests.conftest import DatabaseServer
from tests.windows.test_engines import NOW, Conn, random_rows, write
from tsmon.schema import migrate
from tsmon.settings import Settings
from tsmon.windows import switch
from tsmon.windows.engine import current_engine, refresh_windows
from tsmon.windows.retention import RetentionSettings

COLUMNS = "bucket, series_id, count, sum, sum_sq, min, max, first, last, increase"


def windows(conn: Conn) -> dict[str, list[tuple[object, ...]]]:
    return {
        res: conn.execute(f"SELECT {COLUMNS} FROM tsmon.samples_{res} ORDER BY series_id, bucket").fetchall()
        for res in ("1m", "1h", "1d")
    }


def assert_same(
    got: dict[str, list[tuple[object, ...]]], want: dict[str, list[tuple[object, ...]]], when: str
) -> None:
    for res, rows in want.items():
        assert [r[:3] for r in got[res]] == [r[:3] for r in rows], f"{when}: {res} buckets differ"
        for g, w in zip(got[res], rows, strict=True):
            for a, b in zip(g[3:], w[3:], strict=True):
                assert math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9), (
                    f"{when}, {res}: {g} vs {w}"
                )


@pytest.fixture
def full_conn(db_url: str, test_server: DatabaseServer) -> Conn:
    if test_server.edition != "timescale":
        pytest.skip("switching engines needs continuous aggregates (full TimescaleDB edition)")
    conn = psycopg.connect(db_url, autocommit=True)
    migrate(conn, Settings(windows_engine="tsmon"))
    return conn


@pytest.mark.parametrize("order", [("tsmon", "continuous_aggregates"), ("continuous_aggregates", "tsmon")])
def test_switch_keeps_windows_older_than_raw_retention(full_conn: Conn, order: tuple[str, str]) -> None:
    conn, (first, second) = full_conn, order
    migrate(conn, Settings(windows_engine=first))  # type: ignore[arg-type]
    write(conn, random_rows(random.Random(7), NOW - timedelta(days=6), NOW - timedelta(hours=1), 4000))
    refresh_windows(conn, RetentionSettings())
    before = windows(conn)
    # Raw retention takes the oldest raw chunks; their windows stay (that is what windows are for).
    conn.execute("SELECT drop_chunks('tsmon.samples', older_than => now() - interval '3 days')")
    oldest = conn.execute("SELECT min(time) > now() - interval '4 days' FROM tsmon.samples").fetchone()
    assert oldest == (True,), "whole 1-day chunks older than 3 days are gone"
    assert_same(windows(conn), before, f"after raw retention on {first}")

    migrate(conn, Settings(windows_engine=second))  # type: ignore[arg-type]
    assert current_engine(conn) == second and not switch.pending(conn)
    assert_same(windows(conn), before, f"after switching {first} -> {second}")
    refresh_windows(conn, RetentionSettings())  # later refreshes keep them too
    assert_same(windows(conn), before, f"after a refresh on {second}")

    migrate(conn, Settings(windows_engine=first))  # type: ignore[arg-type]
    assert_same(windows(conn), before, f"after switching back to {first}")
    conn.close()


def test_a_new_aggregate_definition_rebuilds_continuous_aggregates_keeping_windows(full_conn: Conn) -> None:
    conn = full_conn
    migrate(conn, Settings(windows_engine="continuous_aggregates"))
    write(conn, random_rows(random.Random(3), NOW - timedelta(days=6), NOW - timedelta(hours=1), 2000))
    refresh_windows(conn, RetentionSettings())
    before = windows(conn)
    conn.execute("SELECT drop_chunks('tsmon.samples', older_than => now() - interval '3 days')")
    conn.execute("UPDATE tsmon.windows_engine SET definition = 1")  # built by an older tsmon
    old_view = conn.execute("SELECT 'tsmon.samples_1m'::regclass::oid").fetchone()
    migrate(conn, Settings(windows_engine="continuous_aggregates"))
    assert conn.execute("SELECT definition FROM tsmon.windows_engine").fetchone() == (2,)
    assert conn.execute("SELECT 'tsmon.samples_1m'::regclass::oid").fetchone() != old_view  # rebuilt
    assert_same(windows(conn), before, "after the rebuild")
    conn.close()
