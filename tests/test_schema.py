"""The schema as a public interface: hypertables, documented views, capabilities, least-privilege roles."""

from __future__ import annotations

import math
import struct
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import DatabaseServer
from tsmon.ingest.batch import SampleBatch
from tsmon.ingest.writer import SampleWriter, SeriesCache

PUBLIC_VIEWS = [
    "metric_series",
    "metric_samples",
    "metric_anomaly_scores",
    "metric_anomalies",
    "metric_1m",
    "metric_1h",
    "metric_1d",
    "detection_status",
    "detection_precision",
]


def test_hypertables_and_chunk_intervals(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    rows = dict(
        conn.execute(
            """SELECT hypertable_name, time_interval FROM timescaledb_information.dimensions
               WHERE hypertable_schema = 'tsmon' AND column_name = 'time'"""
        ).fetchall()
    )
    assert set(rows) == {"samples", "anomaly_scores"}
    assert str(rows["samples"]) == "1 day, 0:00:00"
    unique = conn.execute(
        "SELECT indexdef FROM pg_indexes "
        "WHERE schemaname = 'tsmon' AND indexname = 'samples_series_id_time_idx'"
    ).fetchone()
    assert unique is not None and "UNIQUE" in str(unique[0])


def test_every_public_object_is_documented(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    undocumented = conn.execute(
        """SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'tsmon' AND c.relkind = 'v' AND obj_description(c.oid, 'pg_class') IS NULL"""
    ).fetchall()
    assert undocumented == []
    views = {
        r[0] for r in conn.execute("SELECT viewname FROM pg_views WHERE schemaname = 'tsmon'").fetchall()
    }
    assert set(PUBLIC_VIEWS) <= views


def test_capabilities_match_the_server(
    conn: psycopg.Connection[tuple[object, ...]], test_server: DatabaseServer
) -> None:
    row = conn.execute(
        "SELECT timescaledb_version, edition, continuous_aggregates FROM tsmon.capabilities()"
    ).fetchone()
    assert row == (test_server.version, test_server.edition, test_server.edition == "timescale")


def test_staleness_markers_are_stored_exactly_and_hidden_from_views(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    stale = struct.unpack(">d", bytes.fromhex("7ff0000000000002"))[0]
    batch = SampleBatch()
    for i, value in enumerate([1.0, math.nan, stale]):
        batch.append("up", "{}", 1_767_225_600_000_000 + i * 15_000_000, value)
    SampleWriter(conn, SeriesCache(10)).write(batch)
    bits = conn.execute("SELECT encode(float8send(value), 'hex') FROM tsmon.samples ORDER BY time").fetchall()
    assert bits[2] == ("7ff0000000000002",)
    shown = conn.execute("SELECT value FROM tsmon.metric_samples ORDER BY time").fetchall()
    assert len(shown) == 2 and shown[0] == (1.0,) and math.isnan(float(shown[1][0]))  # type: ignore[arg-type]


@pytest.fixture
def reader_url(db_url: str, test_server: DatabaseServer) -> Iterator[str]:
    """A login role that is a member of tsmon_reader and nothing else."""
    name, password = f"reader_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with psycopg.connect(db_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}' IN ROLE tsmon_reader")
    dbname = psycopg.conninfo.conninfo_to_dict(db_url)["dbname"]
    yield test_server.url_for(str(dbname), user=name, password=password)
    with psycopg.connect(db_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (name,))
        admin.execute(f"DROP ROLE {name}")


def test_reader_sees_views_only_and_writes_nothing(reader_url: str) -> None:
    with psycopg.connect(reader_url, autocommit=True) as conn:
        for view in PUBLIC_VIEWS:
            conn.execute(f"SELECT * FROM tsmon.{view} LIMIT 1")
        conn.execute("SELECT * FROM tsmon.capabilities()")
        conn.execute("SELECT * FROM tsmon.metric_windows('m', now() - interval '1 day', now())")
        conn.execute("SELECT * FROM tsmon.rate('m', now() - interval '5 minutes', now())")
        for stmt in [
            "SELECT * FROM tsmon.samples LIMIT 1",
            "SELECT * FROM tsmon.series LIMIT 1",
            "SELECT * FROM tsmon.schema_migrations LIMIT 1",
            "INSERT INTO tsmon.series (metric) VALUES ('x')",
            "DELETE FROM tsmon.anomalies",
        ]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(stmt)


def test_public_has_no_privileges(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    granted = conn.execute(
        """SELECT table_name, privilege_type FROM information_schema.role_table_grants
           WHERE table_schema = 'tsmon' AND grantee = 'PUBLIC'"""
    ).fetchall()
    assert granted == []
    usage = conn.execute("SELECT has_schema_privilege('public', 'tsmon', 'USAGE')").fetchone()
    assert usage == (False,)
