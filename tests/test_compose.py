"""docker-compose.yml, Dockerfile and Grafana provisioning checked structurally (no Docker engine here)."""

from __future__ import annotations

import re
import shlex
from typing import Any
from urllib.parse import urlsplit

import click
import yaml

from tests.conftest import REPO
from tsmon.cli import cli
from tsmon.scrape.own import jobs_from_settings
from tsmon.settings import Settings

VAR = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::?[-?][^}]*)?\}")


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return data


def test_images_are_pinned() -> None:
    for name, svc in compose()["services"].items():
        image = svc.get("image", "")
        assert image, f"service {name} names no image"
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest" and re.search(r"\d", tag), (
            f"{name}: image {image} is not pinned"
        )
    assert compose()["services"]["timescaledb"]["image"].startswith("timescale/timescaledb-ha:pg1")
    pg_major = int(re.search(r":pg(\d+)", compose()["services"]["timescaledb"]["image"]).group(1))  # type: ignore[union-attr]
    assert pg_major >= 16
    assert re.match(r"grafana/grafana-oss:12\.\d+\.\d+$", compose()["services"]["grafana"]["image"])


def test_every_mounted_file_exists() -> None:
    for name, svc in compose()["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (REPO / source).exists(), f"{name} mounts {source}, which does not exist"


def test_every_variable_is_documented() -> None:
    documented = {
        line.split("=", 1)[0]
        for line in (REPO / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    used = set(VAR.findall((REPO / "docker-compose.yml").read_text()))
    assert used, "the compose file takes no secrets from the environment?"
    assert used <= documented, f"undocumented in .env.example: {sorted(used - documented)}"
    # Secrets must be required, never defaulted to something guessable.
    for secret in ("POSTGRES_PASSWORD", "TSMON_READER_PASSWORD", "TSMON_API_TOKEN", "GRAFANA_ADMIN_PASSWORD"):
        assert f"${{{secret}:?" in (REPO / "docker-compose.yml").read_text()


def test_every_command_exists_in_the_cli() -> None:
    tsmon_services = {n: s for n, s in compose()["services"].items() if s["image"].startswith("tsmon:")}
    assert set(tsmon_services) == {"migrate", "api", "worker", "demo"}
    ctx = click.Context(cli)
    for name, svc in tsmon_services.items():
        command = svc["command"]
        args = shlex.split(command) if isinstance(command, str) else list(command)
        sub = cli.get_command(ctx, args[0])
        assert sub is not None, f"{name}: `tsmon {args[0]}` does not exist"
        sub.make_context(args[0], args[1:])  # raises on unknown options


def test_startup_order_and_healthchecks() -> None:
    services = compose()["services"]
    assert services["migrate"]["depends_on"]["timescaledb"]["condition"] == "service_healthy"
    for name in ("api", "worker", "grafana"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name in ("timescaledb", "api", "grafana"):
        assert "test" in services[name]["healthcheck"], f"{name} has no healthcheck"


def test_dockerfile_copies_what_exists_and_installs_schema() -> None:
    text = (REPO / "Dockerfile").read_text()
    for line in text.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), f"Dockerfile copies missing {source}"
    assert 'ENTRYPOINT ["tsmon"]' in text
    pyproject = (REPO / "pyproject.toml").read_text()
    assert (
        '"migrations" = "tsmon/_schema/migrations"' in pyproject
        and '"sql" = "tsmon/_schema/sql"' in pyproject
    )


def test_grafana_datasource_provisioning() -> None:
    for path in (REPO / "grafana" / "provisioning").rglob("*"):
        if path.is_file():
            assert path.suffix in {".yaml", ".yml", ".json"}, f"{path}: Grafana refuses to start on this file"
    ds = yaml.safe_load((REPO / "grafana/provisioning/datasources/tsmon.yaml").read_text())["datasources"][0]
    assert ds["type"] == "grafana-postgresql-datasource"
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", ds["uid"])
    assert "database" not in ds and ds["jsonData"]["database"]
    assert ds["jsonData"]["timescaledb"] is True and ds["user"] == "tsmon_reader"
    assert "://" not in ds["url"]
    grafana_env = compose()["services"]["grafana"]["environment"]
    for var in VAR.findall((REPO / "grafana/provisioning/datasources/tsmon.yaml").read_text()):
        assert var in grafana_env, f"datasource uses ${{{var}}}, which Grafana's environment lacks"


def test_grafana_mounts_dashboards_where_the_provider_reads_them() -> None:
    grafana = compose()["services"]["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"] if v.startswith("./")}
    assert mounts["/etc/grafana/provisioning"] == "./grafana/provisioning"
    provider = yaml.safe_load((REPO / "grafana/provisioning/dashboards/tsmon.yaml").read_text())["providers"][
        0
    ]
    assert provider["type"] == "file" and provider["options"]["path"] in mounts
    assert mounts[provider["options"]["path"]] == "./grafana/dashboards"
    assert list((REPO / "grafana/dashboards").glob("*.json")), "no dashboards to provision"
    if provider["options"].get("foldersFromFilesStructure"):
        assert not provider.get("folder") and not provider.get("folderUid")


def test_grafana_provisioning_references_resolve() -> None:
    ds_uid = yaml.safe_load((REPO / "grafana/provisioning/datasources/tsmon.yaml").read_text())[
        "datasources"
    ][0]["uid"]
    for path in (REPO / "grafana/dashboards").glob("*.json"):
        text = path.read_text()
        uids = set(re.findall(r'"uid": "([^"]+)"', text)) - {path.stem, "-- Grafana --"}
        assert uids == {ds_uid}, f"{path.name} references datasources {uids}"
    alerting = (REPO / "grafana/provisioning/alerting/tsmon.yaml").read_text()
    assert f"datasourceUid: {ds_uid}" in alerting
    grafana_env = compose()["services"]["grafana"]["environment"]
    for var in VAR.findall(alerting):
        assert var in grafana_env, f"alerting uses ${{{var}}}, which Grafana's environment lacks"


def test_demo_profile_feeds_the_workload() -> None:
    services = compose()["services"]
    demo = services["demo"]
    assert demo["profiles"] == ["demo"] and demo["command"] == ["demo"]
    assert demo["environment"]["TSMON_DEMO"] == "true"
    assert demo["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "TSMON_DEMO" not in services["worker"].get("environment", {}), "two feeders would race"
    for name, svc in services.items():
        if name != "demo":
            assert "profiles" not in svc, f"{name} must start without a profile"


def test_the_worker_self_scrape_reaches_the_api_service() -> None:
    services = compose()["services"]
    worker, api = services["worker"], services["api"]
    assert "TSMON_DATABASE_URL" in worker["environment"], "the worker's environment lost the shared part"
    url = worker["environment"]["TSMON_SELF_SCRAPE_URL"]
    args = api["command"]
    assert args[args.index("--host") + 1] == "0.0.0.0"  # reachable from the other containers
    (job,) = jobs_from_settings(Settings(_env_file=None, self_scrape_url=url))  # type: ignore[call-arg]
    assert job.job_name == "tsmon_self"
    assert job.targets[0].address == f"api:{args[args.index('--port') + 1]}"
    assert urlsplit(url).path == "/metrics"
