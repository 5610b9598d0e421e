"""Migration files: append-only `migrations/` applied once with checksums, idempotent `sql/` re-applied."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from tsmon.db.connect import Conn
from tsmon.errors import MigrationChecksumError, MigrationError, TimescaleDBMissingError

# Any constant works; it only has to be the same for every tsmon process migrating one database.
_MIGRATE_LOCK_KEY = 0x75D0_7500
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_SQL_NAME = re.compile(r"^\d{2}_[a-z0-9_]+\.sql$")


def schema_dirs() -> tuple[Path, Path]:
    """(migrations, sql): packaged copies in a wheel, else the repository's top-level folders."""
    here = Path(__file__).resolve()
    packaged = here.parents[1] / "_schema"
    if (packaged / "migrations").is_dir():
        return packaged / "migrations", packaged / "sql"
    repo = here.parents[3]
    return repo / "migrations", repo / "sql"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    text: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def load_migrations(directory: Path) -> list[Migration]:
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        m = _MIGRATION_NAME.match(path.name)
        if not m:
            raise MigrationError(f"{path}: migration files are named NNNN_lower_snake.sql")
        found.append(Migration(int(m.group(1)), path.name, path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{directory}: two migrations share a version number")
    return found


def load_sql_objects(directory: Path) -> list[tuple[str, str]]:
    files = sorted(directory.glob("*.sql"))
    bad = [p.name for p in files if not _SQL_NAME.match(p.name)]
    if bad:
        raise MigrationError(f"{directory}: files are named NN_lower_snake.sql, not {', '.join(bad)}")
    return [(p.name, p.read_text()) for p in files]


def ensure_timescaledb(conn: Conn) -> None:
    """Create the extension, turning the server's errors into one that says what to do."""
    available = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()
    if not available:
        raise TimescaleDBMissingError(
            "the server has no timescaledb extension installed; run scripts/provision-db "
            "(or use a TimescaleDB image) and retry"
        )
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg.Error as exc:
        raise TimescaleDBMissingError(
            f"CREATE EXTENSION timescaledb failed: {exc.diag.message_primary}. The server needs "
            "shared_preload_libraries = 'timescaledb' and a role allowed to create extensions"
        ) from exc


def _check_applied(conn: Conn, files: list[Migration]) -> set[int]:
    by_version = {m.version: m for m in files}
    applied: set[int] = set()
    rows = conn.execute("SELECT version, name, checksum FROM tsmon.schema_migrations ORDER BY version")
    for version, name, checksum in rows.fetchall():
        assert isinstance(version, int)
        current = by_version.get(version)
        if current is None:
            raise MigrationChecksumError(
                f"migration {name} is applied in this database but its file is missing from migrations/; "
                "migrations are append-only: restore the file"
            )
        if current.checksum != checksum:
            raise MigrationChecksumError(
                f"migration {name} was changed after it was applied (checksum {str(checksum)[:12]}… "
                f"in the database, {current.checksum[:12]}… on disk); migrations are append-only: "
                "restore the file and put the change in a new migration"
            )
        applied.add(version)
    return applied


@contextmanager
def migration_lock(conn: Conn) -> Iterator[None]:
    """Serialise concurrent migrates of one database (session advisory lock)."""
    conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATE_LOCK_KEY,))
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATE_LOCK_KEY,))


def prepare(conn: Conn) -> None:
    """The extension, the schema and the migrations ledger: what every migrate needs first."""
    ensure_timescaledb(conn)
    conn.execute("CREATE SCHEMA IF NOT EXISTS tsmon")
    conn.execute(
        """CREATE TABLE IF NOT EXISTS tsmon.schema_migrations (
               version integer PRIMARY KEY,
               name text NOT NULL,
               checksum text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )


def apply_migrations(conn: Conn, files: list[Migration]) -> list[str]:
    """Apply the files not applied yet, each in its own transaction; names of those applied."""
    applied = _check_applied(conn, files)
    done: list[str] = []
    for m in files:
        if m.version in applied:
            continue
        with conn.transaction():
            try:
                conn.execute(sql.SQL(m.text))  # trusted file from migrations/
            except psycopg.Error as exc:
                raise MigrationError(f"migration {m.name} failed: {exc}") from exc
            conn.execute(
                "INSERT INTO tsmon.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (m.version, m.name, m.checksum),
            )
        done.append(m.name)
    return done


def apply_sql_objects(
    conn: Conn, objects: list[tuple[str, str]], passwords: dict[str, str] | None = None
) -> list[str]:
    """Re-apply every sql/ file in one transaction, then give the login roles their ``passwords``."""
    done: list[str] = []
    with conn.transaction():
        for name, text in objects:
            try:
                conn.execute(sql.SQL(text))  # trusted file from sql/
            except psycopg.Error as exc:
                raise MigrationError(f"sql/{name} failed: {exc}") from exc
            done.append(name)
        for role, password in sorted((passwords or {}).items()):
            conn.execute(
                sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(password)
                )
            )
    return done
