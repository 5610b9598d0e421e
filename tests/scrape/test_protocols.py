"""The Accept header a scrape sends (Prometheus' acceptHeader) and the format an answer is read in."""

from __future__ import annotations

import pytest

from tsmon.scrape.config import load_scrape_config
from tsmon.scrape.fields import ScrapeConfigError
from tsmon.scrape.protocols import DEFAULT_PROTOCOLS, accept_header, is_openmetrics, parse_protocols

PROMETHEUS_DEFAULT = (
    "OpenMetricsText1.0.0",
    "OpenMetricsText0.0.1",
    "PrometheusText1.0.0",
    "PrometheusText0.0.4",
)


def test_accept_header_as_prometheus_writes_it() -> None:
    assert accept_header(PROMETHEUS_DEFAULT) == (
        "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,"
        "application/openmetrics-text;version=0.0.1;q=0.5,"
        "text/plain;version=1.0.0;escaping=underscores;q=0.4,"
        "text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
    )
    assert accept_header(DEFAULT_PROTOCOLS).startswith(
        "text/plain;version=0.0.4;q=0.6,application/openmetrics"
    )


def test_scrape_protocols_choose_the_order_globally_or_per_job() -> None:
    jobs = load_scrape_config(
        "global: {scrape_protocols: [OpenMetricsText1.0.0, PrometheusProto, PrometheusText0.0.4]}\n"
        "scrape_configs: [{job_name: a, static_configs: [{targets: [h:1]}]},\n"
        "  {job_name: b, scrape_protocols: [PrometheusText1.0.0], static_configs: [{targets: [h:1]}]}]"
    )
    assert jobs[0].accept.startswith("application/openmetrics-text;version=1.0.0")
    assert jobs[1].accept == "text/plain;version=1.0.0;escaping=underscores;q=0.6,*/*;q=0.5"
    with pytest.raises(ScrapeConfigError, match="duplicated protocol"):
        parse_protocols(["PrometheusText0.0.4", "PrometheusText0.0.4"], "x")
    with pytest.raises(ScrapeConfigError, match="none of the protocols"):
        parse_protocols(["PrometheusProto"], "x")


def test_the_content_type_picks_the_parser() -> None:
    assert is_openmetrics("application/openmetrics-text; version=1.0.0; charset=utf-8")
    assert is_openmetrics("Application/OpenMetrics-Text")
    for other in ("text/plain; version=0.0.4", "", None, "application/json"):
        assert not is_openmetrics(other)
