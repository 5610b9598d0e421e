"""CSV samples (columns time, metric, labels, value): a streaming parser with located errors, and a writer."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from tsmon.errors import InputFileError
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

COLUMNS = ("time", "metric", "labels", "value")


@dataclass(frozen=True)
class CsvRow:
    """One parsed data row, or the reason it was rejected; ``line`` is where the row starts."""

    line: int
    metric: str = ""
    labels: str = ""
    time_us: int = 0
    value: float = 0.0
    error: str | None = None


def parse_time(text: str) -> int:
    """ISO 8601 (naive = UTC) or a Unix epoch number in s, ms, µs or ns (guessed from its size)."""
    text = text.strip()
    try:
        return guess_epoch_to_us(float(text))
    except ValueError:
        pass
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return datetime_to_us(datetime.fromisoformat(text))


def parse_labels(text: str, cache: dict[str, str]) -> str:
    """A JSON object of string values (or empty) to its canonical text. Raises ValueError."""
    cached = cache.get(text)
    if cached is not None:
        return cached
    if not text.strip():
        labels: object = {}
    else:
        try:
            labels = json.loads(text, object_pairs_hook=json_object)
        except json.JSONDecodeError as exc:
            raise ValueError(f"labels are not valid JSON ({exc.msg}, column {exc.colno})") from exc
        except RecursionError:
            raise ValueError("labels are nested more deeply than tsmon decodes") from None
    if not isinstance(labels, dict):
        raise ValueError('labels must be a JSON object like {"host": "web1"}')
    if isinstance(labels, JsonObject) and labels.duplicates:
        raise ValueError(f"duplicate label name {labels.duplicates[0]!r}")
    for k, v in labels.items():
        if not k:
            raise ValueError("a label name is empty")
        if not isinstance(v, str):
            raise ValueError(f"label {k!r} must have a string value, not {type(v).__name__}")
    canonical = canonical_labels(labels)
    if len(cache) < 100_000:
        cache[text] = canonical
    return canonical


def _header_positions(header: list[str]) -> tuple[int, int, int, int]:
    names = [h.strip().lower() for h in header]
    if sorted(names) != sorted(COLUMNS):
        raise InputFileError(
            f"line 1: the header must name the columns {','.join(COLUMNS)} (any order), "
            f"found {','.join(header)}"
        )
    t, m, lab, v = (names.index(c) for c in COLUMNS)
    return t, m, lab, v


def parse_rows(lines: Iterable[str]) -> Iterator[CsvRow]:
    """Rows of a CSV text, header first. Bad rows come back with ``error`` set, never raised."""
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise InputFileError(
            "line 1: the file is empty; expected a header time,metric,labels,value"
        ) from None
    except csv.Error as exc:
        raise InputFileError(f"line 1: {exc}") from exc
    t, m, lab, v = _header_positions(header)
    label_cache: dict[str, str] = {}
    start = reader.line_num + 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # The csv module cannot resynchronise after a broken quote; report and stop.
            yield CsvRow(start, error=f"malformed CSV: {exc}")
            return
        line, start = start, reader.line_num + 1
        if not fields:
            continue
        yield _parse_fields(line, fields, (t, m, lab, v), label_cache)


def _parse_fields(
    line: int, fields: list[str], pos: tuple[int, int, int, int], cache: dict[str, str]
) -> CsvRow:
    t, m, lab, v = pos
    if len(fields) != len(COLUMNS):
        return CsvRow(line, error=f"expected {len(COLUMNS)} fields, found {len(fields)}")
    if any("\ufffd" in f for f in fields):
        return CsvRow(line, error="not valid UTF-8 text")
    metric = fields[m].strip()
    if not metric:
        return CsvRow(line, error="metric is empty")
    try:
        time_us = parse_time(fields[t])
    except (ValueError, OverflowError):
        return CsvRow(line, error=f"time {fields[t]!r} is neither ISO 8601 nor a Unix epoch number")
    try:
        labels = parse_labels(fields[lab], cache)
    except ValueError as exc:
        return CsvRow(line, error=str(exc))
    try:
        value = float(fields[v])
    except ValueError:
        return CsvRow(line, error=f"value {fields[v]!r} is not a number")
    if not math.isfinite(value):
        return CsvRow(line, error=f"value {fields[v]!r} is not a finite number")
    return CsvRow(line, metric, labels, time_us, value)


def format_csv(batch: SampleBatch) -> str:
    """The batch as CSV text that parse_rows reads back to the same samples."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    for metric, labels, time_us, value in zip(
        batch.metrics, batch.labels, batch.times_us, batch.values, strict=True
    ):
        w.writerow([us_to_datetime(time_us).isoformat(), metric, labels, repr(value)])
    return out.getvalue()


def parse_csv_text(text: str) -> ParseResult:
    """A whole CSV body (HTTP import): good rows in the batch, bad rows as `line N` rejections."""
    out = ParseResult()
    for part in iter_csv_text(text, batch_rows=None):
        out.extend(part)
    return out


def iter_csv_text(text: str, batch_rows: int | None = 50_000) -> Iterator[ParseResult]:
    """parse_csv_text in parts of about ``batch_rows`` rows (None: one part), so a large body is
    converted and written a part at a time."""
    try:
        yield from csv_parts(text.splitlines(keepends=True), batch_rows)
    except InputFileError as exc:  # a bad header, before any row
        yield ParseResult(rejections=[Rejection("line 1", str(exc).removeprefix("line 1: "))])


def csv_parts(lines: Iterable[str], batch_rows: int | None) -> Iterator[ParseResult]:
    """CSV lines as parts of about ``batch_rows`` rows (None: one part); bad rows as `line N`
    rejections. Raises InputFileError for a bad header (the HTTP body and a file say it differently)."""
    out = ParseResult()
    limit = batch_rows if batch_rows is not None else 1 << 62
    for row in parse_rows(lines):
        if row.error is not None:
            out.rejections.append(Rejection(f"line {row.line}", row.error))
        else:
            out.batch.append(row.metric, row.labels, row.time_us, row.value)
        if len(out.batch) >= limit:
            yield out
            out = ParseResult()
    yield out
