"""Ingest limits: what a series and a sample may be, with a short code and a clear reason per refusal."""

from __future__ import annotations

import json
from dataclasses import dataclass

from tsmon.settings import Settings

# Bytes a label costs in the series key beyond its text: jsonb stores two 4-byte entries per pair.
_JSONB_OVERHEAD_PER_LABEL = 8


def unstorable(text: str) -> str | None:
    """Why PostgreSQL cannot store ``text`` (NUL, or a lone surrogate that is not UTF-8), else None."""
    if "\x00" in text:
        return "contains NUL (U+0000), which PostgreSQL text cannot hold"
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        return f"contains {text[exc.start]!r}, a lone surrogate that is not valid UTF-8"
    return None


@dataclass(frozen=True)
class Refusal:
    code: str
    reason: str


@dataclass(frozen=True)
class Limits:
    """Defaults follow Mimir and VictoriaMetrics; every one is a TSMON_LIMIT_* setting."""

    max_labels_per_series: int = 30
    max_label_name_bytes: int = 1024
    max_label_value_bytes: int = 2048
    max_metric_name_bytes: int = 1024
    # metric + labels must fit one btree index entry of tsmon.series (PostgreSQL's limit: 2704 bytes).
    max_series_bytes: int = 2400
    max_series_per_metric: int = 100_000
    max_series_total: int = 2_000_000
    max_future_seconds: float = 600.0
    max_age_seconds: float = 30 * 86_400.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_labels_per_series=settings.limit_labels_per_series,
            max_label_name_bytes=settings.limit_label_name_bytes,
            max_label_value_bytes=settings.limit_label_value_bytes,
            max_metric_name_bytes=settings.limit_metric_name_bytes,
            max_series_bytes=settings.limit_series_bytes,
            max_series_per_metric=settings.limit_series_per_metric,
            max_series_total=settings.limit_series_total,
            max_future_seconds=settings.limit_future_seconds,
            max_age_seconds=settings.raw_retention_days * 86_400.0,
        )

    def check_series(self, metric: str, labels_json: str) -> Refusal | None:
        """None when a new series (metric + canonical labels JSON) is acceptable, else why not."""
        problem = unstorable(metric)
        if problem:
            return Refusal("invalid_characters", f"metric name {problem}")
        labels: dict[str, str] = json.loads(labels_json)
        for name, value in labels.items():
            for what, text in ((f"label name {name[:40]!r}", name), (f"label {name[:40]!r} value", value)):
                problem = unstorable(text)
                if problem:
                    return Refusal("invalid_characters", f"{what} {problem}")
        metric_bytes = len(metric.encode())
        if metric_bytes > self.max_metric_name_bytes:
            return Refusal(
                "metric_name_too_long",
                f"metric name is {metric_bytes} bytes; at most {self.max_metric_name_bytes}",
            )
        if len(labels) > self.max_labels_per_series:
            return Refusal("too_many_labels", f"{len(labels)} labels; at most {self.max_labels_per_series}")
        for name, value in labels.items():
            if len(name.encode()) > self.max_label_name_bytes:
                return Refusal(
                    "label_name_too_long",
                    f"label name {name[:40]!r}... is longer than {self.max_label_name_bytes} bytes",
                )
            if len(value.encode()) > self.max_label_value_bytes:
                return Refusal(
                    "label_value_too_long",
                    f"label {name!r} value is longer than {self.max_label_value_bytes} bytes",
                )
        size = metric_bytes + len(labels_json.encode()) + _JSONB_OVERHEAD_PER_LABEL * len(labels)
        if size > self.max_series_bytes:
            return Refusal(
                "series_too_large", f"metric and labels take {size} bytes; at most {self.max_series_bytes}"
            )
        return None

    def time_window_us(self, now_us: int) -> tuple[int, int]:
        """The [oldest, newest] sample times accepted now, in µs since the Unix epoch."""
        return now_us - int(self.max_age_seconds * 1e6), now_us + int(self.max_future_seconds * 1e6)


SERIES_LIMIT_REASONS = {
    "series_limit_metric": "the metric has reached its series limit ({limit}); the series was not created",
    "series_limit_total": "tsmon has reached its total series limit ({limit}); the series was not created",
}
