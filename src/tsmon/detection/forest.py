"""Isolation Forest and Local Outlier Factor over causal window features of each point."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor
from sklearn.utils import check_random_state

from tsmon.detection._util import FloatArray, noise_scale, robust_scale, trailing, value_floor, with_history
from tsmon.detection.base import Bands, BaseDetector
from tsmon.detection.calibration import UpperTailCalibrator
from tsmon.detection.robust import _check_window

MAX_TRAIN_ROWS = 10_000  # most recent rows kept (and stored) for fitting; bounds state size
_BAND_STEPS = 16  # candidate values on each side of a point's expected value (see _bands)


def _mean(w: FloatArray) -> FloatArray:
    return np.asarray(np.mean(w, axis=-1), dtype=np.float64)


def _sums(w: FloatArray) -> FloatArray:
    return np.stack((np.sum(w, axis=-1), np.sum(w * w, axis=-1)))


class _WindowFeatureDetector(BaseDetector):
    """Features of point ``x_t`` with ``w`` = ``window``: the value, the step ``x_t - x_{t-1}``, the
    deviation from the mean of the previous ``w`` points, and the standard deviation of the ``w``
    points ending at ``x_t`` (a flat line is a vanishing one).  Each is robustly standardised on the
    training window.  The model's anomaly score is calibrated one-sided (see ``UpperTailCalibrator``).

    Bands: each point's value is replaced by candidates around the previous window's mean, out
    to 50 noise sigmas or the training range, and scored; ``[lower, upper]`` spans the candidates
    scoring below the threshold (about 33 model evaluations per point, so bands cost far more
    than scores).  Expected value: that mean, clipped into the band.

    State (``state.py``): the standardised training features and the seed are stored, and the
    model is refitted on load, which reproduces it exactly on the same scikit-learn version.
    """

    window: int

    def _build(self) -> Any:
        raise NotImplementedError

    def _train_raw(self) -> FloatArray:
        raise NotImplementedError

    def _features(self, full: FloatArray, start: int) -> FloatArray:
        w = self.window_
        x = full[start:]
        prev = np.concatenate(([np.nan], full))[start : start + x.size]
        mean = trailing(full, start, w, _mean, w)
        std = trailing(full, start, w, lambda v: np.std(v, axis=-1), w, include_current=True)
        return np.column_stack((x, x - prev, x - mean, std))

    def _fit(self, values: FloatArray, t: FloatArray) -> FloatArray:
        self.window_ = min(_check_window(self.window, 1), max(1, values.size // 4))
        feats = self._features(values, 0)
        valid = np.all(np.isfinite(feats), axis=1)
        if np.count_nonzero(valid) < 3:
            raise ValueError(f"{type(self).__name__} needs at least {self.window_ + 3} samples")
        floor = value_floor(values)
        good = feats[valid][-MAX_TRAIN_ROWS:]
        self.center_ = np.median(good, axis=0)
        self.scale_ = np.array([robust_scale(col, floor) for col in good.T])
        self.train_features_ = (good - self.center_) / self.scale_
        self.noise_ = noise_scale(values)
        self.reach_ = max(50.0 * self.noise_, float(np.ptp(values)))
        self.history_ = values[-self.window_ :].copy()
        self._restore()
        self.calibrator_ = UpperTailCalibrator.fit(self._train_raw())
        scores = np.zeros(values.size)
        scores[np.flatnonzero(valid)[-good.shape[0] :]] = self.calibrator_.score(self._train_raw())
        return scores

    def _restore(self) -> None:
        self.model_ = self._build()

    def _raw(self, feats: FloatArray) -> FloatArray:
        out = np.full(feats.shape[0], np.nan)
        valid = np.all(np.isfinite(feats), axis=1)
        if np.any(valid):
            out[valid] = -self.model_.score_samples((feats[valid] - self.center_) / self.scale_)
        return out

    def _score(self, values: FloatArray, t: FloatArray) -> FloatArray:
        full, start = with_history(self.history_, values)
        return self.calibrator_.score(self._raw(self._features(full, start)))

    def _candidate_scores(self, cand: FloatArray, ctx: tuple[FloatArray, ...]) -> FloatArray:
        """Scores if each point's value were ``cand`` (shape (k, n)), the points before it unchanged."""
        base, prev, s1, s2 = ctx
        w = self.window_
        std = np.sqrt(np.maximum((s2 + cand**2) / w - ((s1 + cand) / w) ** 2, 0.0))
        grid = np.stack((cand, cand - prev, cand - base, std), axis=-1).reshape(-1, 4)
        return self.calibrator_.score(self._raw(grid)).reshape(cand.shape)

    def _bands(self, values: FloatArray, t: FloatArray, level: float) -> Bands:
        full, start = with_history(self.history_, values)
        n = values.size
        feats = self._features(full, start)
        base = np.where(np.isfinite(feats[:, 2]), values - feats[:, 2], values)
        sums = trailing(full, start, self.window_ - 1, _sums, 1) if self.window_ > 1 else np.zeros((2, n))
        ctx = (base, values - feats[:, 1], sums[0], sums[1])
        steps = np.geomspace(0.2 * self.noise_, self.reach_, _BAND_STEPS)
        offsets = np.concatenate((-steps[::-1], [0.0], steps))
        cand = base[None, :] + offsets[:, None]
        inside = self._candidate_scores(cand, ctx) < level
        cols = np.arange(n)
        first = np.argmax(inside, axis=0)
        last = offsets.size - 1 - np.argmax(inside[::-1], axis=0)
        empty = ~inside.any(axis=0)
        edges = []
        # Bisect each edge between the outermost inside candidate and its outside neighbour.
        for edge, step in ((first, -1), (last, 1)):
            ins = cand[edge, cols]
            out = np.where(
                (edge + step >= 0) & (edge + step < offsets.size),
                cand[np.clip(edge + step, 0, offsets.size - 1), cols],
                ins,
            )
            for _ in range(6):
                mid = (ins + out) / 2
                ok = self._candidate_scores(mid[None, :], ctx)[0] < level
                ins, out = np.where(ok, mid, ins), np.where(ok, out, mid)
            edges.append(np.where(empty, base, ins))
        lower, upper = edges
        return np.clip(base, lower, upper), lower, upper


