"""The reader role cannot hold the database: statement and idle timeouts, no temporary tables."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.conftest import DatabaseServer
from tsmon.schema import migrate
from tsmon.settings import Settings


def test_the_reader_has_timeouts_and_no_temporary_tables(db_url: str, test_server: DatabaseServer) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        migrate(conn, Settings(reader_password="reader-secret"))  # type: ignore[arg-type]
    name = str(conninfo_to_dict(db_url)["dbname"])
    with psycopg.connect(test_server.url_for(name, user="tsmon_reader", password="reader-secret")) as reader:
        assert reader.execute("SHOW statement_timeout").fetchone() == ("30s",)
        assert reader.execute("SHOW idle_in_transaction_session_timeout").fetchone() == ("1min",)
        assert reader.execute("SELECT count(*) >= 0 FROM tsmon.metric_series").fetchone() == (True,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("CREATE TEMP TABLE t (x int)")
    with psycopg.connect(db_url, autocommit=True) as conn:  # tsmon's own roles still can
        conn.execute("SET ROLE tsmon_ingest")
        conn.execute("CREATE TEMP TABLE t (x int)")
