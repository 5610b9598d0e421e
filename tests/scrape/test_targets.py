"""file_sd_configs: JSON and YAML target files as Prometheus reads them, re-read when they change."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from tsmon.scrape.fields import ScrapeConfigError
from tsmon.scrape.targets import FileSDConfig, FileTargets, Target, read_target_file


def test_json_and_yaml_target_files(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(
        json.dumps([{"targets": ["a:9100", "b:9100"], "labels": {"env": "prod"}}, {"targets": ["c:1"]}])
    )
    (tmp_path / "b.yml").write_text(
        "- targets: [d:9100]\n  labels: {rack: 7, up: true, env: lab}\n- labels: {x: y}\n"
    )
    a, b = tmp_path / "a.json", tmp_path / "b.yml"
    assert read_target_file(a) == [
        Target("a:9100", {"env": "prod", "__meta_filepath": str(a)}),
        Target("b:9100", {"env": "prod", "__meta_filepath": str(a)}),
        Target("c:1", {"__meta_filepath": str(a)}),
    ]
    # YAML scalars keep their text, as Prometheus' YAML decoding into strings does.
    assert read_target_file(b) == [
        Target("d:9100", {"rack": "7", "up": "true", "env": "lab", "__meta_filepath": str(b)})
    ]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("x.json", '[{"targets": ["a:1"], "labels": {"rack": 7}}]', "must be a string"),
        ("x.json", '[{"targets": ["a:1"], "lables": {}}]', "unknown keys"),
        ("x.yaml", "- targets: [a:1]\n  label: {a: b}\n", "unknown keys"),
        ("x.json", '{"targets": ["a:1"]}', "expected a list"),
        ("x.json", "[{]", "not valid JSON"),
        ("x.yml", "- targets: [a:1]\n  labels: {1x: y}\n", "not a valid label name"),
    ],
)
def test_invalid_target_files_say_where(tmp_path: Path, name: str, text: str, message: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(ScrapeConfigError, match=message):
        read_target_file(tmp_path / name)


def addresses(files: FileTargets, now: float) -> list[str]:
    return sorted(t.address for t in files.targets(now))


def test_files_are_re_read_when_they_change(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    files = FileTargets((FileSDConfig((str(tmp_path / "*.json"),), refresh_interval_s=300),))
    assert addresses(files, 0) == []
    path = tmp_path / "nodes.json"
    path.write_text('[{"targets": ["a:1"]}]')
    assert addresses(files, 1) == ["a:1"]
    path.write_text('[{"targets": ["a:1", "b:22"]}]')  # a change in size
    assert addresses(files, 2) == ["a:1", "b:22"]
    path.write_text('[{"targets": ["c:1", "d:22"]}]')  # same size: the modification time tells
    os.utime(path, ns=(path.stat().st_mtime_ns + 1_000_000, path.stat().st_mtime_ns + 1_000_000))
    assert addresses(files, 3) == ["c:1", "d:22"]
    with caplog.at_level(logging.ERROR, logger="tsmon.scrape"):
        path.write_text('[{"targets": ["c:1", ')  # a half-written file: keep what was there
        assert addresses(files, 4) == ["c:1", "d:22"]
    assert any(
        str(path) in r.getMessage() and "keeping its last targets (2)" in r.getMessage()
        for r in caplog.records
    )
    (tmp_path / "more.json").write_text('[{"targets": ["e:1"]}]')
    path.unlink()  # a file that is gone takes its targets with it
    assert addresses(files, 5) == ["e:1"]


def test_an_unchanged_file_is_read_again_at_its_refresh_interval(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("- targets: [a:1]\n")
    files = FileTargets((FileSDConfig((str(path),), refresh_interval_s=60),))
    assert addresses(files, 0) == ["a:1"]
    stat = path.stat()
    path.write_text("- targets: [b:1]\n")  # same size, same times: invisible until the refresh is due
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    if path.stat().st_ino == stat.st_ino:
        assert addresses(files, 30) == ["a:1"]
    assert addresses(files, 61) == ["b:1"]
