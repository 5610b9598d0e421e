"""A NAB-layout folder of series (``data/<family>/<file>.csv``) read and resampled to a regular step."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tsmon.evaluation.nab_corpus import FloatArray, NabCorpusError, path_under, read_data_file


@dataclass(frozen=True)
class RegularSeries:
    """One file on a regular grid: ``times[i] = times[0] + i * step``."""

    key: str  # "<family>/<file>.csv"
    times: FloatArray
    values: FloatArray
    step: float  # seconds: the file's median spacing
    missing_rate: float  # grid steps no row fell in (filled by linear interpolation)


def resample(times: FloatArray, values: FloatArray) -> tuple[FloatArray, FloatArray, float, float]:
    """Rows onto the grid of their median spacing: mean of the rows in a step, gaps interpolated.

    NAB's files are mostly 5-minute series with missing and doubled rows; forecasters need
    one value per step, and a step's mean is what tsmon's windows would store for it.
    """
    steps = np.diff(times)
    positive = steps[steps > 0]
    step = float(np.median(positive)) if positive.size else 1.0
    slot = np.round((times - times[0]) / step).astype(np.int64)
    n = int(slot[-1]) + 1
    if n > 10 * times.size + 1000:
        raise ValueError(f"{times.size} rows spread over {n} steps of {step:g} s: mostly gaps")
    counts = np.bincount(slot, minlength=n)
    sums = np.bincount(slot, weights=values, minlength=n)
    filled = counts > 0
    grid = np.arange(n, dtype=np.float64)
    out = np.interp(grid, grid[filled], sums[filled] / counts[filled])
    return times[0] + step * grid, out, step, float(1.0 - filled.mean())


def load_series(root: Path, *, only: list[str] | None = None) -> list[RegularSeries]:
    """Every ``data/<family>/<file>.csv`` under ``root``, sorted by key, each resampled.

    The files are found by listing ``data/`` (no label file is needed); each path is checked to
    stay inside it, symbolic links included. ``only`` keeps keys containing one of its strings.
    """
    data = root / "data"
    if not data.is_dir():
        raise NabCorpusError(f"--data {root}: no data/ folder (expected data/<family>/<file>.csv)")
    keys = sorted(f"{p.parent.name}/{p.name}" for p in data.glob("*/*.csv"))
    keys = [k for k in keys if not only or any(s in k for s in only)]
    if not keys:
        raise NabCorpusError(
            f"--data {root}: no data/<family>/<file>.csv" + (f" matching {only!r}" if only else "")
        )
    series = []
    for key in keys:
        path = path_under(data, key)
        _, times, values = read_data_file(path, key)
        if not np.all(np.isfinite(values)):
            raise NabCorpusError(f"{path}: values must be finite numbers")
        try:
            t, y, step, missing = resample(times, values)
        except ValueError as exc:
            raise NabCorpusError(f"{path}: {exc}") from exc
        series.append(RegularSeries(key, t, y, step, missing))
    return series
