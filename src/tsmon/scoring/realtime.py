"""Real-time scoring (POST /api/v1/score): a series' active model applied to points sent, nothing stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from psycopg.types.json import Jsonb

from tsmon.db import Conn
from tsmon.detection import BaseDetector, from_state
from tsmon.errors import TsmonError


class NoModelError(TsmonError):
    """No trained model exists for the series (and config) asked for."""


class AmbiguousConfigError(TsmonError):
    """Several detection configs score the series and the request names none."""


class InvalidPointsError(TsmonError):
    """The points are not in time order or have non-finite values."""


@dataclass(frozen=True)
class ActiveModel:
    series_id: int
    config: str
    version: int
    detector_name: str
    threshold: float
    detector: BaseDetector


class DetectorCache:
    """Detectors parsed from their stored state, by (config, series, version); owned by the app.

    Model versions never change once written, so an entry never goes stale; the cache is emptied
    when it reaches ``max_entries`` (a newer version of a series makes the older entry unused).
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._detectors: dict[tuple[int, int, int], BaseDetector] = {}

    def get(self, key: tuple[int, int, int], state: dict[str, Any]) -> BaseDetector:
        detector = self._detectors.get(key)
        if detector is None:
            if len(self._detectors) >= self.max_entries:
                self._detectors.clear()
            detector = self._detectors[key] = from_state(state)
        return detector


def load_active_model(
    conn: Conn,
    cache: DetectorCache,
    *,
    series_id: int | None,
    metric: str | None,
    labels: dict[str, str],
    config: str | None,
) -> ActiveModel:
    """The newest model of a series (by id, or metric + labels) under the named or only config."""
    rows = conn.execute(
        "SELECT series_id, config_id, config, version, detector, state, threshold "
        "FROM tsmon.scoring_model(%s, %s, %s, %s)",
        (series_id, metric, Jsonb(labels) if metric else None, config),
    ).fetchall()
    if not rows:
        raise NoModelError("no trained model for that series (and config)")
    if len(rows) > 1 and rows[0][1] != rows[1][1]:
        raise AmbiguousConfigError("several detection configs score this series: name one with `config`")
    sid, config_id, config_name, version, detector_name, state, threshold = rows[0]
    detector = cache.get((int(config_id), int(sid), int(version)), state)
    return ActiveModel(
        int(sid), str(config_name), int(version), str(detector_name), float(threshold), detector
    )


def score_points(
    model: ActiveModel, times: npt.NDArray[np.float64], values: npt.NDArray[np.float64]
) -> dict[str, Any]:
    """Per point: score, expected, lower, upper and is_anomaly at the config's threshold."""
    if np.any(np.diff(times) < 0) or not np.all(np.isfinite(values)):
        raise InvalidPointsError("points must be in time order, with finite values")
    detector = model.detector
    if detector.threshold != model.threshold:  # set_params is slow; the threshold changes rarely
        detector.set_params(threshold=model.threshold)
    scores, expected, lower, upper = detector.score_and_bands(values, timestamps=times)
    flags = (scores >= model.threshold).tolist()
    return {
        "series_id": model.series_id,
        "config": model.config,
        "model_version": model.version,
        "detector": model.detector_name,
        "threshold": model.threshold,
        "scores": [
            {"time": t, "value": v, "score": sc, "expected": e, "lower": lo, "upper": hi, "is_anomaly": a}
            for t, v, sc, e, lo, hi, a in zip(
                times.tolist(),
                values.tolist(),
                scores.tolist(),
                expected.tolist(),
                lower.tolist(),
                upper.tolist(),
                flags,
                strict=True,
            )
        ],
    }
