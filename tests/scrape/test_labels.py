"""Target and sample labels as Prometheus builds them (target.go PopulateLabels, mutateSampleLabels)."""

from __future__ import annotations

import pytest

from tsmon.scrape.config import ScrapeConfigError, ScrapeJob, load_scrape_config
from tsmon.scrape.labels import resolve_target, sample_labels
from tsmon.scrape.targets import Target


def job(extra: str) -> ScrapeJob:
    return load_scrape_config(
        f"scrape_configs: [{{job_name: node, static_configs: [{{targets: [h:1]}}], {extra}}}]"
    )[0]


def test_a_target_gets_job_and_instance_and_no_internal_labels() -> None:
    target = resolve_target(
        job("scrape_interval: 30s"), Target("web1:9100", {"env": "prod", "__meta_x": "y"})
    )
    assert target is not None
    assert target.labels == {"job": "node", "instance": "web1:9100", "env": "prod"}
    assert (target.url, target.timeout_s) == ("http://web1:9100/metrics", 10.0)


def test_relabel_configs_see_and_set_the_internal_labels() -> None:
    rules = """relabel_configs: [
        {source_labels: [__scrape_interval__, __scrape_timeout__, __metrics_path__, __scheme__],
         target_label: seen},
        {source_labels: [__address__], regex: '([^:]+):\\d+', target_label: __address__,
         replacement: '$1:9200'},
        {source_labels: [__meta_path], target_label: __metrics_path__},
        {target_label: __scheme__, replacement: https},
        {target_label: __param_module, replacement: if_mib},
        {source_labels: [__meta_host], target_label: instance},
        {target_label: __scrape_timeout__, replacement: 3s},
        {regex: '__meta_(team)', action: labelmap}],
        params: {module: [default], target: [a, b]}"""
    discovered = Target("web1:9100", {"__meta_path": "/snmp", "__meta_host": "web1", "__meta_team": "db"})
    target = resolve_target(job(rules), discovered)
    assert target is not None
    assert target.labels == {"job": "node", "instance": "web1", "seen": "15s;10s;/metrics;http", "team": "db"}
    assert target.url == "https://web1:9200/snmp?module=if_mib&target=a&target=b"
    assert target.timeout_s == 3.0


def test_relabel_configs_may_drop_a_target_or_break_it() -> None:
    drop = job("relabel_configs: [{source_labels: [env], regex: dev, action: drop}]")
    assert resolve_target(drop, Target("a:1", {"env": "dev"})) is None
    assert resolve_target(drop, Target("a:1", {"env": "prod"})) is not None
    for rule, message in [
        ("{target_label: __address__, replacement: ''}", "no address"),
        ("{target_label: __address__, replacement: 'a:1/x'}", "not a valid hostname"),
        ("{target_label: __scheme__, replacement: ftp}", "not http or https"),
        ("{target_label: __scrape_timeout__, replacement: 1m}", "within the interval"),
    ]:
        with pytest.raises(ScrapeConfigError, match=message):
            resolve_target(job(f"relabel_configs: [{rule}]"), Target("a:1"))


def test_sample_labels_with_and_without_honor_labels() -> None:
    target = {"job": "node", "instance": "a:1"}
    exposed = {"job": "app", "exported_job": "older", "x": "1"}
    assert sample_labels(dict(exposed), target, honor_labels=False) == {
        "job": "node",
        "instance": "a:1",
        "exported_job": "older",
        "exported_exported_job": "app",
        "x": "1",
    }
    assert sample_labels(dict(exposed), target, honor_labels=True) == {**exposed, "instance": "a:1"}
