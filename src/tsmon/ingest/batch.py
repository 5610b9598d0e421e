"""Columnar sample batches, canonical label sets and timestamp conversion shared by every format."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def canonical_labels(labels: dict[str, str]) -> str:
    """The one text form of a label set: sorted keys, compact JSON. Used as the series cache key."""
    return json.dumps(labels, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class JsonObject(dict[str, Any]):
    """A decoded JSON object that remembers the keys it had more than once (json keeps the last)."""

    duplicates: tuple[str, ...] = ()


def json_object(pairs: Sequence[tuple[str, Any]]) -> JsonObject:
    """``object_pairs_hook`` for json: duplicate keys are kept visible instead of silently merged.

    Labels with a repeated name are an error in every protocol (remote write and line protocol
    refuse them); JSON decoders would quietly keep the last value.
    """
    obj = JsonObject(pairs)
    if len(obj) < len(pairs):
        obj.duplicates = tuple(sorted(k for k, n in Counter(k for k, _ in pairs).items() if n > 1))
    return obj


def datetime_to_us(dt: datetime) -> int:
    """Microseconds since the Unix epoch; naive datetimes are taken as UTC."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - UNIX_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def us_to_datetime(us: int) -> datetime:
    return datetime.fromtimestamp(us // 1_000_000, tz=UTC).replace(microsecond=us % 1_000_000)


# InfluxDB 3's precision=auto rule: an epoch number below these magnitudes is in s, ms, µs; else ns.
EPOCH_UNIT_LIMITS = (5e9, 5e12, 5e15)


def guess_epoch_to_us(number: float) -> int:
    """Epoch number of unknown unit to microseconds (EPOCH_UNIT_LIMITS)."""
    magnitude = abs(number)
    seconds, millis, micros = EPOCH_UNIT_LIMITS
    if magnitude < seconds:
        return round(number * 1_000_000)
    if magnitude < millis:
        return round(number * 1_000)
    if magnitude < micros:
        return round(number)
    return round(number / 1_000)


@dataclass
class Rejection:
    """Why one input item (a line, or a series) was not stored."""

    where: str
    reason: str
    code: str = "parse_error"  # short stable reason, the label on tsmon_ingest_samples_rejected_total
    samples: int = 1  # how many samples (or input lines) this rejection stands for

    def __str__(self) -> str:
        # Echoed to the sender: a lone surrogate from its input must not make the answer unencodable.
        return f"{self.where}: {self.reason}".encode(errors="backslashreplace").decode()


@dataclass
class SampleBatch:
    """Samples as parallel columns: metric, canonical labels JSON, time (µs since Unix epoch), value."""

    metrics: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    times_us: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def append(self, metric: str, labels: str, time_us: int, value: float) -> None:
        self.metrics.append(metric)
        self.labels.append(labels)
        self.times_us.append(time_us)
        self.values.append(value)

    def __len__(self) -> int:
        return len(self.values)


@dataclass
class ParseResult:
    """What a wire-format parser returns: the samples it accepted and why it rejected the rest.

    ``rejections`` lists every rejected item (a line, or a series) with its location; callers cap
    what they show. ``skipped`` counts values that are valid input but not stored as samples of
    their own, by reason: not numbers (line-protocol string fields), or merged with another point of
    the series in the same microsecond (nanosecond times); they are not errors.
    """

    batch: SampleBatch = field(default_factory=SampleBatch)
    rejections: list[Rejection] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def extend(self, other: ParseResult) -> None:
        """Append another result's samples, rejections and skipped counts (parts of one body)."""
        self.batch.metrics.extend(other.batch.metrics)
        self.batch.labels.extend(other.batch.labels)
        self.batch.times_us.extend(other.batch.times_us)
        self.batch.values.extend(other.batch.values)
        self.rejections.extend(other.rejections)
        for reason, n in other.skipped.items():
            self.skipped[reason] = self.skipped.get(reason, 0) + n
