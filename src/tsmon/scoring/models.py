"""Model registry: per (config, series) versioned detectors with JSON state, training data checksums."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from psycopg import sql
from psycopg.types.json import Jsonb

from tsmon.db import Conn
from tsmon.detection import BaseDetector, from_state, make_detector, to_state
from tsmon.scoring.configs import DetectionConfig
from tsmon.scoring.drift import DRIFT_RECENT, summarize
from tsmon.scoring.policy import EXCLUDED_FEEDBACK
from tsmon.windows.reader import fetch_windows

MIN_TRAINING_POINTS = 30


@dataclass(frozen=True)
class Model:
    series_id: int
    version: int
    detector: BaseDetector
    trained_at: datetime
    train_end: datetime
    distribution: dict[str, object]


class ModelCache:
    """The newest model per (config, series) a process has loaded; the worker's context owns one.

    Versions never change once written, so it cannot disagree with another worker; trained_at is
    compared too, as a scratch database reusing the ids holds other models. Emptied when full.
    """

    def __init__(self, max_entries: int = 1_000_000) -> None:
        self.max_entries = max_entries
        self._models: dict[tuple[int, int], Model] = {}

    def get(self, config_id: int, series_id: int) -> Model | None:
        return self._models.get((config_id, series_id))

    def put(self, config_id: int, model: Model) -> Model:
        if len(self._models) >= self.max_entries:
            self._models.clear()
        self._models[(config_id, model.series_id)] = model
        return model

    def clear(self) -> None:
        self._models.clear()


def checksum(times: np.ndarray, values: np.ndarray) -> str:
    return hashlib.sha256(times.astype("<f8").tobytes() + values.astype("<f8").tobytes()).hexdigest()


def active_models(
    conn: Conn, config: DetectionConfig, series_ids: list[int], cache: ModelCache | None = None
) -> dict[int, Model]:
    """The newest version for each series that has one; states are parsed once per ``cache``."""
    cache = cache if cache is not None else ModelCache()
    newest = conn.execute(
        "SELECT DISTINCT ON (series_id) series_id, version, trained_at FROM tsmon.models "
        "WHERE config_id = %s AND series_id = ANY(%s) ORDER BY series_id, version DESC",
        (config.id, series_ids),
    ).fetchall()
    models, missing = {}, []
    for series_id, version, trained_at in newest:
        sid = int(series_id)
        cached = cache.get(config.id, sid)
        if cached is not None and cached.version == version and cached.trained_at == trained_at:
            models[sid] = cached
        else:
            missing.append(sid)
    rows = (
        conn.execute(
            "SELECT DISTINCT ON (series_id) series_id, version, state, trained_at, train_end, "
            "quality -> 'distribution' FROM tsmon.models "
            "WHERE config_id = %s AND series_id = ANY(%s) ORDER BY series_id, version DESC",
            (config.id, missing),
        ).fetchall()
        if missing
        else []
    )
    for series_id, version, state, trained_at, train_end, distribution in rows:
        assert isinstance(trained_at, datetime) and isinstance(train_end, datetime)
        sid, ver = int(series_id), int(version)
        model = Model(sid, ver, from_state(state), trained_at, train_end, dict(distribution or {}))
        models[sid] = cache.put(config.id, model)
    return models


# The rows a model trains on: the training window without the periods of anomaly events judged
# false alarms or ignored (policy.EXCLUDED_FEEDBACK). Confirmed and unjudged events stay in: a
# model that never sees a series' bursts calls the next ordinary one extremely rare. Series
# retrained for drift keep the periods of events still open: the ongoing condition is the new
# normal the model must learn.
_OUTSIDE_EVENTS = sql.SQL(
    "NOT EXISTS (SELECT 1 FROM tsmon.anomalies a WHERE a.config_id = %(config)s "
    "AND a.series_id = w.series_id AND w.bucket >= a.started_at "
    "AND w.bucket <= coalesce(a.ended_at, 'infinity') AND a.feedback = ANY(%(excluded)s) "
    "AND (a.status = 'closed' OR NOT w.series_id = ANY(%(keep_open)s)))"
)
_INSERT = (
    "INSERT INTO tsmon.models (config_id, series_id, version, detector, params, state, train_start, "
    "train_end, train_points, data_checksum, quality, reason) "
    "SELECT %(config)s, %(series)s, coalesce(max(version), 0) + 1, %(detector)s, %(params)s, %(state)s, "
    "to_timestamp(%(train_start)s), %(train_end)s, %(points)s, %(checksum)s, %(quality)s, %(reason)s "
    "FROM tsmon.models WHERE config_id = %(config)s AND series_id = %(series)s "
    "RETURNING series_id, version, trained_at"
)


def train_many(
    conn: Conn,
    config: DetectionConfig,
    reasons: dict[int, str],
    end: datetime,
    cache: ModelCache | None = None,
) -> dict[int, Model]:
    """Fit a new version per series on the window before ``end``: one read, one batched insert.

    ``reasons`` maps series ids to why they are trained ('initial', 'schedule', 'drift'). Series
    with fewer than MIN_TRAINING_POINTS windows there get no model yet.
    """
    if not reasons:
        return {}
    windows = fetch_windows(
        conn,
        config.resolution,
        list(reasons),
        end - config.training_window,
        end,
        condition=_OUTSIDE_EVENTS,
        params={
            "config": config.id,
            "keep_open": [s for s, r in reasons.items() if r == "drift"],
            "excluded": list(EXCLUDED_FEEDBACK),
        },
    )
    params = {**config.params, "threshold": config.threshold}
    fitted: dict[int, tuple[BaseDetector, dict[str, object]]] = {}
    rows = []
    for sid, times, values in windows.by_series():
        if values.size < MIN_TRAINING_POINTS:
            continue
        detector = make_detector(config.detector, **params).fit(values, timestamps=times)
        scores = detector.score_samples(values, timestamps=times)
        distribution = summarize(times, values, DRIFT_RECENT[config.resolution], detector)
        quality = {
            "train_points": int(values.size),
            "train_anomaly_rate": float(np.mean(scores >= config.threshold)),
            "distribution": distribution,
        }
        fitted[sid] = (detector, distribution)
        rows.append(
            {
                "config": config.id,
                "series": sid,
                "detector": config.detector,
                "params": Jsonb(params),
                "state": Jsonb(json.loads(json.dumps(to_state(detector)))),
                "train_start": float(times[0]),
                "train_end": end,
                "points": int(values.size),
                "checksum": checksum(times, values),
                "quality": Jsonb(quality),
                "reason": reasons[sid],
            }
        )
    models: dict[int, Model] = {}
    if not rows:
        return models
    with conn.cursor() as cur:
        cur.executemany(_INSERT, rows, returning=True)
        while True:
            for row in cur.fetchall():
                sid, version, trained_at = int(row[0]), int(row[1]), row[2]
                assert isinstance(trained_at, datetime)
                detector, distribution = fitted[sid]
                model = Model(sid, version, detector, trained_at, end, distribution)
                models[sid] = model if cache is None else cache.put(config.id, model)
            if not cur.nextset():
                break
    return models


def train(
    conn: Conn,
    config: DetectionConfig,
    series_id: int,
    end: datetime,
    reason: str,
    *,
    cache: ModelCache | None = None,
) -> Model | None:
    """Fit a new version of one series' model; None when there is too little data yet."""
    return train_many(conn, config, {series_id: reason}, end, cache).get(series_id)
