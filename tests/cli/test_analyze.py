"""`tsmon analyze ...` end to end: a table, or one JSON line last; bad input exits 2 naming the argument."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson
import psycopg
import pytest
from click.testing import CliRunner

from tests.analysis.test_compare import A, B, seed_three
from tsmon.cli import cli


@pytest.fixture
def run(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("TSMON_DATABASE_URL", db_url)
    monkeypatch.setenv("TSMON_HOME", str(tmp_path / "home"))
    with psycopg.connect(db_url, autocommit=True) as conn:
        seed_three(conn)
    return CliRunner()


def last_json(output: str) -> dict[str, object]:
    out = orjson.loads(output.strip().splitlines()[-1])
    assert isinstance(out, dict)
    return out


def test_compare_json_and_table(run: CliRunner) -> None:
    args = [
        "analyze",
        "compare",
        "--metric",
        "latency",
        "--from",
        B.start.isoformat(),
        "--to",
        B.stop.isoformat(),
    ]
    args += ["--baseline-from", A.start.isoformat(), "--baseline-to", A.stop.isoformat()]
    result = run.invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    out = last_json(result.output)
    assert out["analysis"] == "compare" and out["series"] == 3 and out["flagged"] == 1
    assert out["results"][0]["labels"] == {"dc": "x", "host": "web1"}  # type: ignore[index]
    table = run.invoke(cli, [*args, "--labels", '{"dc": "x"}'])
    assert table.exit_code == 0, table.output
    assert "1 of 2 series flagged" in table.output and '"host":"web1"' in table.output
    shifted = run.invoke(
        cli,
        [
            "analyze",
            "compare",
            "--metric",
            "latency",
            "--from",
            B.start.isoformat(),
            "--to",
            B.stop.isoformat(),
            "--shift",
            "3h",
            "--json",
        ],
    )
    assert last_json(shifted.output)["baseline"] == {"from": A.start.isoformat(), "to": A.stop.isoformat()}


@pytest.mark.parametrize(
    ("extra", "argument"),
    [
        (["--metric", "nope"], "metric: no metric named 'nope'"),
        (["--metric", "latency", "--labels", "{bad"], "labels: "),
        (["--metric", "latency", "--labels", '{"host": "db9"}'], "labels: no series"),
        (["--metric", "latency", "--to", "yesterday"], "to: 'yesterday' is not an ISO 8601 time"),
        (["--metric", "latency", "--shift", "soon"], "shift: 'soon' is not a duration"),
        (["--metric", "latency", "--alpha", "2"], "alpha: must be between"),
    ],
)
def test_bad_input_exits_2_naming_the_argument(run: CliRunner, extra: list[str], argument: str) -> None:
    base = ["analyze", "compare", "--from", B.start.isoformat(), "--to", B.stop.isoformat()]
    if "--to" in extra:
        base = base[:-2]
    result = run.invoke(cli, [*base, *extra])
    assert result.exit_code == 2, result.output
    assert argument in result.output
    assert "Traceback" not in result.output


def test_empty_range_and_too_few_points(run: CliRunner) -> None:
    empty = run.invoke(
        cli,
        [
            "analyze",
            "compare",
            "--metric",
            "latency",
            "--from",
            B.stop.isoformat(),
            "--to",
            B.start.isoformat(),
        ],
    )
    assert empty.exit_code == 2 and "from: empty range" in empty.output
    later = B.start + timedelta(days=1)
    few = run.invoke(
        cli,
        [
            "analyze",
            "compare",
            "--metric",
            "latency",
            "--from",
            later.isoformat(),
            "--to",
            (later + timedelta(hours=1)).isoformat(),
        ],
    )
    assert few.exit_code == 2 and "too few points" in few.output


@pytest.mark.parametrize(
    ("name", "extra", "key"),
    [
        ("describe", [], "results"),
        ("groups", ["--by", "host"], "anova"),
        ("correlate", ["--labels", '{"host": "web0"}', "--labels-y", '{"host": "web1"}'], "pearson"),
        ("explain", ["--by", "dc", "--shift", "3h"], "results"),
    ],
)
def test_each_analysis_prints_a_table_or_one_json_line(
    run: CliRunner, name: str, extra: list[str], key: str
) -> None:
    args = [
        "analyze",
        name,
        "--metric",
        "latency",
        "--from",
        B.start.isoformat(),
        "--to",
        B.stop.isoformat(),
        *extra,
    ]
    result = run.invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    out = last_json(result.output)
    assert out["analysis"] == name and key in out
    table = run.invoke(cli, args)
    assert table.exit_code == 0, table.output
    assert not table.output.lstrip().startswith("{")


def test_groups_bad_label_exits_2(run: CliRunner) -> None:
    args = ["analyze", "groups", "--metric", "latency", "--by", "zone", "--from", B.start.isoformat()]
    result = run.invoke(cli, args)
    assert result.exit_code == 2 and "by: label 'zone' has 0 value(s)" in result.output
