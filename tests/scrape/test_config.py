"""Scrape configuration files: what Prometheus accepts is accepted, with its defaults; errors are located."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.conftest import REPO
from tsmon.scrape.config import ScrapeConfigError, load_scrape_config
from tsmon.scrape.fields import format_duration, parse_duration


def one(text: str) -> list[tuple[str, float, float]]:
    return [(j.job_name, j.interval_s, j.timeout_s) for j in load_scrape_config(text)]


def test_the_timeout_defaults_to_the_global_timeout_within_the_interval() -> None:
    # Prometheus: scrape_timeout defaults to min(global scrape_timeout, the job's scrape_interval).
    assert one(
        "scrape_configs: [{job_name: a, scrape_interval: 5s, static_configs: [{targets: [h:1]}]}]"
    ) == [("a", 5.0, 5.0)]
    assert one(
        "scrape_configs: [{job_name: a, scrape_interval: 1m, static_configs: [{targets: [h:1]}]}]"
    ) == [("a", 60.0, 10.0)]
    text = (
        "global: {scrape_interval: 2s}\nscrape_configs: [{job_name: a, static_configs: [{targets: [h:1]}]}]"
    )
    assert one(text) == [("a", 2.0, 2.0)]
    text = (
        "global: {scrape_interval: 1m, scrape_timeout: 30s}\n"
        "scrape_configs: [{job_name: a, static_configs: [{targets: [h:1]}]},"
        " {job_name: b, scrape_interval: 20s, static_configs: [{targets: [h:1]}]}]"
    )
    assert one(text) == [("a", 60.0, 30.0), ("b", 20.0, 20.0)]
    assert one("scrape_configs: [{job_name: a, static_configs: [{targets: [h:1]}]}]") == [("a", 15.0, 10.0)]


PROMETHEUS_YML = """
global:
  scrape_interval: 15s
  evaluation_interval: 15s
  external_labels: {monitor: codelab}
rule_files: ["rules/*.yml"]
alerting: {alertmanagers: [{static_configs: [{targets: ["am:9093"]}]}]}
scrape_configs:
  - job_name: prometheus
    honor_labels: true
    honor_timestamps: false
    scrape_interval: 5s
    scheme: https
    metrics_path: /federate
    params: {"match[]": ['{job="node"}'], format: [text]}
    basic_auth: {username: admin, password_file: secrets/password}
    tls_config: {insecure_skip_verify: true}
    sample_limit: 10000
    static_configs: [{targets: ["prom:9090"], labels: {team: infra, tier: 1}}]
    relabel_configs:
      - {source_labels: [__address__], regex: "(.*):9090", target_label: host}
      - {action: labeldrop, regex: tier}
    metric_relabel_configs:
      - {source_labels: [__name__], regex: "go_.*", action: drop}
  - job_name: node
    authorization: {credentials_file: /run/secrets/token}
    file_sd_configs:
      - files: ["targets/*.json", "targets/*.yml"]
        refresh_interval: 1m
    kubernetes_sd_configs: [{role: pod}]
    scrape_intervall: 10s
