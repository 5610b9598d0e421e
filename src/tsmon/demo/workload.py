"""Demo workload: seeded synthetic series with injected anomalies of known kinds; backfilled, then fed."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
from scipy import special

from tsmon.db import Conn
from tsmon.ingest.batch import SampleBatch, canonical_labels, datetime_to_us
from tsmon.ingest.writer import SampleWriter, SeriesCache

FloatArray = npt.NDArray[np.float64]

STEP = timedelta(minutes=1)
# Daily seasonality is only found with two whole days of training before the first scored hour.
HISTORY = timedelta(days=3)
SEED = 20_260_101
KINDS = ("spike", "level_shift", "trend_change", "seasonal_break", "flat_line")
# The backfill's `now`, which trends and the seasonal break's cycle count from; feed() reads it back,
# so a worker process needs no state of its own to continue the same series.
ANCHOR_METRIC = "demo_workload_start_time_seconds"
ANCHOR_LABELS = {"instance": "demo"}
_DAY, _WEEK = 86_400.0, 604_800.0
_WEDNESDAY_NOON = -0.5 * _DAY  # the epoch is a Thursday midnight: weekly cycles peak mid-week
_MIB = 2.0**20


@dataclass(frozen=True)
class DemoSeries:
    """One series: its normal shape and, unless it is a control, the anomaly injected before `now`."""

    metric: str
    labels: dict[str, str]
    kind: str  # one of KINDS, or "control"
    base: float
    noise: float  # sigma of the per-minute noise
    daily: float = 0.0  # amplitude of the daily cycle
    peak_hour: float | None = 15.0  # UTC hour of the daily peak; None: 6 h after the anomaly starts
    weekly: float = 0.0  # relative amplitude of a weekly cycle, peaking mid-week
    trend: float = 0.0  # change per day
    start: timedelta = timedelta(0)  # the anomaly starts this long before `now`
    length: timedelta = timedelta(0)
    size: float = 0.0  # height of a spike or shift, or where a ramp ends
    lag: timedelta = timedelta(0)  # how long detectors may go on flagging after the anomaly ends

    def window(self, now: datetime) -> tuple[datetime, datetime] | None:
        """Where an event for this series is expected when backfilled at `now`: None for controls."""
        if self.kind == "control":
            return None
        begin = _floor(now) - self.start
        return begin, begin + self.length + self.lag

    @property
    def key(self) -> int:
        """Noise seed: stable across processes and Python versions (unlike hash())."""
        return zlib.crc32(f"{SEED}:{self.metric}:{canonical_labels(self.labels)}".encode())


def _pair(metric: str, kind: str, *, base: float, noise: float, **shape: float) -> list[DemoSeries]:
    """An anomalous series and its control twin; `shape` sets daily, weekly and trend."""
    control = DemoSeries(metric, {"scenario": "control", "instance": "demo-b"}, "control", base, noise)
    control = replace(
        control,
        daily=shape.get("daily", 0.0),
        weekly=shape.get("weekly", 0.0),
        trend=shape.get("trend", 0.0),
    )
    return [control, replace(control, labels={"scenario": kind, "instance": "demo-a"}, kind=kind)]


def _minutes(m: int) -> timedelta:
    return timedelta(minutes=m)


# Each anomalous series has a control twin of the same metric and shape (other noise, no anomaly):
# both are scored by the same config, so the twin shows what that config does on normal data.
_SERIES: tuple[DemoSeries, ...] = (
    *_pair("demo_http_requests_per_second", "spike", base=250.0, noise=6.0, daily=80.0, weekly=0.03),
    *_pair("demo_http_latency_ms", "level_shift", base=120.0, noise=4.0, daily=15.0),
    *_pair("demo_memory_used_bytes", "trend_change", base=3072 * _MIB, noise=8 * _MIB, trend=40 * _MIB),
    *_pair("demo_active_sessions", "seasonal_break", base=4000.0, noise=20.0, daily=1500.0),
    *_pair("demo_room_temperature_celsius", "flat_line", base=22.0, noise=0.2, daily=1.0),
)
_ANOMALIES = {  # kind: (start before now, length, size, lag)
    "spike": (_minutes(40), _minutes(3), 90.0, _minutes(5)),  # a 3-minute burst of 15 sigma
    "level_shift": (_minutes(45), _minutes(25), 30.0, _minutes(10)),  # a bad deploy, rolled back
    "trend_change": (_minutes(50), _minutes(40), 320 * _MIB, _minutes(10)),  # a leak, then a restart
    "seasonal_break": (_minutes(45), _minutes(40), 0.0, _minutes(10)),  # the morning ramp inverts
    "flat_line": (_minutes(50), _minutes(35), 0.0, _minutes(10)),  # a stuck sensor repeats itself
}


def demo_series() -> list[DemoSeries]:
    """Every demo series; the anomalous ones with their anomaly, relative to the backfill's `now`."""
    out = []
    for s in _SERIES:
        if s.kind == "control":
            out.append(s)
            continue
        start, length, size, lag = _ANOMALIES[s.kind]
        # The seasonal break is only visible where the cycle moves: its cycle is placed so that the
        # anomaly starts on the morning ramp (a rising mean crossing), wherever `now` falls in the day.
        peak = None if s.kind == "seasonal_break" else s.peak_hour
        out.append(replace(s, peak_hour=peak, start=start, length=length, size=size, lag=lag))
    return out


