"""`tsmon grafana build [--check]` and the static checks of the generated dashboards and alerting files."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from tests.conftest import REPO
from tsmon.cli import cli
from tsmon.grafana import alerting
from tsmon.grafana.build import dashboard_json, render
from tsmon.grafana.checks import GrafanaConfigError, alerting_problems, check_all, dashboard_problems
from tsmon.grafana.layout import picture


def test_committed_files_are_up_to_date() -> None:
    result = CliRunner().invoke(cli, ["grafana", "build", "--check", "--dir", str(REPO / "grafana")])
    assert result.exit_code == 0, result.output


def test_check_fails_on_drift_and_build_repairs_it(tmp_path: Path) -> None:
    root = tmp_path / "grafana"
    shutil.copytree(REPO / "grafana", root)
    (root / "dashboards" / "tsmon-host.json").write_text("{}\n")
    (root / "dashboards" / "stray.json").write_text("{}\n")
    runner = CliRunner()
    result = runner.invoke(cli, ["grafana", "build", "--check", "--dir", str(root)])
    assert result.exit_code == 1
    assert "tsmon-host.json" in result.output and "stray.json (not generated)" in result.output
    assert runner.invoke(cli, ["grafana", "build", "--dir", str(root)]).exit_code == 0
    assert not (root / "dashboards" / "stray.json").exists()
    assert runner.invoke(cli, ["grafana", "build", "--check", "--dir", str(root)]).exit_code == 0


def test_output_is_deterministic_and_parses() -> None:
    first, second = render(), render()
    assert first == second
    for path, text in first.items():
        data = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
        assert data, path


def test_generated_files_pass_the_static_checks() -> None:
    check_all(list(dashboard_json().values()), alerting.provisioning())


def problems_after(change: Any) -> list[str]:
    dashboards = copy.deepcopy(list(dashboard_json().values()))
    prov = copy.deepcopy(alerting.provisioning())
    change(dashboards, prov)
    return [p for d in dashboards for p in dashboard_problems(d)] + list(alerting_problems(prov))


def _panel(ds: list[dict[str, Any]], uid: str, title: str) -> dict[str, Any]:
    d = next(d for d in ds if d["uid"] == uid)
    return next(p for p in d["panels"] if p.get("title") == title)


BROKEN = {
    "overlap": (lambda ds, _: ds[0]["panels"][1]["gridPos"].update(x=0), "overlaps panel"),
    "too wide": (lambda ds, _: ds[0]["panels"][0]["gridPos"].update(w=30), "outside the 24-column grid"),
    "duplicate id": (lambda ds, _: ds[0]["panels"][1].update(id=1), "ids must be present and unique"),
    "angular": (lambda ds, _: ds[0]["panels"][0].update(type="graph"), "Angular"),
    "bad uid": (lambda ds, _: ds[0].update(uid="has a space"), "must be 1-40"),
    "no format": (lambda ds, _: ds[0]["panels"][0]["targets"][0].pop("format"), "format must be set"),
    "bare variable": (
        lambda ds, _: _panel(ds, "tsmon-explorer", "Value vs expected")["targets"][0].update(
            rawSql="SELECT $series"
        ),
        "without an explicit format",
    ),
    "singlequote": (
        lambda ds, _: _panel(ds, "tsmon-explorer", "Value vs expected")["targets"][0].update(
            rawSql="SELECT ${series:singlequote}"
        ),
        "use sqlstring or csv",
    ),
    "macro in comment": (
        lambda ds, _: ds[0]["panels"][0]["targets"][0].update(rawSql="SELECT 1 -- $__timeFilter(x)"),
        "SQL comments",
    ),
    "fillBelowTo unknown": (
        lambda ds, _: _panel(ds, "tsmon-explorer", "Value vs expected")["fieldConfig"]["overrides"][0][
            "properties"
        ].append({"id": "custom.fillBelowTo", "value": "lowest"}),
        "'lowest', which the query does not produce",
    ),
    "interval 15s": (lambda _, p: p["groups"][0].update(interval="15s"), "multiple of 10s"),
    "dollar label": (lambda _, p: p["groups"][0]["rules"][0]["labels"].update(team="$TEAM"), "contains $"),
    "two thresholds": (
        lambda _, p: p["groups"][0]["rules"][0]["data"][1]["model"]["conditions"].append({}),
        "exactly one threshold",
    ),
    "bad condition": (lambda _, p: p["groups"][0]["rules"][0].update(condition="Z"), "names no query"),
    "unknown receiver": (lambda _, p: p["policies"][0].update(receiver="nobody"), "unknown contact point"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_static_checks_catch(name: str) -> None:
    change, message = BROKEN[name]
    found = problems_after(change)
    assert any(message in p for p in found), found


def test_check_all_raises_with_every_problem() -> None:
    dashboards = copy.deepcopy(list(dashboard_json().values()))
    dashboards[0]["panels"][0]["type"] = "singlestat"
    with pytest.raises(GrafanaConfigError, match="singlestat"):
        check_all(dashboards, alerting.provisioning())


def test_alerting_provisioning_shape() -> None:
    prov = alerting.provisioning()
    rules = prov["groups"][0]["rules"]
    assert {r["uid"] for r in rules} >= {
        "tsmon-anomaly-critical",
        "tsmon-ingest-stale",
        "tsmon-worker-lag",
        "tsmon-watchdog",
    }
    for r in rules:
        assert {"summary", "description", "runbook_url", "__dashboardUid__"} <= set(r["annotations"])
    anomaly = next(r for r in rules if r["uid"] == "tsmon-anomaly-critical")
    sql = anomaly["data"][0]["model"]["rawSql"]
    assert all(label in sql for label in ("metric", "series", "severity", "host"))
    policy = prov["policies"][0]
    assert policy["group_by"] == ["alertname", "metric", "host"]
    assert {c["name"] for c in prov["contactPoints"]} == {"tsmon", "tsmon-watchdog"}
    kinds = {r["type"] for c in prov["contactPoints"] for r in c["receivers"]}
    assert kinds == {"webhook", "email"}
    assert prov["templates"][0]["template"].count("define") == 2


def test_layout_pictures_fit_and_name_every_panel() -> None:
    for d in dashboard_json().values():
        text = picture(d)
        assert all(len(line) <= 73 for line in text.splitlines()[1:])
        for p in d["panels"]:
            assert p["title"][: p["gridPos"]["w"] * 3 - 3] in text or p["type"] == "row", (
                d["uid"],
                p["title"],
            )


def test_readme_pictures_match_the_dashboards() -> None:
    readme = (REPO / "README.md").read_text()
    for d in dashboard_json().values():
        assert picture(d) in readme, f"README's picture of {d['uid']} is stale: paste `tsmon grafana layout`"


def test_dashboards_and_alerts_share_one_folder() -> None:
    from tsmon.grafana.build import dashboard_provider

    provider = dashboard_provider()["providers"][0]
    assert (
        provider["folder"] == alerting.provisioning()["groups"][0]["folder"] and "folderUid" not in provider
    )


def test_layout_command_prints_every_dashboard() -> None:
    result = CliRunner().invoke(cli, ["grafana", "layout"])
    assert result.exit_code == 0, result.output
    for d in dashboard_json().values():
        assert picture(d) in result.output
