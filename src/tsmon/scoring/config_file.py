"""Detection config files: YAML read safely and every field checked, each error located (configs[i].field)."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any

import numpy as np
import yaml

from tsmon.detection import DETECTORS, make_detector
from tsmon.errors import TsmonError

MATCH_OPS = {"=": "=", "!=": "<>", "=~": "~", "!~": "!~"}
STEP = {"1m": timedelta(minutes=1), "1h": timedelta(hours=1)}
# The detector a config gets when it names none (also the column default, migrations/0006).
DEFAULT_DETECTOR = "onset"
MAX_TEXT_BYTES = 1 << 20
# Values a document may expand to once its aliases are followed: a "billion laughs" of a few hundred
# bytes otherwise becomes millions of values when the configs are stored.
MAX_EXPANDED_VALUES = 100_000
MAX_DURATION = timedelta(days=3650)
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
_DURATION = re.compile(r"^(\d{1,9})\s*(s|m|h|d|w)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
# Durations that must be positive, and the one that may be zero.
_POSITIVE = ("training_window", "retrain_every", "schedule")
FIELDS = {
    "name",
    "metric",
    "matchers",
    "resolution",
    "detector",
    "params",
    "training_window",
    "retrain_every",
    "schedule",
    "sensitivity",
    "min_duration",
    "critical_score",
    "alert_labels",
    "shards",
    "enabled",
}


class DetectionConfigError(TsmonError):
    """A detection config (YAML or row) is invalid; the message names the config and field."""


def load_document(text: str) -> list[Any]:
    """The list under ``configs`` of a YAML text: safe tags only, bounded size and alias expansion."""
    if len(text.encode(errors="replace")) > MAX_TEXT_BYTES:
        raise DetectionConfigError(f"the file is larger than {MAX_TEXT_BYTES} bytes")
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:  # python/object tags included: safe_load refuses them
        raise DetectionConfigError(f"not valid YAML for detection configs: {exc}") from exc
    _check_expansion(doc)
    items = doc.get("configs") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise DetectionConfigError("expected a mapping with a list under `configs`")
    return items


def _check_expansion(doc: Any) -> None:
    """Count values as they would be written out, aliases followed; refuse an alias bomb."""
    stack, seen = [doc], 0
    while stack:
        value = stack.pop()
        seen += 1
        if seen > MAX_EXPANDED_VALUES:
            raise DetectionConfigError(
                f"the document expands to more than {MAX_EXPANDED_VALUES} values (nested YAML aliases?)"
            )
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def duration(value: object, where: str, *, positive: bool) -> timedelta:
    m = _DURATION.match(str(value).strip()) if isinstance(value, str | int) else None
    if not m:
        raise DetectionConfigError(f"{where}: {value!r} is not a duration like 30s, 5m, 1h, 7d")
    seconds = int(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    if seconds > MAX_DURATION.total_seconds():
        raise DetectionConfigError(f"{where}: {value!r} is longer than {MAX_DURATION.days} days")
    if positive and seconds <= 0:
        raise DetectionConfigError(f"{where}: {value!r} must be longer than 0")
    return timedelta(seconds=seconds)


def _number(raw: dict[str, Any], key: str, where: str, lo: float, hi: float, *, hi_open: bool) -> None:
    value = raw.get(key)
    if value is None:
        return
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not lo < value or (value >= hi if hi_open else value > hi):
        bound = f"below {hi}" if hi_open else f"at most {hi}"
        raise DetectionConfigError(f"{where}.{key}: {value!r} must be a number above {lo} and {bound}")


def _labels(value: Any, where: str) -> None:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str) for k, v in value.items()
    ):
        raise DetectionConfigError(f"{where}: must map label names to string values")


def _matchers(value: Any, where: str) -> None:
    if not isinstance(value, list):
        raise DetectionConfigError(f"{where}: must be a list of {{label, op, value}}")
    for i, m in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(m, dict) or set(m) != {"label", "op", "value"}:
            raise DetectionConfigError(f"{at}: a matcher is {{label, op, value}}")
        for key in ("label", "op", "value"):
            if not isinstance(m[key], str):
                raise DetectionConfigError(f"{at}.{key}: must be a string, not {type(m[key]).__name__}")
        if not m["label"] or m["op"] not in MATCH_OPS:
            raise DetectionConfigError(f"{at}: label must be a name and op one of = != =~ !~")


def _detector(raw: dict[str, Any], where: str) -> None:
    """Build the detector from its params and fit it once on a small series: bad params fail here."""
    name, params = raw.get("detector", DEFAULT_DETECTOR), raw.get("params", {})
    if name not in DETECTORS:
        raise DetectionConfigError(f"{where}.detector: must be one of {sorted(DETECTORS)}")
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise DetectionConfigError(f"{where}.params: must be a mapping of parameter names to values")
    step = STEP[raw.get("resolution", "1m")].total_seconds()
    rng = np.random.default_rng(0)
    times = 1.7e9 + step * np.arange(300, dtype=np.float64)
    values = 10.0 + rng.standard_normal(times.size)
    try:
        detector = make_detector(name, **params).fit(values[:240], timestamps=times[:240])
        detector.score_and_bands(values, timestamps=times)
    except Exception as exc:  # any failure here would stop the scoring job; say it now instead
        raise DetectionConfigError(f"{where}.params: {name} does not accept {params!r}: {exc}") from exc


def validate(raw: Any, where: str) -> dict[str, Any]:
    """Check one config mapping (from YAML) and normalise it to column values."""
    if not isinstance(raw, dict):
        raise DetectionConfigError(f"{where}: expected a mapping with name, metric, ...")
    unknown = set(raw) - FIELDS
    if unknown:
        raise DetectionConfigError(f"{where}: unknown keys {sorted(map(str, unknown))}")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise DetectionConfigError(f"{where}.name: a name of letters, digits and _ . : - is required")
    where = f"{where} ({name})"
    if not isinstance(raw.get("metric"), str) or not raw["metric"]:
        raise DetectionConfigError(f"{where}.metric: a metric name is required")
    if raw.get("resolution", "1m") not in STEP:
        raise DetectionConfigError(f"{where}.resolution: must be 1m or 1h")
    _matchers(raw.get("matchers", []), f"{where}.matchers")
    _labels(raw.get("alert_labels", {}), f"{where}.alert_labels")
    _number(raw, "sensitivity", where, 0, 1, hi_open=True)
    _number(raw, "critical_score", where, 0, 1, hi_open=False)
    shards = raw.get("shards", 8)
    if not isinstance(shards, int) or isinstance(shards, bool) or not 1 <= shards <= 1024:
        raise DetectionConfigError(f"{where}.shards: {shards!r} must be a whole number from 1 to 1024")
    if not isinstance(raw.get("enabled", True), bool):
        raise DetectionConfigError(f"{where}.enabled: {raw['enabled']!r} must be true or false")
    out = dict(raw)
    for key in ("training_window", "retrain_every", "schedule", "min_duration"):
        if key in out:
            out[key] = duration(out[key], f"{where}.{key}", positive=key in _POSITIVE)
    _detector(raw, where)
    return out
