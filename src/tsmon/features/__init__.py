"""Features of series and their windows as scikit-learn transformers (no I/O), for forecasting and triage."""

from __future__ import annotations

from tsmon.features.temporal import (
    CalendarFeatures,
    LagFeatures,
    calendar_encoding,
    lag_matrix,
    rolling_stats,
)

__all__ = ["CalendarFeatures", "LagFeatures", "calendar_encoding", "lag_matrix", "rolling_stats"]
