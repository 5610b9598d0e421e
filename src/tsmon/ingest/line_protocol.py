"""InfluxDB line protocol: a fast parser with per-line rejections, a serialiser, and conversion to samples."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import TypeAlias

from tsmon.ingest.batch import ParseResult, Rejection, canonical_labels


class UInt(int):
    """A uint64 field value (``1u``): an int that remembers its wire type, so a round trip keeps the ``u``.
    Beware ``UInt(1) == 1 == 1.0 == True``: compare ``type(v)`` too when the wire type matters."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"UInt({int(self)})"


FieldValue: TypeAlias = float | int | bool | str | UInt


@dataclass(frozen=True, slots=True)
class Point:
    """One entry. ``tags`` sorted by key; ``fields`` in input order (a repeated key keeps its first place
    and its last value); ``time_ns``: the timestamp as written (in the request's precision), or None."""

    measurement: str
    tags: tuple[tuple[str, str], ...]
    fields: tuple[tuple[str, FieldValue], ...]
    time_ns: int | None


Series: TypeAlias = tuple[str, tuple[tuple[str, str], ...]]
MAX_STRING_BYTES = 64 * 1024
NS_PER_UNIT = dict(ns=1, n=1, us=10**3, u=10**3, ms=10**6, s=10**9, m=60 * 10**9, h=3600 * 10**9)
_INT64, _UINT64, _MAX_FLOAT = 2**63, 2**64, sys.float_info.max
_BOOLS = {
    word: word[0] in "tT" for word in ("t", "T", "true", "True", "TRUE", "f", "F", "false", "False", "FALSE")
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Not on the fast path: quotes, backslashes, control characters, undecodable bytes (lone surrogates).
_NOT_SIMPLE = re.compile('[\x00-\x09\x0b-\x1f\x7f"\\\\\udc80-\udcff]')
_SURROGATE = re.compile("[\udc80-\udcff]")
# Names never escape a backslash, so a separator in one is escaped exactly when a backslash precedes it;
# other backslashes are literal (InfluxDB's rule).
_SPLIT_COMMA, _SPLIT_EQUALS, _GAP = (re.compile(rf"(?<!\\){c}") for c in (",", "=", " +"))
# In a field key a backslash escapes only a following space, comma or =; in a string, any character.
# Atomic groups: a backtracking match could give an escaped = back and split the key there.
_KEY = r"(?>[^\\ ,=\x00-\x1f\x7f]*(?:\\[ ,=]?[^\\ ,=\x00-\x1f\x7f]*)*)"
_STRING_BODY = re.compile(r'(?>[^"\\]*(?:\\.[^"\\]*)*)', re.DOTALL)
_FIELD = re.compile(rf'({_KEY})=("{_STRING_BODY.pattern}"|(?:[^ ,"][^ ,]*)?)', re.DOTALL)  # closed or bare
_is_float = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?").fullmatch
_UNESCAPE_MEASUREMENT, _UNESCAPE_KEY = re.compile(r"\\([ ,])"), re.compile(r"\\([ ,=])")
_UNESCAPE_STRING, _ESCAPE_STRING = re.compile(r'\\(["\\])'), re.compile(r'["\\]')
_ESCAPE_MEASUREMENT, _ESCAPE_KEY = re.compile("[ ,]"), re.compile("[ ,=]")
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f]|\\\Z")


class _Bad(Exception):  # noqa: N818 - never escapes: it becomes a Rejection
    """Why one entry is rejected."""


class _Unterminated(_Bad):
    """A quoted string still open at the end of the input: in a stream, its end may be yet to come."""


def parse_points(body: bytes) -> tuple[list[Point], list[Rejection]]:
    """Parse a whole request body. A bad entry becomes a Rejection at ``line N``, where it starts."""
    return _parse(body, 1)


def _parse(body: bytes, scale: int) -> tuple[list[Point], list[Rejection]]:
    try:
        text, bad_utf8 = body.decode(), False
    except UnicodeDecodeError:
        # Bad bytes become lone surrogates, so only the entries holding them are rejected.
        text, bad_utf8 = body.decode("utf-8", "surrogateescape"), True
    all_simple = not _NOT_SIMPLE.search(text)
    lines = text.split("\n")
    points: list[Point] = []
    rejections: list[Rejection] = []
    cache: dict[str, Series] = {}  # tags are parsed and sorted once per distinct series text
    resume = 0
    for start, line in enumerate(lines):
        if start < resume:  # part of a string that ran on over several lines
            continue
        simple = line[:-1] if line[-1:] == "\r" else line
        if simple[:1] == " ":
            simple = simple.lstrip(" ")
        if not simple or simple[0] == "#":
            continue
        try:
            if all_simple or not _NOT_SIMPLE.search(simple):
                points.append(_parse_simple(simple, scale, cache))
            elif bad_utf8 and _SURROGATE.search(line):
                raise _Bad("not valid UTF-8")
            else:
                point, end = _parse_entry(lines, start, scale, cache)
                if bad_utf8 and _SURROGATE.search("".join(lines[start : end + 1])):
                    raise _Bad("not valid UTF-8")
                points.append(point)
                resume = end + 1  # after an error we resume at the next physical line: no good line is lost
        except _Bad as exc:
            reason = str(exc).encode("utf-8", "backslashreplace").decode() if bad_utf8 else str(exc)
            rejections.append(Rejection(f"line {start + 1}", reason))
    return points, rejections


