"""Prometheus text and OpenMetrics exposition: parse into samples (via prometheus_client) and write back."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families as text_families
from prometheus_client.samples import Timestamp

from tsmon.ingest.batch import ParseResult, Rejection, SampleBatch, canonical_labels

# OpenMetrics' *_created samples are creation timestamps, not values of the series.
_SKIP_SUFFIX = "_created"

# (name, labels, explicit time in µs or None, value)
Exposed = tuple[str, dict[str, str], int | None, float]


@dataclass
class Exposition:
    """What a /metrics text holds: its samples, its bad lines (located) and what was left out, by reason."""

    samples: list[Exposed] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)


def _timestamp_us(ts: float | Timestamp | None) -> int | None:
    if ts is None:
        return None
    if isinstance(ts, Timestamp):  # OpenMetrics: seconds (sec + nsec)
        return ts.sec * 1_000_000 + ts.nsec // 1_000
    # The text format's milliseconds, which prometheus_client's text parser hands back as seconds.
    return round(float(ts) * 1_000_000)


def _add(families: Iterable[Metric], out: Exposition) -> None:
    for family in families:
        for s in family.samples:
            if s.name.endswith(_SKIP_SUFFIX):
                out.skipped["created_timestamp"] = out.skipped.get("created_timestamp", 0) + 1
                continue
            if s.exemplar is not None:  # kept apart by the parser: never the sample's own time or value
                out.skipped["exemplar"] = out.skipped.get("exemplar", 0) + 1
            # Prometheus: an empty label value is an absent label (remote write never sends one).
            labels = {name: value for name, value in s.labels.items() if value}
            out.samples.append((s.name, labels, _timestamp_us(s.timestamp), float(s.value)))


def read_exposition(text: str, openmetrics: bool = False, first_line: int = 1) -> Exposition:
    """The samples of a /metrics text, in the Prometheus text format or (``openmetrics``) OpenMetrics.

    Labels with an empty value are left out. Timestamps are milliseconds in the text format and
    seconds in OpenMetrics. A malformed text is
    re-read line by line so every bad line is located and the good ones kept.
    """
    parse: Callable[[str], Iterable[Metric]] = openmetrics_families if openmetrics else text_families
    end = "# EOF\n" if openmetrics else ""
    out = Exposition()
    try:
        _add(parse(text), out)
        return out
    except (ValueError, TypeError, IndexError):
        out = Exposition()
    for offset, line in enumerate(text.splitlines()):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            _add(parse(line + "\n" + end), out)
        except (ValueError, TypeError, IndexError) as exc:
            out.rejections.append(Rejection(f"line {first_line + offset}", f"not a valid sample line: {exc}"))
    if openmetrics and text.rstrip("\n").rsplit("\n", 1)[-1] != "# EOF":
        # OpenMetrics ends with "# EOF": without it the answer was cut short, as Prometheus says too.
        out.rejections.append(Rejection("end of text", "no # EOF line: the OpenMetrics text is truncated"))
    return out


def parse_exposition(
    text: str, default_time_us: int, first_line: int = 1, openmetrics: bool = False
) -> ParseResult:
    """Samples of a /metrics text as a batch; samples without a timestamp get ``default_time_us``."""
    exposed = read_exposition(text, openmetrics, first_line)
    out = ParseResult(rejections=exposed.rejections, skipped=exposed.skipped)
    for name, labels, t, value in exposed.samples:
        out.batch.append(name, canonical_labels(labels), default_time_us if t is None else t, value)
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
