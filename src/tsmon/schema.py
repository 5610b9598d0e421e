"""Bring a database's schema up to date: migrations, the windows for its edition, then the sql/ objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tsmon.db.connect import Conn
from tsmon.db.logins import login_passwords
from tsmon.db.migrations import (
    apply_migrations,
    apply_sql_objects,
    load_migrations,
    load_sql_objects,
    migration_lock,
    prepare,
    schema_dirs,
)
from tsmon.ingest.guard import install_ingest_guard
from tsmon.settings import Settings
from tsmon.windows.engine import install_windows
from tsmon.windows.retention import RetentionSettings


@dataclass
class MigrateReport:
    applied: list[str] = field(default_factory=list)
    reapplied: list[str] = field(default_factory=list)
    edition: str = ""
    timescaledb_version: str = ""
    windows_engine: str = ""


def migrate(
    conn: Conn,
    settings: Settings | None = None,
    migrations_dir: Path | None = None,
    sql_dir: Path | None = None,
) -> MigrateReport:
    """Bring the database's schema up to date. Safe to run concurrently and repeatedly.

    Order: append-only migrations, then the windows for this server's edition (or the engine
    TSMON_WINDOWS_ENGINE asks for), then the idempotent sql/ objects (views over the windows).
    """
    settings = settings or Settings()
    passwords = login_passwords(settings)
    default_migrations, default_sql = schema_dirs()
    files = load_migrations(migrations_dir or default_migrations)
    objects = load_sql_objects(sql_dir or default_sql)
    report = MigrateReport()
    conn.autocommit = True
    with migration_lock(conn):
        prepare(conn)
        report.applied = apply_migrations(conn, files)
        report.windows_engine = install_windows(
            conn, settings.windows_engine, RetentionSettings.from_settings(settings)
        )
        report.reapplied = apply_sql_objects(conn, objects, passwords)
        install_ingest_guard(conn, settings, report.windows_engine)
        row = conn.execute("SELECT timescaledb_version, edition FROM tsmon.capabilities()").fetchone()
        if row:
            report.timescaledb_version, report.edition = str(row[0]), str(row[1])
    return report
