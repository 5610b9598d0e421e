"""Stream a file of samples into the database in constant memory, batch by batch, through the writer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from tsmon.errors import InputFileError
from tsmon.ingest.batch import Rejection, SampleBatch
from tsmon.ingest.csv_format import CsvRow, parse_rows
from tsmon.ingest.writer import SampleWriter

MAX_LISTED_REJECTIONS = 100


@dataclass
class IngestReport:
    """What happened to a file: rows stored, rows rejected (the first ones listed with file:line)."""

    path: str
    accepted: int = 0
    rejected: int = 0
    new_series: int = 0
    batches: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    written: bool = True  # False when --strict found bad rows and wrote nothing

    def reject(self, line: int, reason: str) -> None:
        self.rejected += 1
        if len(self.rejections) < MAX_LISTED_REJECTIONS:
            self.rejections.append(Rejection(f"{self.path}:{line}", reason))


def _lines(stream: BinaryIO, on_bytes: Callable[[int], None] | None) -> Iterator[str]:
    # Decoding with "replace" keeps line numbers right; rows with U+FFFD are rejected by the parser.
    for raw in stream:
        if on_bytes is not None:
            on_bytes(len(raw))
        yield raw.decode("utf-8", errors="replace")


def _rows(path: Path, on_bytes: Callable[[int], None] | None) -> Iterator[CsvRow]:
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise InputFileError(f"{path}: cannot open: {exc.strerror}") from exc
    with stream:
        try:
            yield from parse_rows(_lines(stream, on_bytes))
        except InputFileError as exc:
            raise InputFileError(f"{path}:{exc}") from exc


def ingest_csv(
    writer: SampleWriter,
    path: Path,
    batch_rows: int = 50_000,
    strict: bool = False,
    on_bytes: Callable[[int], None] | None = None,
) -> IngestReport:
    """Store the good rows of a CSV file and report the bad ones.

    Default policy: every valid row is stored, each invalid row is reported as file:line: reason.
    ``strict``: a first pass validates the whole file; if any row is bad, nothing is written.
    Each batch is one transaction, so a database error never leaves a batch half-written.
    """
    report = IngestReport(str(path))
    if strict:
        for row in _rows(path, None):
            if row.error is not None:
                report.reject(row.line, row.error)
        if report.rejected:
            report.written = False
            return report
    batch = SampleBatch()
    for row in _rows(path, on_bytes):
        if row.error is not None:
            report.reject(row.line, row.error)
            continue
        batch.append(row.metric, row.labels, row.time_us, row.value)
        if len(batch) >= batch_rows:
            _flush(writer, batch, report)
            batch = SampleBatch()
    _flush(writer, batch, report)
    return report


def _flush(writer: SampleWriter, batch: SampleBatch, report: IngestReport) -> None:
    if not len(batch):
        return
    result = writer.write(batch)
    report.accepted += len(batch) - result.rejected_samples
    report.new_series += result.new_series
    report.batches += 1
    for r in result.rejected:
        report.rejected += r.samples
        if len(report.rejections) < MAX_LISTED_REJECTIONS:
            where = f"{report.path}: series {r.metric}{r.labels}"
            reason = f"{r.refusal.reason} ({r.samples} rows)"
            report.rejections.append(Rejection(where, reason, r.refusal.code, r.samples))
