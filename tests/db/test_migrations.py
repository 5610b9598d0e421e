"""Migrations: applied once, tracked with checksums, sql/ re-applied, edited history refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from tsmon.db.migrations import schema_dirs
from tsmon.errors import MigrationChecksumError
from tsmon.schema import migrate


def _schema_snapshot(conn: psycopg.Connection[tuple[object, ...]]) -> list[tuple[object, ...]]:
    relations = conn.execute(
        """SELECT c.oid::bigint, c.relname, c.relkind, obj_description(c.oid, 'pg_class')
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'tsmon' ORDER BY c.relname"""
    ).fetchall()
    # Policies (full edition) must not be re-created either: same job ids, same settings.
    jobs = conn.execute(
        "SELECT job_id, proc_name, schedule_interval::text, config::text FROM timescaledb_information.jobs "
        "ORDER BY job_id"
    ).fetchall()
    return relations + jobs


def copied_migrations(tmp_path: Path) -> tuple[Path, Path]:
    """A scratch copy of migrations/ that a test may edit, and the real sql/."""
    migrations, sql_dir = schema_dirs()
    shutil.copytree(migrations, tmp_path / "migrations")
    return tmp_path / "migrations", sql_dir


def applied_count(conn: psycopg.Connection[tuple[object, ...]], version: int) -> object:
    row = conn.execute(
        "SELECT count(*) FROM tsmon.schema_migrations WHERE version = %s", (version,)
    ).fetchone()
    return row[0] if row else None


def test_migrate_twice_is_a_no_op(empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        first = migrate(conn)
        assert first.applied == [p.name for p in sorted(schema_dirs()[0].glob("*.sql"))]
        before = _schema_snapshot(conn)
        rows_before = conn.execute(
            "SELECT version, checksum, applied_at FROM tsmon.schema_migrations"
        ).fetchall()
        second = migrate(conn)
        assert second.applied == []
        assert _schema_snapshot(conn) == before
        rows_after = conn.execute(
            "SELECT version, checksum, applied_at FROM tsmon.schema_migrations"
        ).fetchall()
        assert rows_after == rows_before


def test_edited_migration_is_refused(empty_db_url: str, tmp_path: Path) -> None:
    copy, sql_dir = copied_migrations(tmp_path)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        migrate(conn, migrations_dir=copy, sql_dir=sql_dir)
        first = sorted(copy.glob("*.sql"))[0]
        first.write_text(first.read_text() + "\n-- an innocent-looking edit\n")
        with pytest.raises(MigrationChecksumError, match=rf"{first.name} was changed after it was applied"):
            migrate(conn, migrations_dir=copy, sql_dir=sql_dir)
        first.unlink()
        with pytest.raises(MigrationChecksumError, match="file is missing"):
            migrate(conn, migrations_dir=copy, sql_dir=sql_dir)


def test_new_migration_is_applied_once(empty_db_url: str, tmp_path: Path) -> None:
    copy, sql_dir = copied_migrations(tmp_path)
    (copy / "9999_extra.sql").write_text("CREATE TABLE tsmon.extra_for_test (x int);")
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        assert "9999_extra.sql" in migrate(conn, migrations_dir=copy, sql_dir=sql_dir).applied
        assert migrate(conn, migrations_dir=copy, sql_dir=sql_dir).applied == []
        assert applied_count(conn, 9999) == 1


def test_failed_migration_leaves_nothing(empty_db_url: str, tmp_path: Path) -> None:
    copy, sql_dir = copied_migrations(tmp_path)
    (copy / "9998_broken.sql").write_text("CREATE TABLE tsmon.half_done (x int); SELECT no_such_function();")
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        with pytest.raises(Exception, match=r"9998_broken\.sql failed"):
            migrate(conn, migrations_dir=copy, sql_dir=sql_dir)
        assert conn.execute("SELECT to_regclass('tsmon.half_done')").fetchone() == (None,)
        assert applied_count(conn, 9998) == 0
