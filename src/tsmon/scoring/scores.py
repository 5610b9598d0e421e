"""Score a range of windows with given models and write the rows (replacing any already there)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from tsmon.db import Conn
from tsmon.detection import BaseDetector
from tsmon.scoring.configs import DetectionConfig
from tsmon.scoring.models import Model
from tsmon.windows.reader import fetch_windows

CONTEXT_POINTS = BaseDetector.scoring_context  # what detectors that look back get; scores not written
_COPY = (
    "COPY tsmon.anomaly_scores (time, series_id, config_id, detector, model_version, score, expected, lower, "
    "upper, is_anomaly) FROM STDIN"
)
Flags = list[tuple[datetime, float, bool]]
FloatArray = npt.NDArray[np.float64]


def score_series(
    model: Model, times: FloatArray, values: FloatArray, threshold: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Scores, expected values and bands of one series' windows (context first) at ``threshold``."""
    if model.detector.threshold != threshold:  # set_params is slow; feedback changes it rarely
        model.detector.set_params(threshold=threshold)
    return model.detector.score_and_bands(values, timestamps=times)


def write_scores(
    conn: Conn,
    config: DetectionConfig,
    models: dict[int, Model],
    start: datetime,
    stop: datetime,
    *,
    starts: dict[int, datetime] | None = None,
) -> dict[int, tuple[int, Flags]]:
    """Score windows in [start, stop) of the series that have a model; per series (model version, flags).

    A series in ``starts`` is scored from its own start instead (a first model's first window).
    """
    starts = {sid: starts[sid] for sid in models if sid in starts} if starts else {}
    lowest = min([start, *starts.values()])
    context = max(m.detector.scoring_context for m in models.values()) if models else 0
    windows = fetch_windows(conn, config.resolution, list(models), lowest - context * config.step, stop)
    out, result = io.StringIO(), {}
    threshold = config.threshold
    for sid, times, values in windows.by_series():
        model = models[sid]
        scores, expected, lower, upper = score_series(model, times, values, threshold)
        new = np.flatnonzero(times >= starts.get(sid, start).timestamp()).tolist()
        flags = [
            (datetime.fromtimestamp(float(times[i]), UTC), float(scores[i]), bool(scores[i] >= threshold))
            for i in new
        ]
        for i, (t, score, anomalous) in zip(new, flags, strict=True):
            out.write(
                f"{t.isoformat()}\t{sid}\t{config.id}\t{model.detector_name}\t{model.version}\t{score!r}\t"
                f"{float(expected[i])!r}\t{float(lower[i])!r}\t{float(upper[i])!r}\t"
                f"{'t' if anomalous else 'f'}\n"
            )
        result[sid] = (model.version, flags)
    # Scoring a window again (a crash and rerun, late data) replaces its row: never a duplicate.
    conn.execute(
        "DELETE FROM tsmon.anomaly_scores "
        "WHERE config_id = %s AND series_id = ANY(%s) AND time >= %s AND time < %s",
        (config.id, [sid for sid in models if sid not in starts], start, stop),
    )
    if starts:
        conn.execute(
            "DELETE FROM tsmon.anomaly_scores s USING unnest(%s::bigint[], %s::timestamptz[]) u(sid, lo) "
            "WHERE s.config_id = %s AND s.series_id = u.sid AND s.time >= u.lo AND s.time >= %s "
            "AND s.time < %s",
            (list(starts), list(starts.values()), config.id, lowest, stop),
        )
    with conn.cursor() as cur, cur.copy(_COPY) as copy:
        copy.write(out.getvalue())
    return result
