"""Exposition formats: what a scrape asks for (scrape_protocols -> Accept) and how it reads the answer."""

from __future__ import annotations

import logging

from tsmon.scrape.fields import ScrapeConfigError, items

log = logging.getLogger("tsmon.scrape")

# Prometheus' config.ScrapeProtocolsHeaders, less the protobuf format tsmon does not read.
HEADERS = {
    "PrometheusText0.0.4": "text/plain;version=0.0.4",
    "PrometheusText1.0.0": "text/plain;version=1.0.0",
    "OpenMetricsText0.0.1": "application/openmetrics-text;version=0.0.1",
    "OpenMetricsText1.0.0": "application/openmetrics-text;version=1.0.0",
}
# tsmon asks for the text format first, so that a target's series keep the names they have always
# had (OpenMetrics renames some counters); `scrape_protocols` changes the order, as in Prometheus.
DEFAULT_PROTOCOLS = ("PrometheusText0.0.4", "OpenMetricsText1.0.0")
OPENMETRICS = "application/openmetrics-text"


def parse_protocols(raw: object, where: str) -> tuple[str, ...]:
    """The protocols of a `scrape_protocols` list (empty: unset); PrometheusProto is skipped (warning)."""
    out: list[str] = []
    for name in items(raw, where):
        if name == "PrometheusProto":
            log.warning("scrape config %s: PrometheusProto is not supported by tsmon; skipped", where)
        elif name in HEADERS:
            if name in out:
                raise ScrapeConfigError(f"{where}: duplicated protocol in scrape_protocols: {name}")
            out.append(name)
        else:
            raise ScrapeConfigError(
                f"{where}: unknown scrape protocol {name!r}, supported: {sorted(HEADERS)}"
            )
    if items(raw, where) and not out:
        raise ScrapeConfigError(f"{where}: none of the protocols is one tsmon reads: {sorted(HEADERS)}")
    return tuple(out)


def accept_header(protocols: tuple[str, ...]) -> str:
    """Prometheus' acceptHeader (legacy name validation): the protocols with falling q values, then */*."""
    weight = len(HEADERS) + 2  # Prometheus counts the protobuf format too
    parts = []
    for name in protocols:
        # tsmon's label names are Prometheus' legacy ones: ask for UTF-8 names escaped to underscores.
        escaping = ";escaping=underscores" if name.endswith("1.0.0") else ""
        parts.append(f"{HEADERS[name]}{escaping};q=0.{weight}")
        weight -= 1
    return ",".join([*parts, f"*/*;q=0.{weight}"])


def is_openmetrics(content_type: str | None) -> bool:
    """The answer's Content-Type picks the parser: OpenMetrics, else the Prometheus text format."""
    return (content_type or "").split(";", 1)[0].strip().lower() == OPENMETRICS
