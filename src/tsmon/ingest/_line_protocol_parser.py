"""Line protocol parser: a fast path for plain lines, a careful one for escapes and multi-line strings."""

from __future__ import annotations

import re
from itertools import pairwise

from tsmon.ingest._line_protocol_values import (
    _MAX_FLOAT,
    MAX_STRING_BYTES,
    FieldValue,
    Point,
    Series,
    _Bad,
    _is_float,
    _string,
    _tail,
    _timestamp,
    _unescape,
    _Unterminated,
    _value,
)
from tsmon.ingest.batch import Rejection

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
_UNESCAPE_MEASUREMENT, _UNESCAPE_KEY = re.compile(r"\\([ ,])"), re.compile(r"\\([ ,=])")


def parse_entries(body: bytes, scale: int) -> tuple[list[Point], list[Rejection]]:
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
