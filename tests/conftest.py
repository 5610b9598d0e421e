"""Test database: TSMON_TEST_DATABASE_URL, else a testcontainers TimescaleDB, else a throwaway local cluster.

Every test that asks for ``db_url`` gets a fresh database cloned from a migrated template.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tsmon.db import logins
from tsmon.db.embedded import EmbeddedCluster
from tsmon.schema import migrate
from tsmon.settings import Settings

# Pinned full-edition image, the same family docker-compose.yml runs.
TIMESCALEDB_IMAGE = "timescale/timescaledb-ha:pg17-ts2.26"
REPO = Path(__file__).resolve().parents[1]
# Read-only data beside the checkout (NAB, real metrics, PromQL tests): found relative to it, never by path.
SHARED = REPO.parent / "shared"
# Passwords `tsmon migrate` gives the login roles on the test server (roles are cluster-wide).
LOGIN_PASSWORDS = {logins.API_ROLE: "test-api-login", logins.WORKER_ROLE: "test-worker-login"}


def login_url(database_url: str, role: str) -> str:
    """``database_url`` logged in as tsmon's login ``role`` (tsmon_api or tsmon_worker)."""
    return logins.login_url(database_url, role, LOGIN_PASSWORDS[role])


@dataclass
class DatabaseServer:
    admin_url: str
    backend: str
    edition: str = ""
    version: str = ""

    def url_for(self, dbname: str, user: str | None = None, password: str | None = None) -> str:
        params = conninfo_to_dict(self.admin_url)
        params["dbname"] = dbname
        if user is not None:
            params["user"] = user
            params["password"] = password
        return make_conninfo(**params)  # type: ignore[arg-type]


_server: DatabaseServer | None = None
_cleanups: list[object] = []


def _docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


def _start_server() -> DatabaseServer:
    url = os.environ.get("TSMON_TEST_DATABASE_URL")
    if url:
        return DatabaseServer(url, "TSMON_TEST_DATABASE_URL")
    if _docker_answers():
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer(
            TIMESCALEDB_IMAGE, username="postgres", password="postgres", driver=None
        )
        container.start()
        _cleanups.append(container.stop)
        return DatabaseServer(container.get_connection_url(), f"testcontainers {TIMESCALEDB_IMAGE}")
    home = Path(tempfile.mkdtemp(prefix="tsmon-test-"))
    home.chmod(0o755)  # the server's OS user (when we are root) must reach the socket dir
    cluster = EmbeddedCluster(
        home / "cluster",
        extra_conf={
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
        },
    )
    cluster.start()
    _cleanups.append(cluster.destroy)
    return DatabaseServer(cluster.url(dbname="postgres"), f"throwaway cluster ({cluster.bindir})")


def server() -> DatabaseServer:
    global _server
    if _server is None:
        _server = _start_server()
        with psycopg.connect(_server.admin_url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            row = conn.execute(
                "SELECT extversion, coalesce(current_setting('timescaledb.license', true), 'apache') "
                "FROM pg_extension WHERE extname = 'timescaledb'"
            ).fetchone()
            assert row is not None
            _server.version, license_ = str(row[0]), str(row[1])
            _server.edition = "timescale" if license_ == "timescale" else "apache"
    return _server


# Fixtures that need the database: tests using them are marked `db`, so `pytest -m "not db"` runs
# the unit tests alone and starts no database server.
DB_FIXTURES = frozenset({"test_server", "template_db", "db_url", "empty_db_url", "conn", "settings"})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "db: needs the test database server (started on first use)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Say which database and edition the run uses, once, when a selected test needs one."""
    if session.config.option.collectonly or not any(i.get_closest_marker("db") for i in session.items):
        return
    s = server()
    path = (
        "full-edition path: real TimescaleDB features"
        if s.edition == "timescale"
        else "Apache path: tsmon-maintained equivalents"
    )
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"tsmon test database: {s.backend}; timescaledb {s.version}, {s.edition} edition -> {path}"
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    for cleanup in reversed(_cleanups):
        cleanup()  # type: ignore[operator]


@pytest.fixture(scope="session")
def test_server() -> DatabaseServer:
    return server()


@pytest.fixture(scope="session")
def template_db(test_server: DatabaseServer) -> Iterator[str]:
    """A migrated database that per-test databases are cloned from."""
    name = f"tsmon_tpl_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(test_server.admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(test_server.url_for(name), autocommit=True) as conn:
        migrate(
            conn,
            Settings(
                api_db_password=LOGIN_PASSWORDS[logins.API_ROLE],  # type: ignore[arg-type]
                worker_db_password=LOGIN_PASSWORDS[logins.WORKER_ROLE],  # type: ignore[arg-type]
            ),
        )
    with psycopg.connect(test_server.admin_url, autocommit=True) as admin:
        # TimescaleDB's job scheduler keeps a connection to each database; a template must have none.
        admin.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(sql.Identifier(name)))
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
    yield name
    with psycopg.connect(test_server.admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def create_database(server_: DatabaseServer, template: str | None) -> str:
    name = f"tsmon_t_{uuid.uuid4().hex[:10]}"
    stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        stmt = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template)
        )
    with psycopg.connect(server_.admin_url, autocommit=True) as admin:
        for _ in range(50):
            try:
                admin.execute(stmt)
                break
            except psycopg.errors.ObjectInUse:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (template,)
                )
    return name


def drop_database(server_: DatabaseServer, name: str) -> None:
    with psycopg.connect(server_.admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def db_url(test_server: DatabaseServer, template_db: str) -> Iterator[str]:
    """URL of a fresh, migrated database for this test alone."""
    name = create_database(test_server, template_db)
    yield test_server.url_for(name)
    drop_database(test_server, name)


@pytest.fixture
def empty_db_url(test_server: DatabaseServer) -> Iterator[str]:
    """URL of a fresh database with nothing in it (for migration tests)."""
    name = create_database(test_server, None)
    yield test_server.url_for(name)
    drop_database(test_server, name)


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(db_url, autocommit=True) as c:
        yield c


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, home=tmp_path / "home")  # type: ignore[arg-type]
