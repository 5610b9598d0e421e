"""Model registry: per (config, series) versioned detectors with JSON state, and the cache of parsed ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tsmon.db import Conn
from tsmon.detection import BaseDetector, from_state
from tsmon.scoring.configs import DetectionConfig

MIN_TRAINING_POINTS = 30  # windows a model needs to be trained (training.py; the NAB replay too)


@dataclass(frozen=True)
class Model:
    series_id: int
    version: int
    detector: BaseDetector
    trained_at: datetime
    train_end: datetime
    distribution: dict[str, object]
    # What it was fitted as (tsmon.models.detector, params without the threshold, which feedback moves):
    # score rows name this detector, and a config that names another one retrains the series.
    detector_name: str = ""
    params: dict[str, object] = field(default_factory=dict)

    def fitted_as(self, config: DetectionConfig) -> bool:
        """Whether this model is the detector and params ``config`` asks for now."""
        return self.detector_name == config.detector and self.params == fit_params(config.params)


def fit_params(params: dict[str, object]) -> dict[str, object]:
    """A model's parameters as configured: without the threshold (feedback changes it, not a refit)."""
    return {k: v for k, v in params.items() if k != "threshold"}


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
            "quality -> 'distribution', detector, params FROM tsmon.models "
            "WHERE config_id = %s AND series_id = ANY(%s) ORDER BY series_id, version DESC",
            (config.id, missing),
        ).fetchall()
        if missing
        else []
    )
    for row in rows:
        model = _model(row)
        models[model.series_id] = cache.put(config.id, model)
    return models


def _model(row: tuple[object, ...]) -> Model:
    series_id, version, state, trained_at, train_end, distribution, kind, params = row
    assert isinstance(trained_at, datetime) and isinstance(train_end, datetime)
    assert (
        isinstance(state, dict) and isinstance(distribution, dict | None) and isinstance(params, dict | None)
    )
    return Model(
        int(str(series_id)),
        int(str(version)),
        from_state(state),
        trained_at,
        train_end,
        dict(distribution or {}),
        str(kind),
        fit_params(dict(params or {})),
    )


# Per series, (version, train_end, detector) of each model in version order.
Spans = dict[int, list[tuple[int, datetime, str]]]


def model_spans(conn: Conn, config: DetectionConfig, series_ids: list[int]) -> Spans:
    """Every version of the series' models: version v scored the windows from its train_end on."""
    rows = conn.execute(
        "SELECT series_id, version, train_end, detector FROM tsmon.models "
        "WHERE config_id = %s AND series_id = ANY(%s) ORDER BY series_id, version",
        (config.id, series_ids),
    ).fetchall()
    spans: Spans = {}
    for sid, version, train_end, kind in rows:
        assert isinstance(train_end, datetime)
        spans.setdefault(int(str(sid)), []).append((int(str(version)), train_end, str(kind)))
    return spans


def load_versions(
    conn: Conn, config: DetectionConfig, wanted: set[tuple[int, int]], cache: ModelCache
) -> dict[tuple[int, int], Model]:
    """Given versions of given series' models, by (series, version); the newest from ``cache``."""
    found: dict[tuple[int, int], Model] = {}
    for sid, version in wanted:
        cached = cache.get(config.id, sid)
        if cached is not None and cached.version == version:
            found[sid, version] = cached
    missing = sorted(wanted - set(found))
    if missing:
        rows = conn.execute(
            "SELECT series_id, version, state, trained_at, train_end, quality -> 'distribution', detector, "
            "params FROM tsmon.models WHERE config_id = %s "
            "AND (series_id, version) IN (SELECT * FROM unnest(%s::bigint[], %s::integer[]))",
            (config.id, [s for s, _ in missing], [v for _, v in missing]),
        ).fetchall()
        for row in rows:
            model = _model(row)
            found[model.series_id, model.version] = model
    return found