def split_complete_entries(data: bytes) -> tuple[bytes, bytes]:
    """For a stream read in chunks: (the complete entries, the rest to carry over to the next chunk). The cut
    is not always after the last newline: a quoted string may run on over lines not read yet."""
    lines = data.decode("utf-8", "surrogateescape").split("\n")[:-1]  # what follows the last newline waits
    resume, cache = 0, dict[str, Series]()
    for start, line in enumerate(lines):
        # Only a line opening a string may not end at its newline; _parse rejects a bad-UTF-8 line alone.
        if start < resume or '"' not in line or line.lstrip(" ")[:1] == "#" or _SURROGATE.search(line):
            continue
        try:
            end = _parse_entry(lines, start, 1, cache)[1]
        except _Unterminated:
            cut = len("\n".join(lines[:start]).encode("utf-8", "surrogateescape")) + bool(start)
            return data[:cut], data[cut:]
        except _Bad:
            continue
        if not _SURROGATE.search("".join(lines[start : end + 1])):
            resume = end + 1
    cut = data.rfind(b"\n") + 1
    return data[:cut], data[cut:]


def _parse_simple(line: str, scale: int, cache: dict[str, Series]) -> Point:
    """The fast path: no quotes, backslashes or control characters, so each space, comma and = is syntax."""
    parts = line.split(" ")
    if "" in parts:
        parts = [part for part in parts if part]
    if len(parts) < 2:
        raise _Bad("missing fields")
    measurement, tags = cache.get(parts[0]) or _series(parts[0], cache)
    fields: dict[str, FieldValue] = {}
    for item in parts[1].split(","):
        key, equals, value = item.partition("=")
        if not key or not equals:
            raise _Bad(f"invalid field {item[:60]!r}" if "=" in parts[1] else "missing fields")
        # Plain floats, the usual case, without the call to _value.
        if _is_float(value) and -_MAX_FLOAT <= (number := float(value)) <= _MAX_FLOAT:
            fields[key] = number
        else:
            fields[key] = _value(key, value)
    time_ns = _timestamp(parts[2], scale) if len(parts) == 3 else _tail(parts[2:], scale)
    return Point(measurement, tags, tuple(fields.items()), time_ns)


def _parse_entry(lines: list[str], start: int, scale: int, cache: dict[str, Series]) -> tuple[Point, int]:
    """The careful path: escapes, and quoted strings that may run on over the following physical lines
    (Telegraf sends newlines in strings as they are). Returns the point and the index of its last line."""
    s, end = lines[start].removesuffix("\r").lstrip(" "), start
    gap = _GAP.search(s)
    if gap is None or gap.end() == len(s):
        raise _Bad("missing fields")
    measurement, tags = _series(s[: gap.start()], cache)
    p, fields = gap.end(), dict[str, FieldValue]()
    while True:
        found = _FIELD.match(s, p)
        if found and not found[2] and s.startswith('"', found.end()):  # a string still open at the line's end
            # A backslash before a newline just swallows it, so no escape carries over into the next line.
            last, size = end + 1, len(s) - found.end()
            while last < len(lines) and size <= MAX_STRING_BYTES:
                scanned = _STRING_BODY.match(lines[last]).end()  # type: ignore[union-attr]
                if lines[last][scanned : scanned + 1] == '"':
                    break
                last, size = last + 1, size + len(lines[last]) + 1
            else:
                key = _unescape(_UNESCAPE_KEY, found[1])
                if last < len(lines):
                    raise _Bad(f'field "{key}" has a string longer than 64 KiB')
                raise _Unterminated(f'field "{key}" has an unterminated string')
            crlf = "\r" if lines[end].endswith("\r") else ""
            s, end = "\n".join([s + crlf, *lines[end + 1 : last + 1]]).removesuffix("\r"), last
            found = _FIELD.match(s, p)
        if not found or not found[1]:
            raise _Bad(f"invalid field {s[p : p + 60]!r}" if fields or "=" in s[p:] else "missing fields")
        key, raw, p = _unescape(_UNESCAPE_KEY, found[1]), found[2], found.end()
        fields[key] = _string(key, raw[1:-1]) if raw[:1] == '"' else _value(key, raw)
        if not s.startswith(",", p):
            break
        p += 1
    if p < len(s) and s[p] != " ":
        raise _Bad(f'invalid character {s[p]!r} after field "{key}"')
    return Point(measurement, tags, tuple(fields.items()), _tail(s[p:].split(" "), scale)), end


