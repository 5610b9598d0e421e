"""Typed fields of a scrape configuration with located errors; keys tsmon does not use are warnings."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from tsmon.errors import TsmonError

log = logging.getLogger("tsmon.scrape")

# Prometheus' model.ParseDuration (units in descending order, each at most once), plus the
# single decimal number ("1.5s") tsmon has always taken.
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_DECIMAL = re.compile(r"^(\d+\.\d+)(ms|s|m|h|d|w|y)$")
_UNITS: tuple[tuple[str, int], ...] = (("y", 365 * 86_400_000), ("w", 7 * 86_400_000), ("d", 86_400_000))
_UNITS += (("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1))
_UNIT_MS = dict(_UNITS)


class ScrapeConfigError(TsmonError):
    """The scrape configuration file is invalid (says which job and field)."""


def parse_duration(text: object, where: str) -> float:
    """Seconds of a Prometheus duration: 15s, 1m30s, 500ms, 1d, 0."""
    value = str(text).strip()
    if value == "0":
        return 0.0
    decimal = _DECIMAL.match(value)
    if decimal:
        return float(decimal.group(1)) * _UNIT_MS[decimal.group(2)] / 1000
    m = _DURATION.match(value)
    if not value or not m or not any(m.groups()):
        raise ScrapeConfigError(f"{where}: {text!r} is not a duration like 15s, 1m30s or 500ms")
    return sum(int(n) * ms for n, (_, ms) in zip(m.groups(), _UNITS, strict=True) if n) / 1000


def format_duration(seconds: float) -> str:
    """A duration as Prometheus writes it (the `__scrape_interval__` label): 15s, 1m30s, 500ms."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    out = ""
    for unit, size in _UNITS:
        if ms >= size:
            out += f"{ms // size}{unit}"
            ms %= size
    return out


def names(text: str) -> frozenset[str]:
    """Key names written as one space-separated string."""
    return frozenset(text.split())


def mapping(raw: object, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ScrapeConfigError(f"{where}: expected a mapping, got {type(raw).__name__}")
    return raw


def items(raw: object, where: str) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ScrapeConfigError(f"{where}: expected a list, got {type(raw).__name__}")
    return raw


def string(raw: dict[str, Any], key: str, where: str, default: str = "") -> str:
    value = raw.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ScrapeConfigError(f"{where}: {key} must be a string, got {type(value).__name__}")
    return str(value)


def boolean(raw: dict[str, Any], key: str, where: str, default: bool) -> bool:
    value = raw.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ScrapeConfigError(f"{where}: {key} must be true or false, got {value!r}")
    return value


def label_value(value: object, where: str) -> str:
    """A label value as Prometheus' YAML reads it into a string: scalars keep their text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise ScrapeConfigError(f"{where}: label values must be strings, got {type(value).__name__}")


def warn_keys(raw: dict[str, Any], used: Iterable[str], prometheus: Iterable[str], where: str) -> list[str]:
    """Log (and return) one warning per key tsmon does not use, naming it: Prometheus' own, or unknown."""
    known, theirs = set(used), set(prometheus)
    warnings = []
    for key in raw:
        if key in known:
            continue
        if key in theirs or str(key).endswith("_sd_configs"):
            warnings.append(f"{where}: {key} is a Prometheus setting tsmon does not support; ignored")
        else:
            warnings.append(f"{where}: unknown key {key!r}; ignored")
    for warning in warnings:
        log.warning("scrape config %s", warning)
    return warnings
