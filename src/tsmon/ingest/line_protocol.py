"""InfluxDB line protocol: parse entries (with per-line rejections), serialise them, convert to samples."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator

from tsmon.ingest._line_protocol_parser import parse_entries, split_complete_entries
from tsmon.ingest._line_protocol_values import (
    _INT64,
    _MAX_FLOAT,
    _UINT64,
    MAX_STRING_BYTES,
    FieldValue,
    Point,
    UInt,
)
from tsmon.ingest.batch import ParseResult, Rejection, canonical_labels

__all__ = [
    "NS_PER_UNIT",
    "FieldValue",
    "Point",
    "UInt",
    "format_points",
    "iter_line_protocol",
    "parse_line_protocol",
    "parse_points",
    "points_to_samples",
    "split_complete_entries",
]

NS_PER_UNIT = dict(ns=1, n=1, us=10**3, u=10**3, ms=10**6, s=10**9, m=60 * 10**9, h=3600 * 10**9)
_ESCAPE_STRING = re.compile(r'["\\]')
_ESCAPE_MEASUREMENT, _ESCAPE_KEY = re.compile("[ ,]"), re.compile("[ ,=]")
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f]|\\\Z")


def parse_points(body: bytes) -> tuple[list[Point], list[Rejection]]:
    """Parse a whole request body. A bad entry becomes a Rejection at ``line N``, where it starts."""
    return parse_entries(body, 1)


def points_to_samples(points: Iterable[Point], precision: str, now_ns: int) -> ParseResult:
    """Metric ``measurement_field``, tags as labels, time in µs since the epoch (sub-µs floored; ``now_ns``
    when absent). Numbers are stored, booleans as 1.0/0.0; string fields are counted in
    ``skipped["string_field"]``. A time outside int64 nanoseconds is rejected as ``point N``."""
    scale = _ns_per_unit(precision)
    result = ParseResult()
    batch = result.batch
    label_cache: dict[tuple[tuple[str, str], ...], str] = {}
    default_us, strings = now_ns // 1000, 0
    # Nanosecond precision: remember each row's nanoseconds to count points that truncation merges.
    rows_ns: list[int] | None = [] if scale < 1000 else None
    for number, point in enumerate(points, 1):
        time_us, time_ns = default_us, default_us * 1000
        if point.time_ns is not None:
            time_ns = point.time_ns * scale
            if not -_INT64 <= time_ns < _INT64:
                reason = f"timestamp {point.time_ns} with precision {precision} is out of range"
                result.rejections.append(Rejection(f"point {number}", reason))
                continue
            time_us = time_ns // 1000
        labels = label_cache.get(point.tags)
        if labels is None:
            labels = label_cache[point.tags] = canonical_labels(dict(point.tags))
        for key, value in point.fields:
            if isinstance(value, str):
                strings += 1
                continue
            batch.metrics.append(f"{point.measurement}_{key}")
            batch.labels.append(labels)
            batch.times_us.append(time_us)
            batch.values.append(float(value))
            if rows_ns is not None:
                rows_ns.append(time_ns)
    if strings:
        result.skipped["string_field"] = strings
    if rows_ns is not None and any(ns % 1000 for ns in rows_ns):
        merged = _same_microsecond(batch.metrics, batch.labels, batch.times_us, rows_ns)
        if merged:
            result.skipped["same_microsecond"] = merged
    return result


def _same_microsecond(metrics: list[str], labels: list[str], times_us: list[int], rows_ns: list[int]) -> int:
    """Points of one series whose different nanosecond times fall in the same microsecond: storage
    keeps microseconds, so all but the last of them are overwritten. Exact repeats (a re-send) are
    not counted."""
    seen: dict[tuple[str, str, int], set[int]] = {}
    for metric, label, us, ns in zip(metrics, labels, times_us, rows_ns, strict=True):
        seen.setdefault((metric, label, us), set()).add(ns)
    return sum(len(v) - 1 for v in seen.values())


def _ns_per_unit(precision: str) -> int:
    try:
        return NS_PER_UNIT[precision]
    except KeyError:
        raise ValueError(f"unknown precision {precision!r}; use one of {', '.join(NS_PER_UNIT)}") from None


def parse_line_protocol(body: bytes, precision: str = "ns", now_ns: int | None = None) -> ParseResult:
    """parse_points then points_to_samples; ``now_ns`` (default: the clock) stamps points without a time."""
    points, rejections = parse_entries(body, _ns_per_unit(precision))  # range-checks times in this precision
    result = points_to_samples(points, precision, time.time_ns() if now_ns is None else now_ns)
    result.rejections[:0] = rejections
    return result


def iter_line_protocol(
    body: bytes, precision: str = "ns", now_ns: int | None = None, chunk_bytes: int = 4 << 20
) -> Iterator[ParseResult]:
    """parse_line_protocol in parts of about ``chunk_bytes`` of whole entries, so a large body is parsed
    and written a part at a time. Rejections keep the line (and point) numbers of the whole body;
    points without a time get one clock reading for the whole body."""
    scale, now_ns = _ns_per_unit(precision), time.time_ns() if now_ns is None else now_ns
    pos, line, point = 0, 1, 0
    while pos < len(body):
        end = pos + chunk_bytes
        while True:
            part, _ = split_complete_entries(body[pos:end]) if end < len(body) else (body[pos:], b"")
            if part or end >= len(body):
                break
            end += chunk_bytes  # one entry longer than a chunk (or a string running on): read on
        points, rejections = parse_entries(part, scale)
        result = points_to_samples(points, precision, now_ns)
        for r in rejections:
            r.where = _shifted(r.where, "line ", line - 1)
        for r in result.rejections:
            r.where = _shifted(r.where, "point ", point)
        result.rejections[:0] = rejections
        yield result
        pos, line, point = pos + len(part), line + part.count(b"\n"), point + len(points)


def _shifted(where: str, prefix: str, offset: int) -> str:
    number = where[len(prefix) :]
    return f"{prefix}{int(number) + offset}" if where.startswith(prefix) and number.isdigit() else where


def format_points(points: Iterable[Point]) -> bytes:
    """Serialise points, one line each, tags sorted. Raises ValueError for a point that cannot round-trip."""
    out = []
    for point in points:
        name, tags, fields, stamp = point.measurement, sorted(point.tags), point.fields, point.time_ns
        if name[:1] == "#" or not fields or len(dict(tags)) < len(tags) or len(dict(fields)) < len(fields):
            raise ValueError(f"point {name!r}: a measurement starting with #, no fields or a repeated key")
        if stamp is not None and not -_INT64 <= stamp < _INT64:
            raise ValueError(f"point {name!r}: timestamp {stamp} is out of the int64 range")
        tag_text = "".join(f",{_name(key, _ESCAPE_KEY)}={_name(value, _ESCAPE_KEY)}" for key, value in tags)
        field_text = ",".join(f"{_name(key, _ESCAPE_KEY)}={_format_value(value)}" for key, value in fields)
        stamp_text = "" if stamp is None else f" {int(stamp)}"
        out.append(f"{_name(name, _ESCAPE_MEASUREMENT)}{tag_text} {field_text}{stamp_text}\n")
    return "".join(out).encode()  # a lone surrogate raises UnicodeEncodeError, a ValueError


def _name(text: str, escape: re.Pattern[str]) -> str:
    # A control character would end the name, and a trailing backslash would escape the separator after it.
    if not text or _BAD_NAME.search(text):
        raise ValueError(f"name {text!r} is empty, has a control character or ends with a backslash")
    return escape.sub(r"\\\g<0>", text)


def _format_value(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, UInt) and 0 <= value < _UINT64:
        return f"{int(value)}u"
    if isinstance(value, int) and not isinstance(value, UInt) and -_INT64 <= value < _INT64:
        return f"{int(value)}i"
    if isinstance(value, float) and -_MAX_FLOAT <= value <= _MAX_FLOAT:
        return repr(float(value))
    if isinstance(value, str) and len(value.encode(errors="replace")) <= MAX_STRING_BYTES:
        return '"' + _ESCAPE_STRING.sub(r"\\\g<0>", value) + '"'
    raise ValueError(f"line protocol cannot carry the field value {value!r}")
