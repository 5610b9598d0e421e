"""The NAB corpus on disk: data files in row order, their labelled windows as row indices."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tsmon.errors import TsmonError

FloatArray = npt.NDArray[np.float64]
WINDOWS_FILE = Path("labels") / "combined_windows.json"
_STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
# A label key names <family>/<file>.csv: two plain names, never a path that leaves the corpus.
_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*/[A-Za-z0-9_][A-Za-z0-9_.-]*\.csv$")


class NabCorpusError(TsmonError):
    """The NAB directory is missing, incomplete or has a malformed file; the message says which."""


@dataclass(frozen=True)
class NabFile:
    """One data file: rows in CSV order, as NAB scores them."""

    key: str  # "<family>/<file>.csv", as in NAB's label files
    stamps: tuple[str, ...]  # the timestamp column as written
    times: FloatArray  # epoch seconds (naive timestamps read as UTC), made non-decreasing
    values: FloatArray
    windows: tuple[tuple[int, int], ...]  # labelled windows as inclusive row ranges

    @property
    def family(self) -> str:
        return self.key.split("/", 1)[0]

    @property
    def probation(self) -> int:
        """Rows NAB ignores at the start: min(floor(0.15 N), 750)."""
        return min(int(0.15 * len(self.values)), 750)


def path_under(root: Path, key: str) -> Path:
    """``root / key`` for a label key ``<family>/<file>.csv``, refusing anything that would leave ``root``.

    Keys come from a label file someone else wrote: ``../`` or an absolute key must not make
    tsmon read or write outside the corpus (``--data``) or the results folder (``--out``),
    symbolic links included.
    """
    if not _KEY.fullmatch(key) or ".." in key.split("/"):
        raise NabCorpusError(f"label key {key!r} is not <family>/<file>.csv inside the corpus")
    base = root.resolve()
    path = (base / key).resolve()
    if not path.is_relative_to(base):
        raise NabCorpusError(f"label key {key!r} leads outside {root} (to {path})")
    return path


def monotone(times: FloatArray) -> FloatArray:
    """Timestamps made non-decreasing: a row stamped before its predecessor takes the predecessor's time.

    NAB keeps such a row in place (realKnownCause/machine_temperature_system_failure goes back 55
    minutes once); detectors need time order, and moving one row's stamp changes nothing else.
    """
    return np.maximum.accumulate(times) if times.size else times


def read_data_file(path: Path, key: str) -> tuple[tuple[str, ...], FloatArray, FloatArray]:
    stamps: list[str] = []
    values: list[float] = []
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header != ["timestamp", "value"]:
            raise NabCorpusError(f"{path}: header must be 'timestamp,value', got {header!r}")
        for line, row in enumerate(reader, start=2):
            try:
                stamp, value = row
                if not _STAMP.match(stamp):
                    raise ValueError(stamp)
                values.append(float(value))
            except ValueError as exc:
                msg = f"{path}:{line}: not a 'YYYY-MM-DD HH:MM:SS,number' row: {row!r}"
                raise NabCorpusError(msg) from exc
            stamps.append(stamp)
    if len(values) < 2:
        raise NabCorpusError(f"{path}: fewer than two rows")
    try:
        times = np.array(stamps, dtype="datetime64[s]").astype(np.int64).astype(np.float64)
    except ValueError as exc:
        raise NabCorpusError(f"{path}: a timestamp is not a valid date: {exc}") from exc
    return tuple(stamps), monotone(times), np.array(values, dtype=np.float64)


def _window_rows(key: str, stamps: tuple[str, ...], limits: list[list[str]]) -> tuple[tuple[int, int], ...]:
    index: dict[str, int] = {}
    for i, s in enumerate(stamps):
        index.setdefault(s, i)
    rows = []
    for start, end in limits:
        lo, hi = index.get(start[:19]), index.get(end[:19])
        if lo is None or hi is None or hi < lo:
            raise NabCorpusError(f"{key}: window [{start}, {end}] does not match rows of the file")
        rows.append((lo, hi))
    return tuple(rows)


def load_corpus(root: Path, *, only: list[str] | None = None) -> list[NabFile]:
    """Every file listed in ``labels/combined_windows.json`` under ``root`` (NAB's layout), sorted by key.

    ``only`` keeps the keys that contain one of its strings.
    """
    labels_path = root / WINDOWS_FILE
    if not labels_path.is_file():
        raise NabCorpusError(f"{root}: no {WINDOWS_FILE} (expected NAB's layout: data/, labels/)")
    try:
        labels: dict[str, list[list[str]]] = json.loads(labels_path.read_text())
    except json.JSONDecodeError as exc:
        raise NabCorpusError(f"{labels_path}: not JSON: {exc}") from exc
    files = []
    for key in sorted(labels):
        if only and not any(s in key for s in only):
            continue
        path = path_under(root / "data", key)
        if not path.is_file():
            raise NabCorpusError(f"{path}: listed in {WINDOWS_FILE} but missing")
        stamps, times, values = read_data_file(path, key)
        files.append(NabFile(key, stamps, times, values, _window_rows(key, stamps, labels[key])))
    if not files:
        raise NabCorpusError(f"{root}: no data file matches {only!r}")
    return files


def read_scores(path: Path, n_rows: int) -> FloatArray:
    """The ``anomaly_score`` column of a NAB results file (``timestamp,anomaly_score,...``)."""
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None) or []
        if "anomaly_score" not in header:
            raise NabCorpusError(f"{path}: no anomaly_score column")
        col = header.index("anomaly_score")
        try:
            scores = np.array([float(row[col]) for row in reader], dtype=np.float64)
        except (ValueError, IndexError) as exc:
            raise NabCorpusError(f"{path}: malformed anomaly_score: {exc}") from exc
    if scores.size != n_rows:
        raise NabCorpusError(f"{path}: {scores.size} scores for {n_rows} data rows")
    return scores
