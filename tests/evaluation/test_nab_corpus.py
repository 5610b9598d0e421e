"""The NAB corpus reader: label keys never lead tsmon outside --data (reads) or --out (writes)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tsmon.cli import cli
from tsmon.evaluation.nab_corpus import NabCorpusError, NabFile, load_corpus, path_under
from tsmon.evaluation.nab_run import FileRun, write_results

ROWS = "timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,2\n"


def corpus(root: Path, keys: list[str]) -> Path:
    (root / "labels").mkdir(parents=True)
    (root / "labels" / "combined_windows.json").write_text(json.dumps({k: [] for k in keys}))
    return root


@pytest.mark.parametrize(
    "key", ["../secret/x.csv", "family/../../secret/x.csv", "/tmp/secret.csv", "family/sub/x.csv", "x.csv"]
)
def test_keys_that_leave_the_corpus_are_refused(tmp_path: Path, key: str) -> None:
    secret = tmp_path / "secret" / "x.csv"
    secret.parent.mkdir()
    secret.write_text(ROWS)
    root = corpus(tmp_path / "nab", [key])
    with pytest.raises(NabCorpusError, match="label key"):
        load_corpus(root)


def test_a_symlink_out_of_the_corpus_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.csv").write_text(ROWS)
    root = corpus(tmp_path / "nab", ["family/x.csv"])
    (root / "data").mkdir()
    (root / "data" / "family").symlink_to(outside)
    with pytest.raises(NabCorpusError, match="leads outside"):
        load_corpus(root)


def test_a_valid_key_reads_inside(tmp_path: Path) -> None:
    root = corpus(tmp_path / "nab", ["family/x.csv"])
    (root / "data" / "family").mkdir(parents=True)
    (root / "data" / "family" / "x.csv").write_text(ROWS)
    (file,) = load_corpus(root)
    assert file.key == "family/x.csv" and file.values.tolist() == [1.0, 2.0]
    assert path_under(root / "data", "family/x.csv") == (root / "data" / "family" / "x.csv").resolve()


def test_results_are_never_written_outside_out(tmp_path: Path) -> None:
    bad = NabFile("../escaped/x.csv", ("2014-04-01 00:00:00",), np.zeros(1), np.zeros(1), ())
    run = FileRun(bad.key, np.zeros(1), 0.0, 0.0, {})
    with pytest.raises(NabCorpusError):
        write_results(tmp_path / "out", [bad], [run])
    assert not (tmp_path / "escaped").exists()


def test_cli_says_which_key_and_exits_2(tmp_path: Path) -> None:
    root = corpus(tmp_path / "nab", ["../../etc/passwd.csv"])
    result = CliRunner().invoke(cli, ["eval", "nab", "--data", str(root)])
    assert result.exit_code == 2
    assert "label key '../../etc/passwd.csv'" in result.output