"""


def test_a_prometheus_configuration_is_accepted(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tsmon.scrape"):
        prom, node = load_scrape_config(PROMETHEUS_YML, Path("/etc/prometheus"))
    assert (prom.interval_s, prom.timeout_s, prom.scheme, prom.metrics_path) == (
        5.0,
        5.0,
        "https",
        "/federate",
    )
    assert prom.honor_labels and not prom.honor_timestamps and not node.honor_labels and node.honor_timestamps
    assert prom.params == {"match[]": ('{job="node"}',), "format": ("text",)}
    assert prom.targets[0].labels == {"team": "infra", "tier": "1"}
    assert [r.action for r in prom.relabel_configs] == ["replace", "labeldrop"]
    assert prom.relabel_configs[0].separator == ";" and prom.relabel_configs[0].replacement == "$1"
    assert prom.auth is not None and prom.auth.credentials.file == Path("/etc/prometheus/secrets/password")
    assert node.auth is not None and node.auth.scheme == "Bearer"
    assert node.file_sd_configs[0].files == (
        "/etc/prometheus/targets/*.json",
        "/etc/prometheus/targets/*.yml",
    )
    assert node.file_sd_configs[0].refresh_interval_s == 60.0
    warnings = [r.getMessage() for r in caplog.records]
    for key in (
        "evaluation_interval",
        "external_labels",
        "rule_files",
        "alerting",
        "tls_config",
        "sample_limit",
    ):
        assert any(f": {key} is a Prometheus setting tsmon does not support" in w for w in warnings), key
    assert any("kubernetes_sd_configs is a Prometheus setting" in w for w in warnings)
    assert any("unknown key 'scrape_intervall'" in w for w in warnings)


STATIC = "static_configs: [{targets: [a:1]}]"


@pytest.mark.parametrize(
    ("job", "message"),
    [
        ("job_name: x", r"scrape_configs\[0\] \(x\): no targets"),
        (f"job_name: x, scrape_interval: 5 minutes, {STATIC}", "not a duration"),
        (f"job_name: x, scrape_timeout: 1m, {STATIC}", "longer than"),
        (f"job_name: x, scheme: ftp, {STATIC}", "http or https"),
        (f"job_name: tsmon_self, {STATIC}", "reserved"),
        (f"job_name: x, {STATIC}}}, {{job_name: x, {STATIC}", "share a job_name"),
        (f"job_name: x, honor_labels: yes please, {STATIC}", "honor_labels must be true or false"),
        ("job_name: x, static_configs: [{targets: [a:1], labels: {1a: b}}]", "not a valid label name"),
        (
            f"job_name: x, relabel_configs: [{{action: keep, regex: '['}}], {STATIC}",
            r"relabel_configs\[0\]: regex",
        ),
        (f"job_name: x, metric_relabel_configs: [{{action: hashmod, target_label: h}}], {STATIC}", "modulus"),
        (
            f"job_name: x, basic_auth: {{username: u}}, authorization: {{credentials: c}}, {STATIC}",
            "at most one of basic_auth, authorization",
        ),
        (
            f"job_name: x, basic_auth: {{password: p, password_file: f}}, {STATIC}",
            "at most one of password and password_file",
        ),
        (f"job_name: x, authorization: {{type: basic}}, {STATIC}", "use basic_auth"),
        ("job_name: x, file_sd_configs: [{files: []}]", "at least one path name"),
        ("job_name: x, file_sd_configs: [{files: ['targets/*/a.json']}]", "not valid for file discovery"),
        ("job_name: x, file_sd_configs: [{files: [targets.txt]}]", "not valid for file discovery"),
        (f"job_name: x, scrape_protocols: [Foo], {STATIC}", "unknown scrape protocol"),
        (f"job_name: x, params: {{a: b}}, {STATIC}", "params.a: expected a list"),
    ],
)
def test_invalid_configurations_are_located(job: str, message: str) -> None:
    with pytest.raises(ScrapeConfigError, match=message):
        load_scrape_config(f"scrape_configs: [{{{job}}}]")


def test_invalid_global_settings_are_located() -> None:
    with pytest.raises(ScrapeConfigError, match="global: scrape_timeout is longer"):
        load_scrape_config("global: {scrape_interval: 5s, scrape_timeout: 6s}")
    with pytest.raises(ScrapeConfigError, match="global scrape_interval: '5 s' is not a duration"):
        load_scrape_config("global: {scrape_interval: 5 s}")


def test_durations_as_prometheus_writes_them() -> None:
    for text, seconds in [
        ("15s", 15),
        ("1m30s", 90),
        ("500ms", 0.5),
        ("1h", 3600),
        ("1d", 86400),
        ("2w", 1209600),
    ]:
        assert parse_duration(text, "x") == seconds
        assert format_duration(seconds) == text
    assert parse_duration("1.5s", "x") == 1.5 and parse_duration("0", "x") == 0
    for bad in ("", "15", "1s1m", "5 minutes", "-1s", "1m30"):
        with pytest.raises(ScrapeConfigError, match="not a duration"):
            parse_duration(bad, "x")


def test_the_readme_example_loads() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### Scraping") :]
    example = section[section.index("```yaml\n") + 8 : section.index("```\n", section.index("```yaml\n"))]
    app = {j.job_name: j for j in load_scrape_config(example)}["app"]
    assert (app.interval_s, app.timeout_s, app.scheme) == (5.0, 5.0, "https")
