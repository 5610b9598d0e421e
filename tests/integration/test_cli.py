"""The `tsmon` command against a real database: migrate, ingest files, exit codes and messages."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from tsmon.cli import cli


@pytest.fixture
def run(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("TSMON_DATABASE_URL", db_url)
    monkeypatch.setenv("TSMON_HOME", str(tmp_path / "home"))
    return CliRunner()


GOOD = (
    'time,metric,labels,value\n2026-01-01T00:00:00Z,cpu,"{""host"":""a""}",1\n2026-01-01T00:00:10Z,cpu,,2\n'
)
BAD = GOOD + "nope,cpu,,3\n2026-01-01T00:00:20Z,cpu,,x\n"


def test_migrate_reports_up_to_date(run: CliRunner) -> None:
    result = run.invoke(cli, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "migrations applied: none (up to date)" in result.output
    assert "edition" in result.output


def test_ingest_good_file(run: CliRunner, tmp_path: Path, db_url: str) -> None:
    f = tmp_path / "good.csv"
    f.write_text(GOOD)
    result = run.invoke(cli, ["ingest", str(f)])
    assert result.exit_code == 0, result.output
    assert "2 rows stored, 0 rejected, 2 new series" in result.output
    with psycopg.connect(db_url) as c:
        rows = c.execute(
            "SELECT metric, labels::text, value FROM tsmon.metric_samples ORDER BY time"
        ).fetchall()
    assert rows == [("cpu", '{"host": "a"}', 1.0), ("cpu", "{}", 2.0)]


def test_ingest_file_with_bad_lines_stores_good_ones_and_says_where(
    run: CliRunner, tmp_path: Path, db_url: str
) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(BAD)
    result = run.invoke(cli, ["ingest", str(f)])
    assert result.exit_code == 1
    assert f"{f}:4: time 'nope' is neither ISO 8601 nor a Unix epoch number" in result.output
    assert f"{f}:5: value 'x' is not a number" in result.output
    assert "2 rows stored, 2 rejected" in result.output
    with psycopg.connect(db_url) as c:
        assert c.execute("SELECT count(*) FROM tsmon.samples").fetchone() == (2,)


def test_strict_ingest_writes_nothing(run: CliRunner, tmp_path: Path, db_url: str) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(BAD)
    result = run.invoke(cli, ["ingest", "--strict", "--batch-rows", "1", str(f)])
    assert result.exit_code == 1
    assert "nothing written (--strict): 2 bad rows" in result.output
    with psycopg.connect(db_url) as c:
        assert c.execute("SELECT count(*) FROM tsmon.samples").fetchone() == (0,)


def test_unreadable_files_exit_2(run: CliRunner, tmp_path: Path) -> None:
    result = run.invoke(cli, ["ingest", str(tmp_path / "missing.csv")])
    assert result.exit_code == 2 and "cannot open" in result.output
    f = tmp_path / "wrong.csv"
    f.write_text("a,b\n1,2\n")
    result = run.invoke(cli, ["ingest", str(f)])
    assert result.exit_code == 2 and f"{f}:line 1: the header must name the columns" in result.output


def test_small_batches_commit_independently(run: CliRunner, tmp_path: Path, db_url: str) -> None:
    f = tmp_path / "many.csv"
    f.write_text("time,metric,labels,value\n" + "".join(f"{1767225600 + i},m,,{i}\n" for i in range(25)))
    result = run.invoke(cli, ["ingest", "--batch-rows", "10", str(f)])
    assert result.exit_code == 0, result.output
    with psycopg.connect(db_url) as c:
        assert c.execute("SELECT count(*), sum(value) FROM tsmon.metric_samples").fetchone() == (25, 300.0)
