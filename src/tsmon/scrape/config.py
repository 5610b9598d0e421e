"""Scrape configuration: a Prometheus-like YAML file of jobs, targets, intervals and extra labels."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tsmon.errors import TsmonError

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_JOB_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_.-]*$")


class ScrapeConfigError(TsmonError):
    """The scrape configuration file is invalid (says which job and field)."""


@dataclass(frozen=True)
class Target:
    address: str  # host:port, the `instance` label
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ScrapeJob:
    job_name: str
    targets: tuple[Target, ...]
    interval_s: float = 15.0
    timeout_s: float = 10.0
    metrics_path: str = "/metrics"
    scheme: str = "http"

    def url(self, target: Target) -> str:
        return f"{self.scheme}://{target.address}{self.metrics_path}"


def parse_duration(text: str, where: str) -> float:
    m = _DURATION.match(str(text).strip())
    if not m:
        raise ScrapeConfigError(f"{where}: {text!r} is not a duration like 15s, 1m or 500ms")
    return float(m.group(1)) * _UNIT_SECONDS[m.group(2)]


def _job(raw: Any, n: int, defaults: dict[str, Any]) -> ScrapeJob:
    if not isinstance(raw, dict):
        raise ScrapeConfigError(f"scrape_configs[{n}]: expected a mapping")
    name = raw.get("job_name")
    where = f"scrape_configs[{n}] ({name})"
    if not isinstance(name, str) or not _JOB_NAME.match(name):
        raise ScrapeConfigError(f"scrape_configs[{n}]: job_name must be a name like node or my_app")
    unknown = set(raw) - {
        "job_name",
        "scrape_interval",
        "scrape_timeout",
        "metrics_path",
        "scheme",
        "static_configs",
    }
    if unknown:
        raise ScrapeConfigError(f"{where}: unknown keys {sorted(unknown)}")
    interval = parse_duration(raw.get("scrape_interval", defaults.get("scrape_interval", "15s")), where)
    timeout = parse_duration(raw.get("scrape_timeout", defaults.get("scrape_timeout", "10s")), where)
    if timeout > interval:
        raise ScrapeConfigError(f"{where}: scrape_timeout is longer than scrape_interval")
    scheme = raw.get("scheme", "http")
    if scheme not in {"http", "https"}:
        raise ScrapeConfigError(f"{where}: scheme must be http or https")
    targets: list[Target] = []
    for i, sc in enumerate(raw.get("static_configs") or []):
        addresses, labels = sc.get("targets") or [], sc.get("labels") or {}
        if not all(isinstance(a, str) and a for a in addresses):
            raise ScrapeConfigError(f"{where}: static_configs[{i}].targets must be host:port strings")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
            raise ScrapeConfigError(f"{where}: static_configs[{i}].labels must map names to strings")
        targets += [Target(a, dict(labels)) for a in addresses]
    if not targets:
        raise ScrapeConfigError(f"{where}: no targets (static_configs[].targets)")
    path = raw.get("metrics_path", "/metrics")
    return ScrapeJob(
        name, tuple(targets), interval, timeout, path if path.startswith("/") else f"/{path}", scheme
    )


def load_scrape_config(text: str) -> list[ScrapeJob]:
    """Jobs from YAML text: `global: {scrape_interval, scrape_timeout}` and `scrape_configs: [...]`."""
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ScrapeConfigError(f"not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise ScrapeConfigError("expected a mapping with scrape_configs")
    defaults = doc.get("global") or {}
    jobs = [_job(raw, n, defaults) for n, raw in enumerate(doc.get("scrape_configs") or [])]
    names = [j.job_name for j in jobs]
    if len(set(names)) != len(names):
        raise ScrapeConfigError("two scrape_configs share a job_name")
    return jobs


def default_jobs(api_host: str, api_port: int) -> list[ScrapeJob]:
    """With no file: tsmon's own API metrics (the host itself is collected by the worker directly)."""
    host = "127.0.0.1" if api_host in {"0.0.0.0", "::", ""} else api_host  # noqa: S104 - compared, not bound
    return [ScrapeJob("tsmon", (Target(f"{host}:{api_port}"),), interval_s=15.0, timeout_s=5.0)]


def jobs_from_settings(path: Path | None, api_host: str, api_port: int) -> list[ScrapeJob]:
    if path is None:
        return default_jobs(api_host, api_port)
    try:
        return load_scrape_config(path.read_text())
    except OSError as exc:
        raise ScrapeConfigError(f"{path}: cannot read: {exc.strerror}") from exc