class IsolationForestDetector(_WindowFeatureDetector):
    __doc__ = """Isolation Forest (scikit-learn) over window features.

    Good at: spikes, jumps and unusual volatility, including flat lines (a collapsed spread) and
    combinations no single feature shows.  Weak at: seasonal breaks within the usual range.

    Parameters
    ----------
    n_estimators : int, default=100
    window : int, default=20
        Samples in the trailing windows (reduced to a quarter of a short training window).
    random_state : int, RandomState or None, default=None
        Seed of the forest; None draws one at fit time, which is kept in ``seed_``.
    threshold : float, default=0.99

    """ + (_WindowFeatureDetector.__doc__ or "")

    def __init__(
        self,
        *,
        n_estimators: int = 100,
        window: int = 20,
        random_state: int | np.random.RandomState | None = None,
        threshold: float = 0.99,
    ) -> None:
        self.n_estimators = n_estimators
        self.window = window
        self.random_state = random_state
        self.threshold = threshold

    def _fit(self, values: FloatArray, t: FloatArray) -> FloatArray:
        self.seed_ = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        return super()._fit(values, t)

    def _build(self) -> Any:
        return IsolationForest(n_estimators=self.n_estimators, random_state=self.seed_).fit(
            self.train_features_
        )

    def _train_raw(self) -> FloatArray:
        return np.asarray(-self.model_.score_samples(self.train_features_), dtype=np.float64)


class LOFDetector(_WindowFeatureDetector):
    __doc__ = """Local Outlier Factor (scikit-learn, ``novelty=True``) over window features.

    Calibrated on the training points' own LOF (``negative_outlier_factor_``), which leaves each
    point out of its neighbourhood, as scoring new points does.

    Good at: points in sparse regions of feature space, such as spikes, new levels, flat lines;
    handles multi-modal normal behaviour (several usual levels) well.  Weak at: seasonal breaks.

    Parameters
    ----------
    n_neighbors : int, default=20
    window : int, default=20
        Samples in the trailing windows (reduced to a quarter of a short training window).
    threshold : float, default=0.99

    """ + (_WindowFeatureDetector.__doc__ or "")

    def __init__(self, *, n_neighbors: int = 20, window: int = 20, threshold: float = 0.99) -> None:
        self.n_neighbors = n_neighbors
        self.window = window
        self.threshold = threshold

    def _build(self) -> Any:
        k = max(1, min(self.n_neighbors, self.train_features_.shape[0] - 1))
        return LocalOutlierFactor(n_neighbors=k, novelty=True).fit(self.train_features_)

    def _train_raw(self) -> FloatArray:
        return np.asarray(-self.model_.negative_outlier_factor_, dtype=np.float64)
