"""`tsmon demo --once` (docker compose's demo profile): backfill and configs once, then nothing twice."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from tsmon.cli import cli


def test_demo_once_backfills_and_applies_configs(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TSMON_DATABASE_URL", db_url)
    monkeypatch.setenv("TSMON_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    first = runner.invoke(cli, ["demo", "--once"])
    assert first.exit_code == 0, first.output
    assert "backfilled" in first.output
    with psycopg.connect(db_url) as conn:
        configs = conn.execute("SELECT name FROM tsmon.detection_configs ORDER BY 1").fetchall()
        samples = conn.execute(
            "SELECT count(*) FROM tsmon.metric_samples WHERE metric LIKE 'demo%'"
        ).fetchone()
    assert [c[0] for c in configs] == sorted(
        ["demo-spike", "demo-level-shift", "demo-trend-change", "demo-seasonal-break", "demo-flat-line"]
    )
    assert samples is not None and samples[0] > 3 * 1440
    again = runner.invoke(cli, ["demo", "--once"])
    assert again.exit_code == 0 and "already backfilled" in again.output
