"""`tsmon eval forecast` on a tiny synthetic corpus: figures as JSON, located errors with exit 2."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tsmon.cli import cli

STEP = 300


def write_series(path: Path, values: np.ndarray, *, start: int = 1_767_225_600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = ["timestamp,value"]
    for i, v in enumerate(values):
        stamp = datetime.fromtimestamp(start + STEP * i, UTC).strftime("%Y-%m-%d %H:%M:%S")
        rows.append(f"{stamp},{v:.6f}")
    path.write_text("\n".join(rows) + "\n")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    n = 6 * 288
    phase = 2 * np.pi * np.arange(n) / 288
    write_series(tmp_path / "data" / "synthetic" / "daily.csv", 50 + 10 * np.sin(phase) + rng.normal(0, 3, n))
    write_series(tmp_path / "data" / "synthetic" / "daily_b.csv", 5 + np.cos(phase) + rng.normal(0, 0.4, n))
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["eval", "forecast", *args])
    return result.exit_code, result.output


def test_ets_beats_seasonal_naive_on_noisy_seasonal_series(corpus: Path) -> None:
    code, output = run("--data", str(corpus), "--model", "ets", "--origins", "6", "--workers", "1", "--json")
    assert code == 0, output
    figures = json.loads(output.strip().splitlines()[-1])
    assert figures["series"] == 2 and figures["horizon"] == 12 and figures["steps_s"] == [300.0]
    ets, naive = figures["models"]["ets"], figures["models"]["seasonal_naive"]
    assert ets["mase"] < 0.85 * naive["mase"]
    assert figures["mase"] == ets["mase"] and figures["mase_seasonal_naive"] == naive["mase"]
    for model in (ets, naive):
        assert 0.5 <= model["coverage_80"] <= model["coverage_95"] <= 1.0
    assert "MASE ratio to seasonal naive" in output


def test_default_model_is_chosen_by_cv_per_series(corpus: Path) -> None:
    code, output = run("--data", str(corpus), "--origins", "3", "--horizon", "6", "--workers", "2", "--json")
    assert code == 0, output
    figures = json.loads(output.strip().splitlines()[-1])
    assert figures["model"] == "auto" and sum(figures["chosen"].values()) == 2
    for key in ("mase", "smape", "coverage_80", "coverage_95", "seasonal_naive_mase", "series"):
        assert key in figures


def test_bad_data_and_bad_csv_exit_2_with_a_located_message(tmp_path: Path, corpus: Path) -> None:
    code, output = run("--data", str(tmp_path / "missing"))
    assert code == 2 and "--data" in output
    (tmp_path / "empty").mkdir()
    code, output = run("--data", str(tmp_path / "empty"))
    assert code == 2 and "no data/ folder" in output and "Traceback" not in output
    bad = corpus / "data" / "synthetic" / "daily_b.csv"
    lines = bad.read_text().splitlines()
    lines[5] = "2026-01-01 00:20:00,not-a-number"
    bad.write_text("\n".join(lines) + "\n")
    code, output = run("--data", str(corpus))
    assert code == 2 and f"{bad}:6:" in output and "Traceback" not in output
    bad.write_text("time,value\n")
    code, output = run("--data", str(corpus))
    assert code == 2 and "header must be 'timestamp,value'" in output


def test_short_series_are_skipped_with_a_reason_and_links_out_of_data_refused(
    tmp_path: Path, corpus: Path
) -> None:
    write_series(corpus / "data" / "synthetic" / "short.csv", np.arange(20.0))
    code, output = run("--data", str(corpus), "--model", "ets", "--origins", "2", "--workers", "1", "--json")
    assert code == 0, output
    figures = json.loads(output.strip().splitlines()[-1])
    assert figures["series"] == 2 and "synthetic/short.csv" in figures["skipped"]
    assert "skipped synthetic/short.csv" in output
    only_short = tmp_path / "only_short"
    write_series(only_short / "data" / "synthetic" / "short.csv", np.arange(10.0))
    code, output = run("--data", str(only_short))
    assert code == 2 and "no series long enough" in output
    outside = tmp_path / "outside.csv"
    write_series(outside, np.arange(50.0))
    (corpus / "data" / "synthetic" / "link.csv").symlink_to(outside)
    code, output = run("--data", str(corpus))
    assert code == 2 and "outside" in output and "Traceback" not in output
