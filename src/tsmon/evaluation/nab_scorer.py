"""NAB's scoring rules: windowed sigmoid credit, per-row false positives, one threshold per profile."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tsmon.evaluation.nab_corpus import FloatArray, NabFile


@dataclass(frozen=True)
class Profile:
    name: str
    tp: float
    fn: float
    fp: float


PROFILES = (
    Profile("standard", 1.0, 1.0, 0.11),
    Profile("reward_low_FP_rate", 1.0, 1.0, 0.22),
    Profile("reward_low_FN_rate", 1.0, 2.0, 0.11),
)


def sigmoid(y: FloatArray) -> FloatArray:
    """NAB's scaled sigmoid: ``2 / (1 + exp(5y)) - 1``, and -1 beyond ``y = 3``."""
    out = 2.0 / (1.0 + np.exp(5.0 * np.minimum(y, 3.0))) - 1.0
    return np.where(y > 3.0, -1.0, out)


_S_MINUS_ONE = float(sigmoid(np.array([-1.0]))[0])


@dataclass(frozen=True)
class Sweep:
    """A file's raw score as a step function of the threshold: ``base + sum(delta[thr >= threshold])``."""

    thresholds: FloatArray  # descending
    deltas: FloatArray
    base: float

    def at(self, threshold: float) -> float:
        return self.base + float(self.deltas[self.thresholds >= threshold].sum())


def sweep(scores: FloatArray, file: NabFile, profile: Profile) -> Sweep:
    """The contributions of ``scores`` to the raw score, keyed by the threshold from which they count.

    A window's credit is that of its earliest detection: at a threshold the earliest row reaching
    it, so the rows whose score beats every earlier row of the window each change the credit.
    """
    n = scores.size
    first = file.probation
    in_window = np.zeros(n, dtype=bool)
    # Rows after a window take their false-positive weight from the most recent window.
    prev_right = np.full(n, -1)
    prev_width = np.ones(n)
    thr: list[FloatArray] = []
    delta: list[FloatArray] = []
    for lo, hi in file.windows:
        in_window[lo : hi + 1] = True
        prev_right[hi + 1 :] = hi
        prev_width[hi + 1 :] = hi - lo + 1
        width = hi - lo + 1
        rows = np.arange(max(lo, first), hi + 1)
        if rows.size == 0:
            continue
        s = scores[rows]
        records = np.flatnonzero(s > np.concatenate(([-np.inf], np.maximum.accumulate(s)[:-1])))
        credit = profile.tp * sigmoid(-(hi - rows[records] + 1) / width) / _S_MINUS_ONE
        # Sweeping the threshold down, the last record is met first: it replaces the miss, and each
        # earlier record replaces the one after it.
        values = np.concatenate(([-profile.fn], credit[::-1]))
        thr.append(s[records][::-1])
        delta.append(np.diff(values))
    outside = np.flatnonzero(~in_window)
    outside = outside[outside >= first]
    right, prev = prev_right[outside], prev_width[outside]
    y = np.abs(outside - right) / np.maximum(prev - 1, 1)
    fp = np.where(right < 0, -1.0, sigmoid(y)) * profile.fp
    thr.append(scores[outside])
    delta.append(fp)
    t, d = np.concatenate(thr), np.concatenate(delta)
    order = np.argsort(-t, kind="stable")
    return Sweep(t[order], d[order], -profile.fn * len(file.windows))


@dataclass(frozen=True)
class Optimum:
    threshold: float  # inf: never fire
    raw: float


def best_threshold(sweeps: Sequence[Sweep]) -> Optimum:
    """The threshold among all scores (or never firing) that maximises the summed raw score."""
    base = sum(s.base for s in sweeps)
    t = np.concatenate([s.thresholds for s in sweeps])
    d = np.concatenate([s.deltas for s in sweeps])
    if t.size == 0:
        return Optimum(math.inf, base)
    order = np.argsort(-t, kind="stable")
    t, total = t[order], base + np.cumsum(d[order])
    # A threshold admits every row scoring at least it: the sum at the last row of each tie group.
    ends = np.flatnonzero(np.append(t[1:] != t[:-1], True))
    i = int(ends[np.argmax(total[ends])])
    if total[i] <= base:
        return Optimum(math.inf, base)
    return Optimum(float(t[i]), float(total[i]))


def normalise(raw: float, n_windows: int, profile: Profile) -> float:
    null, perfect = -n_windows * profile.fn, n_windows * profile.tp
    return 100.0 * (raw - null) / (perfect - null)


@dataclass(frozen=True)
class NabResult:
    scores: dict[str, float]  # profile name -> normalised score at the corpus-optimised threshold
    thresholds: dict[str, float]
    fixed: dict[str, float]  # profile name -> normalised score at thresholds chosen on other families
    fixed_thresholds: dict[str, dict[str, float]]  # profile -> family -> threshold used on it


def score_corpus(files: Sequence[NabFile], scores: Sequence[FloatArray]) -> NabResult:
    """Normalised NAB scores per profile, at the oracle threshold and leave-one-family-out."""
    n_windows = sum(len(f.windows) for f in files)
    families = sorted({f.family for f in files})
    result = NabResult({}, {}, {}, {})
    for profile in PROFILES:
        sweeps = [sweep(s, f, profile) for f, s in zip(files, scores, strict=True)]
        best = best_threshold(sweeps)
        result.scores[profile.name] = normalise(best.raw, n_windows, profile)
        result.thresholds[profile.name] = best.threshold
        raw, chosen = 0.0, {}
        for family in families:
            others = [s for f, s in zip(files, sweeps, strict=True) if f.family != family]
            mine = [s for f, s in zip(files, sweeps, strict=True) if f.family == family]
            chosen[family] = best_threshold(others).threshold if others else math.inf
            raw += sum(s.at(chosen[family]) for s in mine)
        result.fixed[profile.name] = normalise(raw, n_windows, profile)
        result.fixed_thresholds[profile.name] = chosen
    return result
