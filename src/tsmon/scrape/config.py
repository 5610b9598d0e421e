"""Scrape configuration: a Prometheus YAML file of jobs; what Prometheus accepts, tsmon accepts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tsmon.scrape.auth import AUTH_KEYS, HttpAuth, parse_auth
from tsmon.scrape.fields import (
    ScrapeConfigError,
    boolean,
    items,
    mapping,
    names,
    parse_duration,
    string,
    warn_keys,
)
from tsmon.scrape.protocols import DEFAULT_PROTOCOLS, accept_header, parse_protocols
from tsmon.scrape.relabel import RelabelConfig, parse_relabel_configs
from tsmon.scrape.targets import FileSDConfig, Target, parse_file_sd_configs, parse_static_configs

__all__ = ["ScrapeConfigError", "ScrapeJob", "Target", "load_scrape_config"]

_JOB_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_.-]*$")
DEFAULT_INTERVAL_S = 15.0  # tsmon's default (Prometheus': 1m); the timeout defaults as Prometheus' does
DEFAULT_TIMEOUT_S = 10.0
# The job names of tsmon's own collectors (README, "Series identity"): a scrape file cannot take them,
# so nothing scraped from outside lands in their series.
SELF_JOB, HOST_JOB, WORKER_JOB = "tsmon_self", "tsmon_host", "tsmon_worker"
RESERVED_JOBS = frozenset({SELF_JOB, HOST_JOB, WORKER_JOB})

# The keys tsmon reads, and Prometheus' other keys (config.go, HTTPClientConfig): those are accepted with
# a warning that names them, as is any unknown key.
_JOB_KEYS = names(
    "job_name scrape_interval scrape_timeout metrics_path scheme params honor_labels honor_timestamps "
    "track_timestamps_staleness relabel_configs metric_relabel_configs static_configs file_sd_configs "
    "scrape_protocols follow_redirects enable_compression"
) | set(AUTH_KEYS)
_PROMETHEUS_JOB_KEYS = names(
    "fallback_scrape_protocol scrape_native_histograms always_scrape_classic_histograms "
    "convert_classic_histograms_to_nhcb scrape_failure_log_file body_size_limit sample_limit target_limit "
    "label_limit label_name_length_limit label_value_length_limit native_histogram_bucket_limit "
    "native_histogram_min_bucket_factor keep_dropped_targets metric_name_validation_scheme "
    "metric_name_escaping_scheme extra_scrape_metrics oauth2 tls_config proxy_url no_proxy "
    "proxy_from_environment proxy_connect_header http_headers enable_http2"
)
_GLOBAL_KEYS = names("scrape_interval scrape_timeout scrape_protocols")
_PROMETHEUS_GLOBAL_KEYS = names(
    "evaluation_interval rule_query_offset query_log_file scrape_failure_log_file external_labels "
    "body_size_limit sample_limit target_limit label_limit label_name_length_limit label_value_length_limit "
    "keep_dropped_targets metric_name_validation_scheme metric_name_escaping_scheme scrape_native_histograms "
    "convert_classic_histograms_to_nhcb always_scrape_classic_histograms extra_scrape_metrics"
)
_PROMETHEUS_TOP_KEYS = names(
    "runtime alerting rule_files scrape_config_files storage tracing remote_write remote_read otlp"
)


@dataclass(frozen=True)
class ScrapeJob:
    job_name: str
    targets: tuple[Target, ...] = ()  # static_configs
    interval_s: float = DEFAULT_INTERVAL_S
    timeout_s: float = DEFAULT_TIMEOUT_S
    metrics_path: str = "/metrics"
    scheme: str = "http"
    params: dict[str, tuple[str, ...]] = field(default_factory=dict)
    honor_labels: bool = False
    honor_timestamps: bool = True
    track_timestamps_staleness: bool = False
    relabel_configs: tuple[RelabelConfig, ...] = ()
    metric_relabel_configs: tuple[RelabelConfig, ...] = ()
    file_sd_configs: tuple[FileSDConfig, ...] = ()
    auth: HttpAuth | None = None
    accept: str = accept_header(DEFAULT_PROTOCOLS)
    follow_redirects: bool = True
    enable_compression: bool = True


def _params(raw: object, where: str) -> dict[str, tuple[str, ...]]:
    out = {}
    for name, values in mapping(raw, where).items():
        if not isinstance(values, list) or not all(isinstance(v, str | int | float) for v in values):
            raise ScrapeConfigError(f"{where}.{name}: expected a list of strings")
        out[str(name)] = tuple(str(v) for v in values)
    return out


def _job(raw: Any, n: int, defaults: dict[str, Any], base: Path) -> ScrapeJob:
    job = mapping(raw, f"scrape_configs[{n}]")
    name = job.get("job_name")
    if not isinstance(name, str) or not _JOB_NAME.match(name):
        raise ScrapeConfigError(f"scrape_configs[{n}]: job_name must be a name like node or my_app")
    where = f"scrape_configs[{n}] ({name})"
    if name in RESERVED_JOBS:
        raise ScrapeConfigError(f"{where}: job_name {name} is reserved for tsmon's own series; pick another")
    warn_keys(job, _JOB_KEYS, _PROMETHEUS_JOB_KEYS, where)
    interval: float = defaults["interval"]
    if job.get("scrape_interval") is not None:
        interval = parse_duration(job["scrape_interval"], f"{where} scrape_interval")
    if "scrape_timeout" in job and job["scrape_timeout"] is not None:
        timeout = parse_duration(job["scrape_timeout"], f"{where} scrape_timeout")
        if timeout > interval:
            raise ScrapeConfigError(f"{where}: scrape_timeout is longer than scrape_interval")
    else:  # Prometheus: the smaller of the global timeout and this job's interval
        timeout = min(defaults["timeout"], interval)
    scheme = string(job, "scheme", where, "http")
    if scheme not in {"http", "https"}:
        raise ScrapeConfigError(f"{where}: scheme must be http or https")
    path = string(job, "metrics_path", where, "/metrics")
    static = parse_static_configs(job.get("static_configs"), f"{where} static_configs")
    file_sd = parse_file_sd_configs(job.get("file_sd_configs"), f"{where} file_sd_configs", base)
    if not static and not file_sd:
        raise ScrapeConfigError(f"{where}: no targets (static_configs[].targets or file_sd_configs)")
    protocols = parse_protocols(job.get("scrape_protocols"), f"{where} scrape_protocols")
    return ScrapeJob(
        name,
        static,
        interval,
        timeout,
        path if path.startswith("/") else f"/{path}",
        scheme,
        _params(job.get("params"), f"{where} params"),
        boolean(job, "honor_labels", where, False),
        boolean(job, "honor_timestamps", where, True),
        boolean(job, "track_timestamps_staleness", where, False),
        parse_relabel_configs(job.get("relabel_configs"), f"{where} relabel_configs"),
        parse_relabel_configs(job.get("metric_relabel_configs"), f"{where} metric_relabel_configs"),
        file_sd,
        parse_auth(job, where, base),
        accept_header(protocols or defaults["protocols"]),
        boolean(job, "follow_redirects", where, True),
        boolean(job, "enable_compression", where, True),
    )


def _defaults(raw: object) -> dict[str, Any]:
    glob = mapping(raw, "global")
    warn_keys(glob, _GLOBAL_KEYS, _PROMETHEUS_GLOBAL_KEYS, "global")
    interval = parse_duration(glob.get("scrape_interval") or "15s", "global scrape_interval")
    if glob.get("scrape_timeout") is None:
        timeout = min(DEFAULT_TIMEOUT_S, interval)
    else:
        timeout = parse_duration(glob["scrape_timeout"], "global scrape_timeout")
        if timeout > interval:
            raise ScrapeConfigError("global: scrape_timeout is longer than scrape_interval")
    protocols = parse_protocols(glob.get("scrape_protocols"), "global scrape_protocols")
    return {"interval": interval, "timeout": timeout, "protocols": protocols or DEFAULT_PROTOCOLS}


def load_scrape_config(text: str, base: Path | None = None) -> list[ScrapeJob]:
    """Jobs from a Prometheus configuration's `global` and `scrape_configs`.

    A key tsmon does not use (Prometheus' own, or unknown) is a logged warning naming it, never an error.

    Relative file names (file_sd_configs, password and credentials files) are relative to ``base``,
    the configuration file's directory.
    """
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ScrapeConfigError(f"not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise ScrapeConfigError("expected a mapping with scrape_configs")
    warn_keys(doc, ("global", "scrape_configs"), _PROMETHEUS_TOP_KEYS, "top level")
    defaults = _defaults(doc.get("global"))
    base = base or Path.cwd()
    raw_jobs = items(doc.get("scrape_configs"), "scrape_configs")
    jobs = [_job(raw, n, defaults, base) for n, raw in enumerate(raw_jobs)]
    names = [j.job_name for j in jobs]
    if len(set(names)) != len(names):
        raise ScrapeConfigError("two scrape_configs share a job_name")
    return jobs


def load_scrape_file(path: Path) -> list[ScrapeJob]:
    try:
        return load_scrape_config(path.read_text(), path.parent)
    except OSError as exc:
        raise ScrapeConfigError(f"{path}: cannot read: {exc.strerror}") from exc
