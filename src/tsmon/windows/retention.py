"""How long raw samples and each window are kept, and when raw chunks are compressed."""

from __future__ import annotations

from dataclasses import dataclass

from tsmon.settings import Settings


@dataclass(frozen=True)
class RetentionSettings:
    raw_days: float = 30.0
    minute_days: float | None = 90.0
    hour_days: float | None = 730.0
    day_days: float | None = None  # kept
    compress_after_days: float = 7.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionSettings:
        return cls(
            raw_days=settings.raw_retention_days,
            minute_days=settings.retention_1m_days,
            hour_days=settings.retention_1h_days,
            day_days=settings.retention_1d_days,
            compress_after_days=settings.compress_after_days,
        )

    def by_relation(self) -> dict[str, float | None]:
        """Relation name -> days kept (None: forever), for both engines."""
        return {
            "tsmon.samples": self.raw_days,
            "tsmon.samples_1m": self.minute_days,
            "tsmon.samples_1h": self.hour_days,
            "tsmon.samples_1d": self.day_days,
        }
