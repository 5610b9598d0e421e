"""JSON samples (`[{metric, labels, points: [[ts, value]]}]`, or one object per line): parser and writer."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from tsmon.ingest.batch import (
    JsonObject,
    ParseResult,
    Rejection,
    SampleBatch,
    canonical_labels,
    datetime_to_us,
    guess_epoch_to_us,
    json_object,
    us_to_datetime,
)

_DECODER = json.JSONDecoder(object_pairs_hook=json_object)
_SEPARATORS = " \t\r\n,"
_OPEN, _CLOSE = "[{", "]}"


class TooDeep:
    """Stands for an element nested more deeply than the decoder recurses; it is skipped, not fatal."""


def _value_end(buf: str, pos: int) -> int:
    """End of the array or object starting at ``pos``, found without recursion; -1 if not in ``buf``."""
    depth, i, in_string = 0, pos, False
    while i < len(buf):
        c = buf[i]
        if in_string:
            if c == "\\":
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


def _decode(buf: str, pos: int) -> tuple[Any, int]:
    """raw_decode, except that a value nested too deeply for it is skipped whole, as TooDeep."""
    try:
        return _DECODER.raw_decode(buf, pos)
    except RecursionError:
        end = _value_end(buf, pos) if buf[pos] in _OPEN else -1
        if end < 0:
            raise json.JSONDecodeError("a value nested too deeply is not closed", buf, pos) from None
        return TooDeep(), end


def iter_json_objects(chunks: Iterable[str]) -> Iterator[tuple[int, Any]]:
    """(line, value) for each element of a top-level JSON array, or each value of a JSON-lines text.

    Reads incrementally: memory is bounded by the largest single element, not the document.
    Raises ValueError naming the line on malformed JSON.
    """
    source = iter(chunks)
    buf, pos, line = "", 0, 1
    exhausted = False
    in_array: bool | None = None

    def refill() -> bool:
        nonlocal buf, pos, exhausted
        more = next(source, None)
        if more is None:
            exhausted = True
            return False
        buf, pos = buf[pos:] + more, 0
        return True

    while True:
        while True:
            while pos < len(buf) and buf[pos] in _SEPARATORS:
                line += buf[pos] == "\n"
                pos += 1
            if pos < len(buf) or exhausted or not refill():
                break
        if pos >= len(buf):
            if in_array:
                raise ValueError(f"line {line}: the JSON array is not closed")
            return
        if in_array is None:
            in_array = buf[pos] == "["
            if in_array:
                pos += 1
                continue
        if in_array and buf[pos] == "]":
            return
        try:
            value, end = _decode(buf, pos)
        except json.JSONDecodeError as exc:
            if not exhausted and refill():
                continue
            raise ValueError(
                f"line {line + buf.count(chr(10), pos, exc.pos)}: invalid JSON ({exc.msg})"
            ) from exc
        # A number or literal at the very end of the buffer may continue in the next chunk.
        if end == len(buf) and not isinstance(value, dict | list | str) and not exhausted and refill():
            continue
        yield line, value
        line += buf.count("\n", pos, end)
        pos = end


def _timestamp_us(ts: Any) -> int:
    if isinstance(ts, bool):
        raise ValueError("a boolean is not a timestamp")
    if isinstance(ts, int | float):
        return guess_epoch_to_us(float(ts)) if isinstance(ts, float) else guess_epoch_to_us(ts)
    if isinstance(ts, str):
        text = ts[:-1] + "+00:00" if ts.endswith(("Z", "z")) else ts
        return datetime_to_us(datetime.fromisoformat(text))
    raise ValueError(f"timestamp {ts!r} is neither a number nor an ISO 8601 string")


def _value(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise ValueError(f"value {v!r} is not a number")
    return float(v)  # strings like "1.5", "NaN", "+Inf" are accepted, as Prometheus writes them


def add_series(obj: Any, where: str, out: ParseResult) -> None:
    """Validate one series object and append its points (bad points rejected one by one)."""
    if isinstance(obj, TooDeep):
        out.rejections.append(Rejection(where, "nested more deeply than tsmon decodes", "too_deep"))
        return
    if not isinstance(obj, dict):
        out.rejections.append(Rejection(where, "expected an object {metric, labels, points}"))
        return
    metric, labels, points = obj.get("metric"), obj.get("labels", {}), obj.get("points")
    if isinstance(obj, JsonObject) and obj.duplicates:
        reason = f"key {obj.duplicates[0]!r} appears more than once"
        out.rejections.append(Rejection(where, reason, "duplicate_keys"))
        return
    if not isinstance(metric, str) or not metric:
        out.rejections.append(Rejection(where, '"metric" must be a non-empty string'))
        return
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str) for k, v in labels.items()
    ):
        out.rejections.append(Rejection(where, '"labels" must be an object of non-empty names to strings'))
        return
    if not isinstance(points, list):
        out.rejections.append(Rejection(where, '"points" must be a list of [timestamp, value] pairs'))
        return
    if isinstance(labels, JsonObject) and labels.duplicates:
        reason = f"duplicate label name {labels.duplicates[0]!r}"
        out.rejections.append(Rejection(f"{where} ({metric})", reason, "duplicate_label_names", len(points)))
        return
    key = canonical_labels(labels)
    where = f"{where} ({metric}{key})"
    for i, point in enumerate(points):
        try:
            if not isinstance(point, list | tuple) or len(point) != 2:
                raise ValueError("expected [timestamp, value]")
            t, v = _timestamp_us(point[0]), _value(point[1])
        except (ValueError, OverflowError) as exc:
            out.rejections.append(Rejection(f"{where} point {i}", str(exc)))
            continue
        out.batch.append(metric, key, t, v)


def parse_json(text: str) -> ParseResult:
    """A whole JSON (array or JSON-lines) body; malformed JSON is one rejection at its line."""
    out = ParseResult()
    for part in iter_json(text, batch_samples=None):
        out.extend(part)
    return out


def iter_json(text: str, batch_samples: int | None = 50_000) -> Iterator[ParseResult]:
    """parse_json in parts of about ``batch_samples`` samples (None: one part), so a large body is
    converted and written a part at a time. Malformed JSON ends the body: what came before it is kept."""
    return json_parts([text], batch_samples, "series #{n} (line {line})", malformed_where="body")


def json_parts(
    chunks: Iterable[str], batch_samples: int | None, where: str, malformed_where: str | None
) -> Iterator[ParseResult]:
    """JSON text (read incrementally) as parts of about ``batch_samples`` samples (None: one part).

    ``where`` locates a series (``{n}``: its number, ``{line}``: its line). Malformed JSON is one
    rejection at ``malformed_where``, or (None) at the ``line N`` it names.
    """
    out = ParseResult()
    limit = batch_samples if batch_samples is not None else 1 << 62
    try:
        for n, (line, obj) in enumerate(iter_json_objects(chunks)):
            add_series(obj, where.format(n=n, line=line), out)
            if len(out.batch) >= limit:
                yield out
                out = ParseResult()
    except ValueError as exc:  # nothing after malformed JSON can be read
        if malformed_where is None:
            out.rejections.append(Rejection(str(exc).split(":", 1)[0], str(exc).split(": ", 1)[-1]))
        else:
            out.rejections.append(Rejection(malformed_where, str(exc)))
    yield out


def format_json(batch: SampleBatch) -> str:
    """The batch as a JSON array, one object per series in first-seen order; parse_json reads it back."""
    series: dict[tuple[str, str], list[list[Any]]] = {}
    for metric, labels, t, v in zip(batch.metrics, batch.labels, batch.times_us, batch.values, strict=True):
        value: float | str = v if math.isfinite(v) else repr(v).replace("inf", "Inf").replace("nan", "NaN")
        series.setdefault((metric, labels), []).append([us_to_datetime(t).isoformat(), value])
    return json.dumps(
        [{"metric": m, "labels": json.loads(lab), "points": pts} for (m, lab), pts in series.items()],
        ensure_ascii=False,
    )
