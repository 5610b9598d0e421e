"""The processes' login roles: tsmon_api has ingest rights only, tsmon_worker worker rights only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.conftest import DatabaseServer, login_url
from tsmon.db.logins import API_ROLE, WORKER_ROLE, derived_password, login_passwords, process_url
from tsmon.schema import migrate
from tsmon.settings import Settings


@pytest.fixture
def api_conn(db_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(login_url(db_url, API_ROLE), autocommit=True) as c:
        yield c


def _engine(db_url: str) -> str:
    with psycopg.connect(db_url) as c:
        row = c.execute("SELECT engine FROM tsmon.windows_engine").fetchone()
    assert row is not None
    return str(row[0])


def _resolve(conn: psycopg.Connection[tuple[object, ...]], metric: str, n: int, limit: int) -> list[object]:
    metrics = [metric] * n
    labels = [f'{{"i": "{i}"}}' for i in range(n)]
    rows = conn.execute(
        "SELECT refused FROM tsmon.resolve_series(%s, %s, %s, %s)", (metrics, labels, limit, limit)
    ).fetchall()
    return [r[0] for r in rows]


def test_the_api_login_writes_but_reads_only_public_views(
    api_conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    assert _resolve(api_conn, "m", 1, 1000) == [None]
    assert api_conn.execute("SELECT count(*) FROM tsmon.metric_series").fetchone() == (1,)
    for table in ("tsmon.series", "tsmon.models", "tsmon.detection_configs"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            api_conn.execute(f"SELECT 1 FROM {table}")
    # A login, not a SET ROLE: RESET ROLE gives nothing more, and no other tsmon role can be taken.
    api_conn.execute("RESET ROLE")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        api_conn.execute("SELECT 1 FROM tsmon.series")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        api_conn.execute("SET ROLE tsmon_worker")


def test_the_api_login_cannot_raise_the_cardinality_limits(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as owner:
        migrate(owner, Settings(limit_series_per_metric=3))
    with psycopg.connect(login_url(db_url, API_ROLE), autocommit=True) as api:
        # It asks for a limit of 1,000; the database holds it to the 3 `tsmon migrate` wrote.
        assert _resolve(api, "capped", 5, 1000) == [
            None,
            None,
            None,
            "series_limit_metric",
            "series_limit_metric",
        ]
    with psycopg.connect(db_url, autocommit=True) as owner:  # the owner (backfills, tests) is not held
        assert _resolve(owner, "owned", 5, 1000) == [None] * 5


def test_the_api_login_cannot_write_outside_the_time_window(db_url: str) -> None:
    with psycopg.connect(login_url(db_url, API_ROLE), autocommit=True) as api:
        _resolve(api, "m", 1, 10)
        row = api.execute("SELECT series_id FROM tsmon.metric_series").fetchone()
        assert row is not None
        sid = row[0]
        old = datetime.now(UTC) - timedelta(days=60)  # raw retention is 30 days
        with pytest.raises(psycopg.errors.CheckViolation, match="outside the ingest time window"):
            api.execute("SELECT tsmon.upsert_samples(%s, %s, %s)", ([old], [sid], [1.0]))
        now = datetime.now(UTC)
        assert api.execute("SELECT tsmon.upsert_samples(%s, %s, %s)", ([now], [sid], [1.0])).fetchone() == (
            1,
        )
        if _engine(db_url) == "tsmon":  # under continuous aggregates the trigger is not installed
            with (
                pytest.raises(psycopg.errors.CheckViolation),
                api.cursor() as cur,
                cur.copy("COPY tsmon.samples (time, series_id, value) FROM STDIN") as copy,
            ):
                copy.write_row((old, sid, 2.0))
            future = datetime.now(UTC) + timedelta(hours=2)
            with pytest.raises(psycopg.errors.CheckViolation):
                api.execute("INSERT INTO tsmon.samples VALUES (%s, %s, 3.0)", (future, sid))
    with psycopg.connect(db_url, autocommit=True) as owner:  # the owner may backfill history
        owner.execute("INSERT INTO tsmon.samples VALUES (%s, %s, 4.0)", (old, sid))
        assert owner.execute("SELECT count(*) FROM tsmon.samples").fetchone() == (2,)


def test_the_worker_login_keeps_retention_to_tsmon_tables(db_url: str) -> None:
    with psycopg.connect(login_url(db_url, WORKER_ROLE), autocommit=True) as worker:
        assert worker.execute("SELECT tsmon.drop_expired_chunks('tsmon.samples', 30)").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            worker.execute("SELECT tsmon.drop_expired_chunks('tsmon.series', 30)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            worker.execute("SELECT drop_chunks('tsmon.samples', older_than => now())")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            worker.execute("INSERT INTO tsmon.series (metric, labels) VALUES ('x', '{}')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            worker.execute("SET ROLE tsmon_ingest")


def test_tsmon_logins_cannot_connect_to_the_embedded_clusters_other_databases(
    test_server: DatabaseServer, db_url: str
) -> None:
    if not test_server.backend.startswith("throwaway cluster"):
        pytest.skip("only the embedded cluster revokes CONNECT on its other databases")
    params = conninfo_to_dict(login_url(db_url, API_ROLE))
    with psycopg.connect(**params):
        pass  # its own database: yes
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(**{**params, "dbname": "postgres"}).close()


def test_processes_log_in_with_the_set_or_derived_password(
    tmp_path: object, caplog: pytest.LogCaptureFixture
) -> None:
    owner = "postgresql://owner:secret@127.0.0.1:5432/tsmon"
    managed = Settings(database_url=owner, api_db_password="api-pw")  # type: ignore[arg-type]
    url, logged_in = process_url(managed, owner, API_ROLE)
    assert (
        logged_in
        and conninfo_to_dict(url)["user"] == API_ROLE
        and conninfo_to_dict(url)["password"] == "api-pw"
    )
    url, logged_in = process_url(managed, owner, WORKER_ROLE)  # no worker password: owner, said so
    assert not logged_in and url == owner and "TSMON_WORKER_DB_PASSWORD" in caplog.text
    assert set(login_passwords(managed)) == {API_ROLE}
    assert derived_password("s", API_ROLE) != derived_password("s", WORKER_ROLE)
    assert (
        derived_password("s", API_ROLE) == derived_password("s", API_ROLE) != derived_password("t", API_ROLE)
    )
