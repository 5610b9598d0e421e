"""Features of series and their windows as scikit-learn transformers (no I/O), for forecasting and triage."""

from __future__ import annotations

from tsmon.features.quality import QualityFeatures, change_points
from tsmon.features.selection import FeatureSelector
from tsmon.features.spectral import SpectralFeatures
from tsmon.features.statistical import StatisticalFeatures, theil_sen_slope, windows_of
from tsmon.features.temporal import (
    CalendarFeatures,
    LagFeatures,
    calendar_encoding,
    lag_matrix,
    rolling_stats,
)
from tsmon.features.windows import WindowFeatures, sliding_windows

__all__ = [
    "CalendarFeatures",
    "FeatureSelector",
    "LagFeatures",
    "QualityFeatures",
    "SpectralFeatures",
    "StatisticalFeatures",
    "WindowFeatures",
    "calendar_encoding",
    "change_points",
    "lag_matrix",
    "rolling_stats",
    "sliding_windows",
    "theil_sen_slope",
    "windows_of",
]
