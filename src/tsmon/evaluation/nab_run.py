"""A detector over the whole NAB corpus: replay every file on both cores, write results, score them."""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tsmon.evaluation._pool import map_corpus
from tsmon.evaluation.metrics import auc_pr, vus_pr
from tsmon.evaluation.nab_corpus import FloatArray, NabFile, path_under
from tsmon.evaluation.nab_scorer import PROFILES, score_corpus
from tsmon.evaluation.replay import DetectorSpec, replay


@dataclass(frozen=True)
class FileRun:
    key: str
    surprise: FloatArray
    fit_seconds: float
    score_seconds: float
    trainings: dict[str, int]


def _run_one(job: tuple[NabFile, DetectorSpec]) -> FileRun:
    file, spec = job
    result = replay(file.times, file.values, spec)
    return FileRun(file.key, result.surprise, result.fit_seconds, result.score_seconds, result.trainings)


def run_corpus(
    files: Sequence[NabFile],
    spec: DetectorSpec,
    *,
    workers: int | None = None,
    progress: Callable[[FileRun], None] | None = None,
) -> list[FileRun]:
    """Replay every file (largest first, ``workers`` processes, default one per core), in ``files`` order."""
    jobs = [(f, spec) for f in files]
    return map_corpus(_run_one, jobs, size=lambda j: j[0].values.size, workers=workers, progress=progress)


def write_results(out: Path, files: Sequence[NabFile], runs: Sequence[FileRun]) -> None:
    """``<out>/<family>/<file>.csv``: timestamp, anomaly_score and surprise (``-log10(1 - score)``, exact)."""
    for file, run in zip(files, runs, strict=True):
        path = path_under(out, file.key)
        path.parent.mkdir(parents=True, exist_ok=True)
        scores = -np.expm1(-math.log(10.0) * run.surprise)
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["timestamp", "anomaly_score", "surprise"])
            for stamp, score, surprise in zip(
                file.stamps, scores.tolist(), run.surprise.tolist(), strict=True
            ):
                writer.writerow([stamp, repr(score), repr(surprise)])


def labels_of(file: NabFile) -> FloatArray:
    labels = np.zeros(file.values.size)
    for lo, hi in file.windows:
        labels[lo : hi + 1] = 1.0
    return labels


def summary(
    files: Sequence[NabFile], surprises: Sequence[FloatArray], *, seconds: float = 0.0
) -> dict[str, Any]:
    """The figures `tsmon eval nab --json` prints; thresholds are surprises (``-log10`` tail probability)."""
    result = score_corpus(files, surprises)
    scored = [(labels_of(f)[f.probation :], s[f.probation :]) for f, s in zip(files, surprises, strict=True)]
    scored = [(lab, s) for lab, s in scored if lab.any()]
    out: dict[str, Any] = {p.name: round(result.scores[p.name], 2) for p in PROFILES}
    out["fixed_threshold"] = {
        **{p.name: round(result.fixed[p.name], 2) for p in PROFILES},
        "method": "leave one family out: each family scored at the threshold optimal on the others",
        "thresholds": {
            p.name: {fam: _finite(t) for fam, t in result.fixed_thresholds[p.name].items()} for p in PROFILES
        },
    }
    out["vus_pr"] = round(float(np.mean([vus_pr(lab, s) for lab, s in scored])), 4)
    out["auc_pr"] = round(float(np.mean([auc_pr(lab, s) for lab, s in scored])), 4)
    out["thresholds"] = {p.name: _finite(result.thresholds[p.name]) for p in PROFILES}
    out["rows"] = int(sum(f.values.size for f in files))
    out["files"] = len(files)
    if seconds:
        out["seconds"] = round(seconds, 1)
    return out


def _finite(t: float) -> float | None:
    return None if math.isinf(t) else round(t, 4)


def timed_run(files: Sequence[NabFile], spec: DetectorSpec, **kwargs: Any) -> tuple[list[FileRun], float]:
    began = time.perf_counter()
    runs = run_corpus(files, spec, **kwargs)
    return runs, time.perf_counter() - began
