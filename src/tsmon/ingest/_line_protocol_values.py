"""Line protocol values and points: field values, timestamps, and why an entry is rejected."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import TypeAlias


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
_INT64, _UINT64, _MAX_FLOAT = 2**63, 2**64, sys.float_info.max
_BOOLS = {
    word: word[0] in "tT" for word in ("t", "T", "true", "True", "TRUE", "f", "F", "false", "False", "FALSE")
}
_is_float = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?").fullmatch
_UNESCAPE_STRING = re.compile(r'\\(["\\])')


class _Bad(Exception):  # noqa: N818 - never escapes: it becomes a Rejection
    """Why one entry is rejected."""


class _Unterminated(_Bad):
    """A quoted string still open at the end of the input: in a stream, its end may be yet to come."""


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
