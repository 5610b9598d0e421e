"""Stream a file of samples (csv, json, prom, lp) through the ingest service in constant memory."""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from tsmon.errors import InputFileError
from tsmon.ingest.batch import ParseResult, Rejection
from tsmon.ingest.csv_format import csv_parts
from tsmon.ingest.exposition import parse_exposition
from tsmon.ingest.json_format import json_parts
from tsmon.ingest.line_protocol import parse_line_protocol, split_complete_entries
from tsmon.ingest.service import IngestService

MAX_LISTED_REJECTIONS = 100
FORMATS = ("csv", "json", "prom", "lp")
_READ_BYTES = 1 << 20

OnBytes = Callable[[int], None] | None


@dataclass
class IngestReport:
    """What happened to a file: samples stored, samples rejected (the first reasons listed as file:line)."""

    path: str
    accepted: int = 0
    rejected: int = 0
    batches: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    written: bool = True  # False when --strict found bad input and wrote nothing

    def add_rejections(self, rejections: list[Rejection]) -> None:
        for r in rejections:
            self.rejected += r.samples
            if len(self.rejections) < MAX_LISTED_REJECTIONS:
                where = (
                    f"{self.path}:{r.where[5:]}" if r.where.startswith("line ") else f"{self.path}: {r.where}"
                )
                self.rejections.append(Rejection(where, r.reason, r.code, r.samples))


def _blocks(stream: BinaryIO, on_bytes: OnBytes) -> Iterator[bytes]:
    while block := stream.read(_READ_BYTES):
        if on_bytes is not None:
            on_bytes(len(block))
        yield block


def _text(stream: BinaryIO, on_bytes: OnBytes) -> Iterator[str]:
    # Decoding with "replace" keeps positions right; parsers reject text with U+FFFD where it matters.
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    for block in _blocks(stream, on_bytes):
        yield decoder.decode(block)
    yield decoder.decode(b"", final=True)


def _lines(stream: BinaryIO, on_bytes: OnBytes) -> Iterator[str]:
    for raw in stream:
        if on_bytes is not None:
            on_bytes(len(raw))
        yield raw.decode("utf-8", errors="replace")


def _csv(stream: BinaryIO, batch_rows: int, on_bytes: OnBytes) -> Iterator[ParseResult]:
    return csv_parts(_lines(stream, on_bytes), batch_rows)


def _json(stream: BinaryIO, batch_rows: int, on_bytes: OnBytes) -> Iterator[ParseResult]:
    return json_parts(_text(stream, on_bytes), batch_rows, "line {line}: series #{n}", malformed_where=None)


def _prom(stream: BinaryIO, batch_rows: int, on_bytes: OnBytes) -> Iterator[ParseResult]:
    now_us = int(time.time() * 1e6)
    chunk: list[str] = []
    first = 1
    for n, line in enumerate(_lines(stream, on_bytes), start=1):
        chunk.append(line)
        if len(chunk) >= batch_rows:
            yield parse_exposition("".join(chunk), now_us, first_line=first)
            chunk, first = [], n + 1
    yield parse_exposition("".join(chunk), now_us, first_line=first)


def _lp(stream: BinaryIO, batch_rows: int, on_bytes: OnBytes) -> Iterator[ParseResult]:
    pending, first = b"", 1
    blocks = _blocks(stream, on_bytes)
    while True:
        block = next(blocks, None)
        data = pending + (block or b"")
        complete, pending = split_complete_entries(data) if block is not None else (data, b"")
        if complete:
            result = parse_line_protocol(complete, "ns")
            for r in result.rejections:
                if r.where.startswith("line "):
                    r.where = f"line {int(r.where[5:]) + first - 1}"
            first += complete.count(b"\n")
            yield result
        if block is None:
            return


_READERS = {"csv": _csv, "json": _json, "prom": _prom, "lp": _lp}


def _results(path: Path, fmt: str, batch_rows: int, on_bytes: OnBytes) -> Iterator[ParseResult]:
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise InputFileError(f"{path}: cannot open: {exc.strerror}") from exc
    with stream:
        try:
            yield from _READERS[fmt](stream, batch_rows, on_bytes)
        except InputFileError as exc:
            raise InputFileError(f"{path}:{exc}") from exc


def ingest_file(
    service: IngestService,
    path: Path,
    fmt: str = "csv",
    *,
    batch_rows: int = 50_000,
    strict: bool = False,
    on_bytes: OnBytes = None,
) -> IngestReport:
    """Store the good samples of a file and report the bad ones.

    Default policy: every valid sample is stored, each invalid line is reported as file:line: reason.
    ``strict``: a first pass validates the whole file; if any line is bad, nothing is written.
    Each batch is one transaction, so a database error never leaves a batch half-written.
    """
    report = IngestReport(str(path))
    if strict:
        for result in _results(path, fmt, batch_rows, None):
            report.add_rejections(result.rejections)
        if report.rejected:
            report.written = False
            return report
    for result in _results(path, fmt, batch_rows, on_bytes):
        outcome = service.ingest(result, fmt)
        report.accepted += outcome.accepted
        report.add_rejections(outcome.rejections)
        for reason, n in outcome.skipped.items():
            report.skipped[reason] = report.skipped.get(reason, 0) + n
        report.batches += 1
    return report
