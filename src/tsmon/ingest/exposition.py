"""Prometheus text exposition: parse into sample batches (via prometheus_client) and write back."""

from __future__ import annotations

import json
import math

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Timestamp

from tsmon.ingest.batch import ParseResult, Rejection, SampleBatch, canonical_labels

# OpenMetrics' *_created samples are creation timestamps, not values of the series.
_SKIP_SUFFIX = "_created"


def _timestamp_us(ts: float | Timestamp | None, default_us: int) -> int:
    if ts is None:
        return default_us
    if isinstance(ts, Timestamp):  # OpenMetrics
        return ts.sec * 1_000_000 + ts.nsec // 1_000
    return round(float(ts) * 1_000_000)


def _add(text: str, out: ParseResult, default_us: int, target_labels: dict[str, str]) -> None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.endswith(_SKIP_SUFFIX):
                out.skipped["created_timestamp"] = out.skipped.get("created_timestamp", 0) + 1
                continue
            labels = dict(s.labels)
            for name, value in target_labels.items():
                if name in labels:  # Prometheus' honor_labels: false
                    labels[f"exported_{name}"] = labels[name]
                labels[name] = value
            out.batch.append(
                s.name, canonical_labels(labels), _timestamp_us(s.timestamp, default_us), float(s.value)
            )


def parse_exposition(
    text: str, default_time_us: int, target_labels: dict[str, str] | None = None, first_line: int = 1
) -> ParseResult:
    """Samples of a /metrics text. Samples without a timestamp get ``default_time_us``.

    A malformed text is re-read line by line so every bad line is located and the good ones kept.
    """
    out = ParseResult()
    labels = target_labels or {}
    try:
        _add(text, out, default_time_us, labels)
        return out
    except (ValueError, TypeError, IndexError):
        out = ParseResult()
    for offset, line in enumerate(text.splitlines()):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            _add(line + "\n", out, default_time_us, labels)
        except (ValueError, TypeError, IndexError) as exc:
            out.rejections.append(Rejection(f"line {first_line + offset}", f"not a valid sample line: {exc}"))
    return out


def _format_value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def format_exposition(batch: SampleBatch) -> str:
    """The batch as exposition lines with millisecond timestamps; parse_exposition reads it back."""
    lines = []
    for metric, labels, t, v in zip(batch.metrics, batch.labels, batch.times_us, batch.values, strict=True):
        pairs = ",".join(f'{k}="{_escape(val)}"' for k, val in sorted(json.loads(labels).items()))
        lines.append(f"{metric}{{{pairs}}} {_format_value(v)} {t // 1000}\n")
    return "".join(lines)