def _noise(key: int, times: FloatArray) -> FloatArray:
    """Standard normal noise as a pure function of (series, minute): rewrites store identical values."""
    x = (np.uint64(key) << np.uint64(32)) | (times // 60).astype(np.uint64)
    # splitmix64's finaliser: consecutive minutes give independent-looking 64-bit words.
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    uniform = ((x >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53
    return np.asarray(special.ndtri(uniform), dtype=np.float64)


def _normal(s: DemoSeries, t: FloatArray, anchor: float) -> tuple[FloatArray, FloatArray]:
    """The series without anomaly at epoch seconds `t`, and its daily cycle alone."""
    # A rising mean crossing at the anomaly's start: the peak comes a quarter of a day later.
    peak = anchor - s.start.total_seconds() + _DAY / 4 if s.peak_hour is None else s.peak_hour * 3600.0
    cycle = s.daily * np.cos(2 * math.pi * (t - peak) / _DAY)
    level = s.base * (1 + s.weekly * np.cos(2 * math.pi * (t - _WEDNESDAY_NOON) / _WEEK))
    values = level + s.trend * (t - anchor) / _DAY + cycle + s.noise * _noise(s.key, t)
    return np.asarray(values, dtype=np.float64), np.asarray(cycle, dtype=np.float64)


def values(s: DemoSeries, t: FloatArray, anchor: float) -> FloatArray:
    """Values at epoch seconds `t` (whole minutes) of a workload backfilled at `anchor`, anomaly included."""
    y, cycle = _normal(s, t, anchor)
    if s.kind == "control":
        return y
    begin = anchor - s.start.total_seconds()
    inside = (t >= begin) & (t < begin + s.length.total_seconds())
    if s.kind in ("spike", "level_shift"):
        y[inside] += s.size
    elif s.kind == "trend_change":
        y[inside] += s.size * (t[inside] - begin) / s.length.total_seconds()
    elif s.kind == "seasonal_break":
        y[inside] -= 2 * cycle[inside]
    elif s.kind == "flat_line":
        y[inside] = _normal(s, np.array([begin - 60.0]), anchor)[0][0]
    return y


def _floor(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def _write(conn: Conn, times: FloatArray, anchor: float) -> int:
    """Every series at `times`, plus the anchor, in one batch (one COPY)."""
    columns = [(s.metric, s.labels, values(s, times, anchor)) for s in demo_series()]
    columns.append((ANCHOR_METRIC, ANCHOR_LABELS, np.full(times.size, anchor)))
    batch = SampleBatch()
    times_us = (times.astype(np.int64) * 1_000_000).tolist()
    for metric, labels, y in columns:
        batch.metrics += [metric] * times.size
        batch.labels += [canonical_labels(labels)] * times.size
        batch.times_us += times_us
        batch.values += y.tolist()
    return SampleWriter(conn, SeriesCache(64)).write(batch).rows


def backfill(conn: Conn, now: datetime, history: timedelta = HISTORY) -> int:
    """Write one sample a minute for `history` up to `now` (floored to the minute); returns the rows.

    Every anomaly lies in the last hour, which a config's first scoring run scores, and the
    training window before it is anomaly-free. Writing again at the same `now` changes nothing.
    """
    end = datetime_to_us(_floor(now)) // 1_000_000
    n = int(history / STEP)
    times = np.arange(end - (n - 1) * 60, end + 60, 60, dtype=np.float64)
    return _write(conn, times, float(end))


def feed(conn: Conn, now: datetime) -> int:
    """Write the minutes after the last ones written, up to `now`: normal behaviour, no anomaly.

    Call it as often as you like; a worker that was down catches up (at most `HISTORY`). Without a
    backfill before it, the workload counts from this call.
    """
    end = datetime_to_us(_floor(now)) // 1_000_000
    row = conn.execute(
        "SELECT extract(epoch FROM x.time)::float8, x.value FROM tsmon.series s CROSS JOIN LATERAL ("
        "  SELECT time, value FROM tsmon.samples WHERE series_id = s.id ORDER BY time DESC LIMIT 1) x "
        "WHERE s.metric = %s AND s.labels = %s::jsonb",
        (ANCHOR_METRIC, canonical_labels(ANCHOR_LABELS)),
    ).fetchone()
    last, anchor = (float(row[0]), float(row[1])) if row else (end - 60.0, float(end))
    first = max(last + 60, end - HISTORY.total_seconds() + 60)
    if first > end:
        return 0
    return _write(conn, np.arange(first, end + 60, 60, dtype=np.float64), anchor)


def start(conn: Conn, now: datetime) -> bool:
    """Backfill the workload once (True then); later starts leave it to the worker's live feed.

    Call it before the demo's configs exist: scoring them first would move past the injected hour.
    """
    started = conn.execute(
        "SELECT 1 FROM tsmon.series WHERE metric = 'demo_workload_start_time_seconds'"
    ).fetchone()
    if started:
        return False
    backfill(conn, now)
    return True
