"""Model registry: per (config, series) versioned detectors with JSON state, training data checksums."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from tsmon.detection import BaseDetector, from_state, make_detector, to_state
from tsmon.scoring.configs import DetectionConfig
from tsmon.scoring.drift import summarize

Conn = psycopg.Connection[tuple[object, ...]]
MIN_TRAINING_POINTS = 30
# Versions never change once written, so a process-wide cache cannot disagree with another worker.
_LOADED: dict[tuple[int, int, int], BaseDetector] = {}


@dataclass(frozen=True)
class Model:
    series_id: int
    version: int
    detector: BaseDetector
    trained_at: datetime
    train_end: datetime
    distribution: dict[str, object]


def checksum(times: np.ndarray, values: np.ndarray) -> str:
    return hashlib.sha256(times.astype("<f8").tobytes() + values.astype("<f8").tobytes()).hexdigest()


def active_models(conn: Conn, config: DetectionConfig, series_ids: list[int]) -> dict[int, Model]:
    """The newest version for each series that has one."""
    rows = conn.execute(
        "SELECT DISTINCT ON (series_id) series_id, version, state, trained_at, train_end, "
        "quality -> 'distribution' FROM tsmon.models "
        "WHERE config_id = %s AND series_id = ANY(%s) ORDER BY series_id, version DESC",
        (config.id, series_ids),
    ).fetchall()
    models = {}
    for series_id, version, state, trained_at, train_end, distribution in rows:
        key = (config.id, int(str(series_id)), int(str(version)))
        detector = _LOADED.get(key)
        if detector is None:
            detector = _LOADED[key] = from_state(state)  # type: ignore[arg-type]
        assert isinstance(trained_at, datetime) and isinstance(train_end, datetime)
        models[key[1]] = Model(key[1], key[2], detector, trained_at, train_end, dict(distribution or {}))  # type: ignore[call-overload]
    return models


def training_data(
    conn: Conn, config: DetectionConfig, series_id: int, end: datetime, *, keep_open: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(epoch seconds, values) of the training window, without the periods of anomaly events.

    Incidents stay out of the baseline whatever their feedback: a model that learns an outage as
    normal stops seeing the next one. ``keep_open`` keeps the periods of events still open: after
    drift, the ongoing condition is the new normal the model must learn.
    """
    query = sql.SQL(
        "SELECT extract(epoch FROM w.bucket)::float8, w.sum / w.count FROM {windows} w "
        "WHERE w.series_id = %(s)s AND w.bucket >= %(start)s AND w.bucket < %(end)s AND NOT EXISTS ("
        "  SELECT 1 FROM tsmon.anomalies a WHERE a.config_id = %(c)s AND a.series_id = w.series_id"
        "  AND w.bucket >= a.started_at AND w.bucket <= coalesce(a.ended_at, 'infinity')"
        "  AND (a.status = 'closed' OR NOT %(keep_open)s)) ORDER BY w.bucket"
    ).format(windows=sql.Identifier("tsmon", f"samples_{config.resolution}"))
    rows = conn.execute(
        query,
        {
            "s": series_id,
            "start": end - config.training_window,
            "end": end,
            "c": config.id,
            "keep_open": keep_open,
        },
    ).fetchall()
    data = np.array(rows, dtype=np.float64).reshape(-1, 2)
    return data[:, 0], data[:, 1]


def train(conn: Conn, config: DetectionConfig, series_id: int, end: datetime, reason: str) -> Model | None:
    """Fit a new version on the window before ``end``; None when there is too little data yet."""
    times, values = training_data(conn, config, series_id, end, keep_open=reason == "drift")
    if values.size < MIN_TRAINING_POINTS:
        return None
    params = {**config.params, "threshold": config.threshold}
    detector = make_detector(config.detector, **params).fit(values, timestamps=times)
    scores = detector.score_samples(values, timestamps=times)
    rate = float(np.mean(scores >= config.threshold))
    quality = {
        "train_points": int(values.size),
        "train_anomaly_rate": rate,
        "distribution": summarize(values),
    }
    state = Jsonb(json.loads(json.dumps(to_state(detector))))
    row = conn.execute(
        "INSERT INTO tsmon.models (config_id, series_id, version, detector, params, state, train_start, "
        "train_end, train_points, data_checksum, quality, reason) "
        "SELECT %s, %s, coalesce(max(version), 0) + 1, %s, %s, %s, to_timestamp(%s), %s, %s, %s, %s, %s "
        "FROM tsmon.models WHERE config_id = %s AND series_id = %s RETURNING version, trained_at",
        (
            config.id,
            series_id,
            config.detector,
            Jsonb(params),
            state,
            float(times[0]),
            end,
            int(values.size),
            checksum(times, values),
            Jsonb(quality),
            reason,
            config.id,
            series_id,
        ),
    ).fetchone()
    assert row is not None and isinstance(row[1], datetime)
    version = int(str(row[0]))
    _LOADED[(config.id, series_id, version)] = detector
    return Model(series_id, version, detector, row[1], end, summarize(values))
