"""`tsmon eval nab` on a two-file copy of the corpus: results written, figures printed as JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import SHARED
from tsmon.cli import cli

NAB = SHARED / "nab"
FILES = ["realTraffic/speed_7578.csv", "realAdExchange/exchange-3_cpm_results.csv"]


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    if not (NAB / "labels").is_dir():
        pytest.skip("NAB corpus not on this machine")
    windows = json.loads((NAB / "labels" / "combined_windows.json").read_text())
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "combined_windows.json").write_text(json.dumps({k: windows[k] for k in FILES}))
    for key in FILES:
        (tmp_path / "data" / key).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(NAB / "data" / key, tmp_path / "data" / key)
    return tmp_path


def test_eval_nab_writes_results_and_prints_json(small_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    args = ["eval", "nab", "--data", str(small_corpus), "--detector", "mad", "--workers", "1"]
    result = CliRunner().invoke(cli, [*args, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    for key in (
        "standard",
        "reward_low_FP_rate",
        "reward_low_FN_rate",
        "fixed_threshold",
        "vus_pr",
        "auc_pr",
    ):
        assert key in figures
    assert figures["files"] == 2 and -100 <= figures["standard"] <= 100
    assert figures["trainings"]["initial"] == 2 and figures["trainings"]["schedule"] > 0
    assert "trainings: " in result.output
    lines = (out / FILES[0]).read_text().splitlines()
    assert lines[0] == "timestamp,anomaly_score,surprise"
    assert len(lines) == 1 + 1127
    assert all(0.0 <= float(line.split(",")[1]) <= 1.0 for line in lines[1:])


def test_eval_nab_rejects_bad_input(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["eval", "nab", "--data", str(tmp_path)])
    assert result.exit_code == 2 and "combined_windows.json" in result.output
    config = tmp_path / "det.yaml"
    config.write_text("detector: nope\n")
    result = CliRunner().invoke(cli, ["eval", "nab", "--data", str(tmp_path), "--detector", str(config)])
    assert result.exit_code == 2 and "detector" in result.output
