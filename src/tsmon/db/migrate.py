"""Migration runner: append-only `migrations/` applied once with checksums, idempotent `sql/` re-applied."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from tsmon.errors import MigrationChecksumError, MigrationError, TimescaleDBMissingError
from tsmon.settings import Settings
from tsmon.windows.engine import install_windows
from tsmon.windows.retention import RetentionSettings

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


@dataclass
class MigrateReport:
    applied: list[str] = field(default_factory=list)
    reapplied: list[str] = field(default_factory=list)
    edition: str = ""
    timescaledb_version: str = ""
    windows_engine: str = ""


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


def ensure_timescaledb(conn: psycopg.Connection[tuple[object, ...]]) -> None:
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


def _check_applied(conn: psycopg.Connection[tuple[object, ...]], files: list[Migration]) -> set[int]:
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


def migrate(
    conn: psycopg.Connection[tuple[object, ...]],
    settings: Settings | None = None,
    migrations_dir: Path | None = None,
    sql_dir: Path | None = None,
) -> MigrateReport:
    """Bring the database's schema up to date. Safe to run concurrently and repeatedly.

    Order: append-only migrations, then the windows for this server's edition (or the engine
    TSMON_WINDOWS_ENGINE asks for), then the idempotent sql/ objects (views over the windows).
    """
    settings = settings or Settings()
    reader_password = settings.reader_password.get_secret_value() if settings.reader_password else None
    default_migrations, default_sql = schema_dirs()
    files = load_migrations(migrations_dir or default_migrations)
    objects = load_sql_objects(sql_dir or default_sql)
    report = MigrateReport()
    conn.autocommit = True
    conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATE_LOCK_KEY,))
    try:
        ensure_timescaledb(conn)
        conn.execute("CREATE SCHEMA IF NOT EXISTS tsmon")
        conn.execute(
            """CREATE TABLE IF NOT EXISTS tsmon.schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        applied = _check_applied(conn, files)
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
            report.applied.append(m.name)
        report.windows_engine = install_windows(
            conn, settings.windows_engine, RetentionSettings.from_settings(settings)
        )
        with conn.transaction():
            for name, text in objects:
                try:
                    conn.execute(sql.SQL(text))  # trusted file from sql/
                except psycopg.Error as exc:
                    raise MigrationError(f"sql/{name} failed: {exc}") from exc
                report.reapplied.append(name)
            if reader_password:
                conn.execute(
                    sql.SQL("ALTER ROLE tsmon_reader WITH LOGIN PASSWORD {}").format(
                        sql.Literal(reader_password)
                    )
                )
        row = conn.execute("SELECT timescaledb_version, edition FROM tsmon.capabilities()").fetchone()
        if row:
            report.timescaledb_version, report.edition = str(row[0]), str(row[1])
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATE_LOCK_KEY,))
    return report
