"""The `tsmon` command against a real database: migrate, ingest files, exit codes and messages."""

from __future__ import annotations

import json
import time
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


T0 = int(time.time()) // 60 * 60 - 3600  # recent: older samples than the retention are refused
GOOD = f'time,metric,labels,value\n{T0},cpu,"{{""host"":""a""}}",1\n{T0 + 10},cpu,,2\n'
BAD = GOOD + f"nope,cpu,,3\n{T0 + 20},cpu,,x\n"


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
    assert "2 samples stored, 0 rejected" in result.output
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
    assert "2 samples stored, 2 rejected" in result.output
    with psycopg.connect(db_url) as c:
        assert c.execute("SELECT count(*) FROM tsmon.samples").fetchone() == (2,)


def test_strict_ingest_writes_nothing(run: CliRunner, tmp_path: Path, db_url: str) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(BAD)
    result = run.invoke(cli, ["ingest", "--strict", "--batch-rows", "1", str(f)])
    assert result.exit_code == 1
    assert "nothing written (--strict): 2 bad lines" in result.output
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
    f.write_text("time,metric,labels,value\n" + "".join(f"{T0 + i},m,,{i}\n" for i in range(25)))
    result = run.invoke(cli, ["ingest", "--batch-rows", "10", str(f)])
    assert result.exit_code == 0, result.output
    with psycopg.connect(db_url) as c:
        assert c.execute("SELECT count(*), sum(value) FROM tsmon.metric_samples").fetchone() == (25, 300.0)


def test_every_format_streams_through_the_same_writer(run: CliRunner, tmp_path: Path, db_url: str) -> None:
    ns = T0 * 1_000_000_000
    files = {
        "a.lp": f'weather,city=Oslo temp=3.5,note="cold\nand dark" {ns}\n'
        f"weather,city=Oslo temp=NaN {ns + 1}\nweather,city=Rome temp=18i {ns}\n",
        "b.prom": f'# TYPE up gauge\nup{{job="x"}} 1 {T0 * 1000}\nbroken{{ 3\n',
        "c.jsonl": json.dumps({"metric": "j", "labels": {"k": "v"}, "points": [[T0, 1], [T0 + 1, "2.5"]]})
        + "\n",
        "d.json": json.dumps([{"metric": "j2", "points": [[T0, 7]]}]),
    }
    outputs = {}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        outputs[name] = run.invoke(cli, ["ingest", "--batch-rows", "1", str(tmp_path / name)])
    assert outputs["a.lp"].exit_code == 1 and f"{tmp_path / 'a.lp'}:3: " in outputs["a.lp"].output
    assert "2 samples stored, 1 rejected, 1 string fields skipped" in outputs["a.lp"].output
    assert outputs["b.prom"].exit_code == 1 and f"{tmp_path / 'b.prom'}:3: " in outputs["b.prom"].output
    assert outputs["c.jsonl"].exit_code == 0 and outputs["d.json"].exit_code == 0
    with psycopg.connect(db_url) as c:
        rows = c.execute(
            "SELECT metric, labels::text, value FROM tsmon.metric_samples ORDER BY 1, 2, time"
        ).fetchall()
    assert rows == [
        ("j", '{"k": "v"}', 1.0),
        ("j", '{"k": "v"}', 2.5),
        ("j2", "{}", 7.0),
        ("up", '{"job": "x"}', 1.0),
        ("weather_temp", '{"city": "Oslo"}', 3.5),
        ("weather_temp", '{"city": "Rome"}', 18.0),
    ]
