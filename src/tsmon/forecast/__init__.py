"""Forecasting: seasonal naive, ETS and gradient boosting as estimators, chosen per series by CV."""

from __future__ import annotations

from collections.abc import Callable

from tsmon.forecast.base import LEVELS, BaseForecaster, Forecast
from tsmon.forecast.boosting import GradientBoosting
from tsmon.forecast.ets import ExponentialSmoothing
from tsmon.forecast.naive import SeasonalNaive
from tsmon.forecast.selection import AutoForecaster, ExpandingWindowSplit, default_candidates

DEFAULT_MODEL = "auto"


def _auto(horizon: int) -> BaseForecaster:
    return AutoForecaster(horizon=horizon)


def _candidate(name: str) -> Callable[[int], BaseForecaster]:
    return lambda horizon: default_candidates(horizon)[name]


# Name -> forecaster for a horizon in steps: "auto" (chosen per series by CV) and each candidate.
MODELS: dict[str, Callable[[int], BaseForecaster]] = {
    DEFAULT_MODEL: _auto,
    **{name: _candidate(name) for name in default_candidates(1)},
}

__all__ = [
    "DEFAULT_MODEL",
    "LEVELS",
    "MODELS",
    "AutoForecaster",
    "BaseForecaster",
    "ExpandingWindowSplit",
    "ExponentialSmoothing",
    "Forecast",
    "GradientBoosting",
    "SeasonalNaive",
]