def _series(text: str, cache: dict[str, Series]) -> Series:
    """Measurement and sorted tags from the text before the first unescaped space."""
    known = cache.get(text)
    if known is not None:
        return known
    if bad := _CONTROL.search(text):
        raise _Bad(f"invalid character {bad[0]!r} in the measurement or tags")
    if "\\" in text:
        measurement, *items = _SPLIT_COMMA.split(text)
        measurement = _unescape(_UNESCAPE_MEASUREMENT, measurement)
        pairs = [[_unescape(_UNESCAPE_KEY, name) for name in _SPLIT_EQUALS.split(item)] for item in items]
    else:
        measurement, *items = text.split(",")
        pairs = [item.split("=") for item in items]
    if not measurement:
        raise _Bad("missing measurement")
    for pair, item in zip(pairs, items, strict=True):
        if len(pair) != 2 or not pair[0] or not pair[1]:
            raise _Bad(f"invalid tag {item[:60]!r} (want key=value, both non-empty)")
    tags = sorted((key, value) for key, value in pairs)
    for (key, _), (next_key, _) in pairwise(tags):
        if key == next_key:
            raise _Bad(f'duplicate tag key "{key}"')
    known = cache[text] = (measurement, tuple(tags))
    return known


def _unescape(pattern: re.Pattern[str], text: str) -> str:
    return pattern.sub(r"\1", text) if "\\" in text else text


def _string(key: str, text: str) -> str:
    value = _unescape(_UNESCAPE_STRING, text)
    if len(value) > MAX_STRING_BYTES // 4 and len(value.encode(errors="replace")) > MAX_STRING_BYTES:
        raise _Bad(f'field "{key}" has a string longer than 64 KiB')
    return value


def _value(key: str, text: str) -> FieldValue:
    """An unquoted field value: float (the default), 1i int64, 1u uint64 or a boolean."""
    if _is_float(text):
        number = float(text)
        if -_MAX_FLOAT <= number <= _MAX_FLOAT:
            return number
        raise _Bad(f'field "{key}" value {text[:60]!r} is out of range')
    suffix = text[-1:]
    digits = text[:-1].removeprefix("-") if suffix == "i" else text[:-1]
    if suffix in ("i", "u") and digits.isdigit() and digits.isascii():
        significant = digits.lstrip("0")  # int() refuses more than 4300 digits
        number = int(significant or "0") if len(significant) < 30 else _UINT64
        if suffix == "u" and number < _UINT64:
            return UInt(number)
        number = -number if text[0] == "-" else number
        if suffix == "i" and -_INT64 <= number < _INT64:
            return number
        raise _Bad(f'field "{key}" value {text[:60]!r} is out of range')
    flag = _BOOLS.get(text)
    if flag is not None:
        return flag
    if text.lstrip("+-").lower() in ("nan", "inf", "infinity"):
        raise _Bad(f'field "{key}": NaN and Inf are not valid in line protocol')
    raise _Bad(f'field "{key}" has an invalid value {text[:60]!r}' if text else f'field "{key}" has no value')


def _tail(words: list[str], scale: int) -> int | None:
    """What follows the fields: nothing, or a timestamp."""
    words = [word for word in words if word]
    if len(words) > 1:
        raise _Bad(f"unexpected text after the timestamp: {' '.join(words[1:])[:60]!r}")
    return _timestamp(words[0], scale) if words else None


def _timestamp(text: str, scale: int) -> int:
    if text.isdigit() and text.isascii() and len(text) < 30:  # the usual case, cheaply
        number = int(text)
    else:
        digits = text.removeprefix("-")
        if not (digits.isdigit() and digits.isascii()):
            raise _Bad(f"invalid timestamp {text[:60]!r}")
        number = int(text) if len(digits.lstrip("0")) < 30 else _INT64  # int() refuses over 4300 digits
    if -_INT64 <= number * scale < _INT64:
        return number
    raise _Bad(f"invalid timestamp {text[:60]!r}: out of range (InfluxDB's is int64 nanoseconds)")


def points_to_samples(points: Iterable[Point], precision: str, now_ns: int) -> ParseResult:
    """Metric ``measurement_field``, tags as labels, time in µs since the epoch (sub-µs floored; ``now_ns``
    when absent). Numbers are stored, booleans as 1.0/0.0; string fields are counted in
    ``skipped["string_field"]``. A time outside int64 nanoseconds is rejected as ``point N``."""
    scale = _ns_per_unit(precision)
    result = ParseResult()
    batch = result.batch
    label_cache: dict[tuple[tuple[str, str], ...], str] = {}
    default_us, strings = now_ns // 1000, 0
    for number, point in enumerate(points, 1):
        time_us = default_us
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
    if strings:
        result.skipped["string_field"] = strings
    return result


def _ns_per_unit(precision: str) -> int:
    try:
        return NS_PER_UNIT[precision]
    except KeyError:
        raise ValueError(f"unknown precision {precision!r}; use one of {', '.join(NS_PER_UNIT)}") from None


def parse_line_protocol(body: bytes, precision: str = "ns", now_ns: int | None = None) -> ParseResult:
    """parse_points then points_to_samples; ``now_ns`` (default: the clock) stamps points without a time."""
    points, rejections = _parse(body, _ns_per_unit(precision))  # range-checks times in this precision
    result = points_to_samples(points, precision, time.time_ns() if now_ns is None else now_ns)
    result.rejections[:0] = rejections
    return result


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
