"""Detectors to and from JSON-ready dicts (never pickle), and the registry of detectors by name."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from tsmon.detection.base import BaseDetector
from tsmon.detection.calibration import TailCalibrator, UpperTailCalibrator
from tsmon.detection.ensemble import EnsembleDetector
from tsmon.detection.ewma import EWMADetector
from tsmon.detection.extreme import ExtremeDetector
from tsmon.detection.forest import IsolationForestDetector, LOFDetector
from tsmon.detection.level_shift import LevelShiftDetector
from tsmon.detection.onset import OnsetDetector
from tsmon.detection.robust import GaussianDetector, MADDetector, RollingQuantileDetector
from tsmon.detection.seasonal import SeasonalBaseline

FORMAT = "tsmon.detection"
VERSION = 1

DETECTORS: dict[str, type[BaseDetector]] = {
    "seasonal": SeasonalBaseline,
    "ewma": EWMADetector,
    "quantile": RollingQuantileDetector,
    "mad": MADDetector,
    "level_shift": LevelShiftDetector,
    "iforest": IsolationForestDetector,
    "lof": LOFDetector,
    "ensemble": EnsembleDetector,
    "gaussian": GaussianDetector,
    "extreme": ExtremeDetector,
    "onset": OnsetDetector,
}
_NAMES = {cls: name for name, cls in DETECTORS.items()}
_CALIBRATORS: dict[str, type[TailCalibrator] | type[UpperTailCalibrator]] = {
    "TailCalibrator": TailCalibrator,
    "UpperTailCalibrator": UpperTailCalibrator,
}
# Fitted attributes rebuilt by ``_restore`` rather than stored: scikit-learn models are refitted
# from the stored training features and seed, which is exact on the same scikit-learn version.
_DERIVED = frozenset({"model_"})


def make_detector(name: str, **params: Any) -> BaseDetector:
    """A new, unfitted detector by its registry name, e.g. ``make_detector("ewma", period=0)``."""
    try:
        cls = DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown detector {name!r}; known: {', '.join(DETECTORS)}") from None
    return cls(**params)


def to_state(detector: BaseDetector) -> dict[str, Any]:
    """JSON-serialisable state: registry name, params and, when fitted, the fitted attributes.

    ``json.dumps(state, allow_nan=False)`` works: arrays become lists, non-finite floats strings.
    A ``RandomState`` instance as ``random_state`` is stored as None (the fitted ``seed_`` is kept).
    """
    try:
        name = _NAMES[type(detector)]
    except KeyError:
        raise TypeError(f"{type(detector).__name__} is not a registered detector") from None
    params = {k: _encode(v) for k, v in detector.get_params(deep=False).items()}
    fitted = {
        k: _encode(v)
        for k, v in sorted(vars(detector).items())
        if k.endswith("_") and not k.startswith("_") and k not in _DERIVED
    }
    return {
        "format": FORMAT,
        "version": VERSION,
        "detector": name,
        "params": params,
        "fitted": fitted or None,
    }


def from_state(state: dict[str, Any]) -> BaseDetector:
    """The detector ``to_state`` described; a fitted one scores exactly as the original did."""
    if state.get("format") != FORMAT or state.get("version") != VERSION:
        raise ValueError(f"not a {FORMAT} version {VERSION} state")
    detector = make_detector(state["detector"], **{k: _decode(v) for k, v in state["params"].items()})
    for k, v in (state.get("fitted") or {}).items():
        if not k.endswith("_") or k.startswith("_"):
            raise ValueError(f"not a fitted attribute: {k!r}")
        setattr(detector, k, _decode(v))
    if state.get("fitted"):
        detector._restore()
    return detector


def _float(v: float) -> float | str:
    return v if math.isfinite(v) else repr(v)


def _encode(v: Any) -> Any:
    if v is None or isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        return _float(v)
    if isinstance(v, np.bool_ | np.integer | np.floating):
        return _encode(v.item())
    if isinstance(v, np.ndarray):
        data = [_float(x) for x in v.ravel().tolist()] if v.dtype.kind == "f" else v.ravel().tolist()
        return {"__ndarray__": data, "dtype": str(v.dtype), "shape": list(v.shape)}
    if isinstance(v, BaseDetector):
        return {"__detector__": to_state(v)}
    if isinstance(v, TailCalibrator | UpperTailCalibrator):
        fields = {f.name: _encode(getattr(v, f.name)) for f in dataclasses.fields(v)}
        return {"__calibrator__": type(v).__name__, "fields": fields}
    if isinstance(v, tuple):
        return {"__tuple__": [_encode(x) for x in v]}
    if isinstance(v, list):
        return [_encode(x) for x in v]
    if isinstance(v, np.random.RandomState):
        return None
    raise TypeError(f"cannot store {type(v).__name__} in a detector state")


def _decode(v: Any) -> Any:
    if isinstance(v, list):
        return [_decode(x) for x in v]
    if isinstance(v, str) and v in ("inf", "-inf", "nan"):
        return float(v)
    if not isinstance(v, dict):
        return v
    if "__ndarray__" in v:
        dtype = np.dtype(v["dtype"])
        if dtype.kind not in "biuf" and dtype != np.dtype(object):
            raise ValueError(f"unsupported array dtype {dtype}")
        data = [float(x) for x in v["__ndarray__"]] if dtype.kind == "f" else v["__ndarray__"]
        return np.array(data, dtype=dtype).reshape(v["shape"])
    if "__detector__" in v:
        return from_state(v["__detector__"])
    if "__calibrator__" in v:
        fields = {k: _decode(x) for k, x in v["fields"].items()}
        fields = {k: tuple(x) if isinstance(x, list) else x for k, x in fields.items()}
        return _CALIBRATORS[v["__calibrator__"]](**fields)
    if "__tuple__" in v:
        return tuple(_decode(x) for x in v["__tuple__"])
    raise ValueError(f"unrecognised value in a detector state: {sorted(v)}")
