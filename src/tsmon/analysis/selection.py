"""What an analysis reads (metric, labels, ranges, resolution), checked with errors naming the argument."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from tsmon.db import Conn
from tsmon.errors import TsmonError
from tsmon.windows.definitions import BY_NAME, floor_time
from tsmon.windows.retention import RetentionSettings

MAX_WINDOWS = 2000  # windows per range read for autocorrelation and rank tests: bounds the work
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class AnalysisInputError(TsmonError):
    """An analysis argument is wrong: ``argument`` names it (CLI exit 2, HTTP 400)."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(f"{argument}: {message}")
        self.argument = argument
        self.message = message


def parse_duration(argument: str, text: str) -> timedelta:
    """``90s``, ``15m``, ``6h``, ``7d``, ``2w`` as a positive timedelta."""
    m = _DURATION.match(text.strip())
    if not m or float(m.group(1)) <= 0:
        raise AnalysisInputError(argument, f"{text!r} is not a duration like 15m, 6h, 7d")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def parse_time(argument: str, text: str | datetime, now: datetime | None = None) -> datetime:
    """An ISO 8601 time (UTC when it has no offset), ``now`` or ``now-<duration>`` (``now-7d``)."""
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=UTC)
    t = text.strip()
    if t.startswith("now"):
        base = now or datetime.now(UTC)
        rest = t[3:].strip()
        if not rest:
            return base
        if rest[0] == "-":
            return base - parse_duration(argument, rest[1:])
        raise AnalysisInputError(argument, f"{text!r} is not now or now-<duration> (now-7d)")
    try:
        parsed = datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        raise AnalysisInputError(
            argument, f"{text!r} is not an ISO 8601 time (2026-01-31T12:00:00Z)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_labels(argument: str, value: object) -> dict[str, str]:
    """A JSON object of label equality matchers, ``{"host": "web1"}`` (all must hold)."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise AnalysisInputError(
                argument, f'{value!r} is not a JSON object like {{"host": "web1"}}'
            ) from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise AnalysisInputError(argument, 'must be a JSON object of strings, like {"host": "web1"}')
    return {str(k): str(v) for k, v in value.items()}


@dataclass(frozen=True)
class TimeRange:
    """[start, stop) in UTC."""

    start: datetime
    stop: datetime

    @property
    def seconds(self) -> float:
        return (self.stop - self.start).total_seconds()

    def aligned(self, resolution: str) -> TimeRange:
        """Both ends floored to the resolution's buckets: windows are read whole."""
        step = BY_NAME[resolution].step
        return TimeRange(floor_time(self.start, step), floor_time(self.stop, step))

    def as_json(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.stop.isoformat()}


def time_range(
    start_arg: str, start: object, stop_arg: str, stop: object, now: datetime | None = None
) -> TimeRange:
    """``[start, stop)``; missing, empty or reversed is an error naming ``start_arg`` or ``stop_arg``."""
    now = now or datetime.now(UTC)
    for arg, value in ((start_arg, start), (stop_arg, stop)):
        if value is None or value == "":
            raise AnalysisInputError(arg, "required (an ISO 8601 time, now or now-<duration>)")
        if not isinstance(value, str | datetime):
            raise AnalysisInputError(arg, f"{value!r} is not a time")
    a = parse_time(start_arg, start, now)  # type: ignore[arg-type]
    b = parse_time(stop_arg, stop, now)  # type: ignore[arg-type]
    if b <= a:
        raise AnalysisInputError(start_arg, f"empty range: {a.isoformat()} is not before {b.isoformat()}")
    return TimeRange(a, b)


def target_and_baseline(
    params: Mapping[str, object], now: datetime | None = None
) -> tuple[TimeRange, TimeRange]:
    """(baseline, range of interest): ``from``/``to``, against ``baseline_from``/``baseline_to`` or the
    same range ``shift`` earlier (default: the range just before it, of the same length)."""
    target = time_range("from", params.get("from"), "to", params.get("to"), now)
    if params.get("baseline_from") is not None or params.get("baseline_to") is not None:
        if params.get("shift") is not None:
            raise AnalysisInputError("shift", "give either shift or baseline_from/baseline_to, not both")
        baseline = time_range(
            "baseline_from", params.get("baseline_from"), "baseline_to", params.get("baseline_to"), now
        )
    else:
        shift_text = text_param(params, "shift")
        shift = parse_duration("shift", shift_text) if shift_text else target.stop - target.start
        baseline = TimeRange(target.start - shift, target.stop - shift)
    return baseline, target


def check_keys(params: Mapping[str, object], allowed: tuple[str, ...]) -> None:
    """Unknown parameters are errors (a typo would otherwise be ignored silently)."""
    for key in params:
        if key not in allowed:
            raise AnalysisInputError(key, f"unknown parameter; expected one of {', '.join(allowed)}")


def text_param(params: Mapping[str, object], key: str, *, required: bool = False) -> str | None:
    value = params.get(key)
    if value is None or value == "":
        if required:
            raise AnalysisInputError(key, "required")
        return None
    if not isinstance(value, str):
        raise AnalysisInputError(key, f"{value!r} is not a string")
    return value


def float_param(params: Mapping[str, object], key: str, default: float, lo: float, hi: float) -> float:
    """A number in the open interval (lo, hi)."""
    value = params.get(key, default)
    if value is None:
        return default
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise AnalysisInputError(key, f"{value!r} is not a number") from None
    if not lo < f < hi:
        raise AnalysisInputError(key, f"must be between {lo} and {hi} (exclusive), not {f}")
    return f


def choice_param(
    params: Mapping[str, object], key: str, choices: tuple[str, ...], default: str | None
) -> str | None:
    value = params.get(key, default)
    if value is None:
        return default
    if value not in choices:
        raise AnalysisInputError(key, f"must be one of {', '.join(choices)}, not {value!r}")
    return str(value)


def resolution_for(
    argument: str, ranges: list[TimeRange], retention: RetentionSettings, now: datetime | None = None
) -> str:
    """The finest windows (1m, 1h, 1d) giving at most MAX_WINDOWS per range and still kept for the
    oldest range; a range past every retention is an error naming ``argument``."""
    now = now or datetime.now(UTC)
    longest = max(r.seconds for r in ranges)
    oldest = min(r.start for r in ranges)
    kept = {"1m": retention.minute_days, "1h": retention.hour_days, "1d": retention.day_days}
    for name in ("1m", "1h", "1d"):
        days = kept[name]
        if longest / BY_NAME[name].step.total_seconds() > MAX_WINDOWS and name != "1d":
            continue
        if days is None or oldest >= now - timedelta(days=days):
            return name
    raise AnalysisInputError(argument, f"{oldest.isoformat()} is past the retention of every window")


@dataclass(frozen=True)
class Series:
    series_id: int
    labels: dict[str, str]


def select_series(
    conn: Conn,
    metric: str,
    labels: dict[str, str],
    *,
    argument: str = "metric",
    labels_argument: str = "labels",
) -> list[Series]:
    """Series of ``metric`` whose labels contain ``labels``; none is an error naming the argument."""
    if not metric:
        raise AnalysisInputError(argument, "a metric name is required")
    rows = conn.execute(
        # labels as text, parsed by orjson: psycopg's json.loads took 0.1 s of 1,000 series
        "SELECT series_id, labels::text FROM tsmon.metric_series WHERE metric = %s AND labels @> %s::jsonb "
        "ORDER BY series_id",
        (metric, orjson.dumps(labels).decode()),
    ).fetchall()
    if not rows:
        known = conn.execute(
            "SELECT 1 FROM tsmon.metric_series WHERE metric = %s LIMIT 1", (metric,)
        ).fetchone()
        if known is None:
            raise AnalysisInputError(argument, f"no metric named {metric!r}")
        raise AnalysisInputError(
            labels_argument, f"no series of {metric!r} has labels {orjson.dumps(labels).decode()}"
        )
    return [Series(int(r[0]), orjson.loads(r[1])) for r in rows]


def json_number(x: object) -> float | None:
    """A JSON number: None, NaN and infinities (no test, extreme values) become null."""
    if x is None:
        return None
    v = float(x)  # type: ignore[arg-type]
    return v if math.isfinite(v) else None
