"""Late data: windows of the series it touched that were scored before, scored again by the same models.

Only rows whose score changed are rewritten, and only the events around them revised (rebuild.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from tsmon.db import Conn
from tsmon.detection import DETECTORS, BaseDetector
from tsmon.scoring.configs import DetectionConfig
from tsmon.scoring.models import Model, ModelCache, Spans, load_versions, model_spans
from tsmon.scoring.rebuild import revise_events
from tsmon.scoring.scores import score_series
from tsmon.windows.definitions import floor_time
from tsmon.windows.reader import fetch_windows

# Late samples reach the windows at their next refresh (the tsmon job or the 1m policy, every
# minute): ranges are taken once they are this old. It also outlasts any writer's transaction.
SETTLE = timedelta(minutes=2)
Range = tuple[datetime, datetime]
# A score row: time, series, detector, model version, score, expected, lower, upper, is_anomaly.
Row = tuple[datetime, int, str, int, float, float, float, float, bool]
# A score computed again within this (relative) of the stored one is the same score: the row stays.
# Recursive detectors (ewma) differ in the last digits when their context starts elsewhere.
SAME = 1e-6
_UPSERT = (
    "INSERT INTO tsmon.anomaly_scores (time, series_id, config_id, detector, model_version, score, expected, "
    "lower, upper, is_anomaly) SELECT r.t, r.s, %s, r.d, r.v, r.sc, r.e, r.l, r.u, r.a FROM unnest("
    "%s::timestamptz[], %s::bigint[], %s::text[], %s::integer[], %s::float8[], %s::float8[], %s::float8[], "
    "%s::float8[], %s::boolean[]) AS r(t, s, d, v, sc, e, l, u, a) "
    "ON CONFLICT (series_id, config_id, time) DO UPDATE SET detector = EXCLUDED.detector, "
    "model_version = EXCLUDED.model_version, score = EXCLUDED.score, expected = EXCLUDED.expected, "
    "lower = EXCLUDED.lower, upper = EXCLUDED.upper, is_anomaly = EXCLUDED.is_anomaly"
)


def settled_ranges(
    conn: Conn, mark: datetime | None, series: list[int]
) -> tuple[dict[int, list[Range]], datetime | None]:
    """Late-data ranges noted after ``mark`` and settled, merged per series of ``series``; the new mark.

    A range logged without a series applies to every one.
    """
    row = conn.execute(
        "SELECT max(noted_at) FROM tsmon.detection_rescore "
        "WHERE noted_at > coalesce(%s, '-infinity'::timestamptz) AND noted_at <= now() - %s",
        (mark, SETTLE),
    ).fetchone()
    new_mark = row[0] if row is not None and isinstance(row[0], datetime) else mark
    rows = conn.execute(
        "SELECT series_id, lo, hi FROM tsmon.detection_rescore "
        "WHERE noted_at > coalesce(%s, '-infinity'::timestamptz) AND noted_at <= %s "
        "AND (series_id IS NULL OR series_id = ANY(%s)) ORDER BY lo",
        (mark, new_mark, series),
    ).fetchall()
    merged: dict[int, list[Range]] = {}
    for sid, lo, hi in rows:
        assert isinstance(lo, datetime) and isinstance(hi, datetime)
        for key in series if sid is None else [int(str(sid))]:
            ranges = merged.setdefault(key, [])
            if ranges and lo <= ranges[-1][1]:
                ranges[-1] = (ranges[-1][0], max(ranges[-1][1], hi))
            else:
                ranges.append((lo, hi))
    return merged, new_mark


def rescore(
    conn: Conn,
    config: DetectionConfig,
    ranges: dict[int, list[Range]],
    watermark: datetime,
    *,
    cache: ModelCache,
) -> int:
    """Score again the windows of ``ranges`` each series had scored (before ``watermark``, from its
    first model on), and the windows after them whose context they are, each with the model version
    that scored it; write the rows that changed, revise the events around them. Returns rows written.
    """
    step = config.step
    spans = model_spans(conn, config, sorted(ranges))
    groups: dict[Range, list[int]] = {}
    for sid, found in ranges.items():
        versions = spans.get(sid)
        if not versions:
            continue  # never scored under this config: late data scores nothing new
        after = max(DETECTORS.get(kind, BaseDetector).scoring_context for _, _, kind in versions) * step
        for lo, hi in found:
            start = max(floor_time(lo, step), versions[0][1])
            stop = min(floor_time(hi - timedelta(microseconds=1), step) + step + after, watermark)
            if start < stop:
                groups.setdefault((start, stop), []).append(sid)
    changed: dict[int, list[datetime]] = {}
    for (start, stop), sids in sorted(groups.items()):
        for sid, times in _rescore_range(conn, config, spans, sids, (start, stop), cache=cache).items():
            changed.setdefault(sid, []).extend(times)
    for sid, times in sorted(changed.items()):
        revise_events(conn, config, sid, (min(times), max(times)), watermark)
    return sum(len(times) for times in changed.values())


def _rescore_range(
    conn: Conn, config: DetectionConfig, spans: Spans, sids: list[int], span: Range, *, cache: ModelCache
) -> dict[int, list[datetime]]:
    """Windows in ``span`` of ``sids`` scored again; the rows that changed written, their times."""
    start, stop = span
    stored = {
        (int(str(r[0])), float(str(r[1]))): r[2:]
        for r in conn.execute(
            "SELECT series_id, extract(epoch FROM time)::float8, model_version, score, expected, lower, "
            "upper, is_anomaly FROM tsmon.anomaly_scores WHERE config_id = %s AND series_id = ANY(%s) "
            "AND time >= %s AND time < %s",
            (config.id, sids, start, stop),
        ).fetchall()
    }
    wanted = {(sid, int(str(row[0]))) for (sid, _), row in stored.items()}
    for sid in sids:  # versions whose span meets [start, stop), for windows no row holds (a gap filled)
        versions = spans[sid]
        for i, (version, train_end, _) in enumerate(versions):
            until = versions[i + 1][1] if i + 1 < len(versions) else stop
            if train_end < stop and until > start:
                wanted.add((sid, version))
    models = load_versions(conn, config, wanted, cache)
    if not models:
        return {}
    context = max(m.detector.scoring_context for m in models.values()) * config.step
    windows = fetch_windows(conn, config.resolution, sids, start - context, stop)
    out: list[Row] = []
    changed: dict[int, list[datetime]] = {}
    for sid, times, values in windows.by_series():
        ends = np.maximum.accumulate([train_end.timestamp() for _, train_end, _ in spans[sid]])
        numbers = [version for version, _, _ in spans[sid]]
        inside = np.flatnonzero((times >= start.timestamp()) & (times < stop.timestamp())).tolist()
        by_version: dict[int, list[int]] = {}
        for i in inside:
            row = stored.get((sid, float(times[i])))
            at = int(np.searchsorted(ends, times[i], side="right")) - 1
            version = int(str(row[0])) if row is not None else numbers[at] if at >= 0 else -1
            by_version.setdefault(version, []).append(i)
        for version, indices in by_version.items():
            model = models.get((sid, version))
            if model is not None:
                rows = _changed_rows(config, model, (times, values), indices, stored)
                if rows:
                    out += rows
                    changed.setdefault(sid, []).extend(row[0] for row in rows)
    if out:
        conn.execute(_UPSERT, (config.id, *(list(column) for column in zip(*out, strict=True))))
    return changed


def _changed_rows(
    config: DetectionConfig,
    model: Model,
    windows: tuple[np.ndarray, np.ndarray],
    indices: list[int],
    stored: dict[tuple[int, float], tuple[object, ...]],
) -> list[Row]:
    """Rows of ``indices`` scored by ``model`` that differ from the stored ones (or are new)."""
    (times, values), threshold = windows, config.threshold
    scores, expected, lower, upper = score_series(model, times, values, threshold)
    rows: list[Row] = []
    for i in indices:
        new = (float(scores[i]), float(expected[i]), float(lower[i]), float(upper[i]))
        old = stored.get((model.series_id, float(times[i])))
        if old is not None:
            before = np.array([np.nan if v is None else float(str(v)) for v in old[1:5]])
            if np.allclose(before, new, rtol=SAME, atol=1e-12, equal_nan=True):
                continue  # the same score: the row and its verdict (made at its threshold) stay
        t = datetime.fromtimestamp(float(times[i]), UTC)
        rows.append((t, model.series_id, model.detector_name, model.version, *new, new[0] >= threshold))
    return rows
