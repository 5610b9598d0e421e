"""Training: a new model version per series on its training window, one read and one batched insert."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from psycopg import sql
from psycopg.types.json import Jsonb

from tsmon.db import Conn
from tsmon.detection import BaseDetector, make_detector, to_state
from tsmon.scoring import policy
from tsmon.scoring.configs import DetectionConfig
from tsmon.scoring.drift import DRIFT_RECENT, summarize
from tsmon.scoring.models import MIN_TRAINING_POINTS, Model, ModelCache, fit_params
from tsmon.windows.reader import fetch_windows

FloatArray = npt.NDArray[np.float64]
# One model to fit: series, rows (epoch seconds, values), train_end (the first window it scores), reason.
Fit = tuple[int, FloatArray, FloatArray, datetime, str]

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


def checksum(times: np.ndarray, values: np.ndarray) -> str:
    return hashlib.sha256(times.astype("<f8").tobytes() + values.astype("<f8").tobytes()).hexdigest()


def train_many(
    conn: Conn,
    config: DetectionConfig,
    reasons: dict[int, str],
    end: datetime,
    cache: ModelCache | None = None,
) -> dict[int, Model]:
    """Fit a new version per series on the window before ``end``: one read, one batched insert.

    ``reasons`` maps series ids to why they are trained ('initial', 'schedule', 'drift', 'config').
    Series with fewer than MIN_TRAINING_POINTS windows there get no model yet.
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
            "excluded": list(policy.EXCLUDED_FEEDBACK),
        },
    )
    fits = [
        (sid, times, values, end, reasons[sid])
        for sid, times, values in windows.by_series()
        if values.size >= MIN_TRAINING_POINTS
    ]
    return store(conn, config, fits, cache)


def train_first(
    conn: Conn,
    config: DetectionConfig,
    series: list[int],
    lower: datetime,
    stop: datetime,
    *,
    cache: ModelCache | None = None,
) -> dict[int, Model]:
    """First models of series never trained under ``config``, each where its scoring can start.

    That is the first window in ``[lower, stop)`` with MIN_TRAINING_POINTS windows in its training
    window (`policy.first_window`): after a bulk import of a little history, scoring starts at the
    first window a model can score, not at the next run. The model's train_end is that window.
    """
    if not series:
        return {}
    window, step = config.training_window.total_seconds(), config.step.total_seconds()
    windows = fetch_windows(conn, config.resolution, series, lower - config.training_window, stop)
    fits: list[Fit] = []
    for sid, times, values in windows.by_series():
        first = policy.first_window(times, lower.timestamp(), window, step, MIN_TRAINING_POINTS)
        if first is None or first >= stop.timestamp():
            continue
        rows = (times >= first - window) & (times < first)
        fits.append((sid, times[rows], values[rows], datetime.fromtimestamp(first, UTC), "initial"))
    return store(conn, config, fits, cache)


def store(conn: Conn, config: DetectionConfig, fits: list[Fit], cache: ModelCache | None) -> dict[int, Model]:
    """Fit each detector on its rows and insert the versions in one batch; the models by series."""
    params = {**config.params, "threshold": config.threshold}
    fitted: dict[int, tuple[BaseDetector, dict[str, object], datetime]] = {}
    rows = []
    for sid, times, values, end, reason in fits:
        detector = make_detector(config.detector, **params).fit(values, timestamps=times)
        scores = detector.score_samples(values, timestamps=times)
        distribution = summarize(times, values, DRIFT_RECENT[config.resolution], detector)
        quality = {
            "train_points": int(values.size),
            "train_anomaly_rate": float(np.mean(scores >= config.threshold)),
            "distribution": distribution,
        }
        fitted[sid] = (detector, distribution, end)
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
                "reason": reason,
            }
        )
    models: dict[int, Model] = {}
    if not rows:
        return models
    configured = fit_params(config.params)
    with conn.cursor() as cur:
        cur.executemany(_INSERT, rows, returning=True)
        while True:
            for row in cur.fetchall():
                sid, version, trained_at = int(row[0]), int(row[1]), row[2]
                assert isinstance(trained_at, datetime)
                detector, distribution, end = fitted[sid]
                model = Model(
                    sid, version, detector, trained_at, end, distribution, config.detector, configured
                )
                models[sid] = model if cache is None else cache.put(config.id, model)
            if not cur.nextset():
                break
    return models
