"""`tsmon analyze changes`: the last line is the run's JSON; bad input names the option and exits 2."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson
import psycopg
import pytest
from click.testing import CliRunner

from tests.analysis.test_changes import _now, _seed
from tsmon.cli import cli


@pytest.fixture
def runner(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("TSMON_DATABASE_URL", db_url)
    monkeypatch.setenv("TSMON_HOME", str(tmp_path / "home"))
    return CliRunner()


def test_changes_json_is_the_last_line(runner: CliRunner, db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        start, end, _ids = _seed(conn, _now())
    args = ["analyze", "changes", "--from", start.isoformat(), "--to", end.isoformat(), "--limit", "3"]
    done = runner.invoke(cli, [*args, "--json"])
    assert done.exit_code == 0, done.output
    body = orjson.loads(done.output.strip().splitlines()[-1])
    assert isinstance(body["run_id"], int) and len(body["results"]) == 3
    first = body["results"][0]
    assert {"rank", "series_id", "metric", "labels", "score", "method"} <= set(first)
    assert first["rank"] == 1 and first["method"] == "volume"
    table = runner.invoke(cli, [*args, "--metric", "g", "--labels", '{"i": "0"}'])
    assert table.exit_code == 0 and "1 series ranked" in table.output and "g{" in table.output


@pytest.mark.parametrize(
    ("extra", "option"),
    [
        (["--metric", "nope"], "--metric"),
        (["--labels", "[1]"], "--labels"),
        (["--labels", "{"], "--labels"),
        (["--event", "999"], "--event"),
        (["--limit", "0"], "--limit"),
        (["--method", "t"], "--method"),
        (["--to", "2020-01-01T00:00:00Z"], "--to"),
        (["--from", "yesterday"], "--from"),
    ],
)
def test_bad_input_names_the_option(runner: CliRunner, extra: list[str], option: str) -> None:
    now = _now()
    base = ["analyze", "changes", "--from", (now - timedelta(hours=1)).isoformat(), "--to", now.isoformat()]
    done = runner.invoke(cli, [*base, *extra])
    assert done.exit_code == 2, done.output
    assert option in done.output and "Traceback" not in done.output


def test_too_few_points_exits_2(runner: CliRunner) -> None:
    now = _now()
    done = runner.invoke(
        cli, ["analyze", "changes", "--from", (now - timedelta(hours=1)).isoformat(), "--to", now.isoformat()]
    )
    assert done.exit_code == 2 and "too few points" in done.output and "--from" in done.output
