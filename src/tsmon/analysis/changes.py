"""What changed: the window (a range or an anomaly event), checked input, the ranking, the stored run."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from tsmon.analysis.changes_rank import ChangeRow, Ranking, Selection, rank_ks2, rank_volume
from tsmon.db import Conn
from tsmon.errors import TsmonError
from tsmon.stats.changes import ALTERNATIVES, BASELINE_FACTOR

METHODS = ("volume", "ks2")
MAX_LIMIT = 1000
EVENT_LEAD = timedelta(minutes=5)  # causes precede the effect a detector flags
EVENT_MIN_WINDOW = timedelta(minutes=10)
MIN_POINTS = 3
COVERAGE = 0.25  # a series needs data in a quarter of the minutes of the window and of the baseline
MINUTE = timedelta(minutes=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ChangesInputError(TsmonError):
    """A "what changed" request that cannot be answered; ``argument`` names the input at fault."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(f"{argument}: {message}")
        self.argument = argument
        self.reason = message


@dataclass(frozen=True)
class ChangesRequest:
    """What to rank: a window (``start``/``end``, or an anomaly event's) and which series."""

    start: datetime | None = None
    end: datetime | None = None
    metric: str | None = None
    labels: dict[str, str] | None = None
    event_id: int | None = None
    method: str = "volume"
    limit: int = 10
    alternative: str = "two-sided"


@dataclass(frozen=True)
class ChangesRun:
    """A ranking with its window and counts; ``run_id`` once stored."""

    window_start: datetime
    window_end: datetime
    baseline_start: datetime
    method: str
    event_id: int | None
    ranked: int
    skipped_constant: int
    skipped_sparse: int
    results: list[ChangeRow] = field(default_factory=list)
    run_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON `tsmon analyze changes --json` prints and the API answers."""
        body = asdict(self)
        out: dict[str, Any] = orjson.loads(
            orjson.dumps({"run_id": self.run_id, **{k: v for k, v in body.items() if k != "run_id"}})
        )
        return out


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _floor(t: datetime) -> datetime:
    return _EPOCH + (t - _EPOCH) // MINUTE * MINUTE


def _ceil(t: datetime) -> datetime:
    f = _floor(t)
    return f if f == t else f + MINUTE


def resolve_window(conn: Conn, request: ChangesRequest, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) in whole minutes: the request's range, else the event's (from 5 min before its
    onset to its end, or now, and at least 10 minutes long)."""
    start, end = request.start, request.end
    if request.event_id is not None:
        row = conn.execute(
            "SELECT started_at, ended_at FROM tsmon.analysis_event(%s)", (request.event_id,)
        ).fetchone()
        if row is None:
            raise ChangesInputError("event", f"no anomaly event {request.event_id}")
        onset = _floor(row[0]) - EVENT_LEAD
        start = start or onset
        end = end or max(_ceil(row[1] or now), onset + EVENT_MIN_WINDOW)
    if start is None:
        raise ChangesInputError("from", "give a start time (or an event)")
    if end is None:
        raise ChangesInputError("to", "give an end time (or an event)")
    start, end = _floor(_utc(start)), _ceil(_utc(end))
    if end <= start:
        raise ChangesInputError(
            "to", f"the range is empty: {end.isoformat()} is not after {start.isoformat()}"
        )
    if start >= now:
        raise ChangesInputError("from", f"{start.isoformat()} is in the future")
    return start, end


def check_request(conn: Conn, request: ChangesRequest) -> None:
    """Method, alternative, limit and the series selection."""
    if request.method not in METHODS:
        raise ChangesInputError("method", f"one of {', '.join(METHODS)}, not {request.method!r}")
    if request.alternative not in ALTERNATIVES:
        raise ChangesInputError(
            "alternative", f"one of {', '.join(ALTERNATIVES)}, not {request.alternative!r}"
        )
    if not 1 <= request.limit <= MAX_LIMIT:
        raise ChangesInputError("limit", f"between 1 and {MAX_LIMIT}, not {request.limit}")
    if request.metric is None and request.labels is None:
        return
    count = _selected(conn, request.metric, request.labels)
    if count == 0 and request.metric is not None and _selected(conn, request.metric, None) == 0:
        raise ChangesInputError("metric", f"no series of metric {request.metric!r}")
    if count == 0:
        raise ChangesInputError("labels", f"no series has labels {orjson.dumps(request.labels).decode()}")


def _selected(conn: Conn, metric: str | None, labels: dict[str, str] | None) -> int:
    params = (metric, None if labels is None else orjson.dumps(labels).decode())
    row = conn.execute("SELECT tsmon.analysis_selected_series(%s, %s::jsonb)", params).fetchone()
    return int(row[0]) if row else 0


def min_points(start: datetime, end: datetime, now: datetime) -> tuple[int, int]:
    """Minutes with data a series needs in the window (up to now) and in the baseline to be ranked."""
    window = max((min(end, _ceil(now)) - start) / MINUTE, 0)
    baseline = (end - start) * BASELINE_FACTOR / MINUTE
    return max(MIN_POINTS, math.ceil(COVERAGE * window)), max(MIN_POINTS, math.ceil(COVERAGE * baseline))


def check_retention(start: datetime, end: datetime, now: datetime, retention_days: float | None) -> None:
    """The baseline must lie inside the 1m windows' retention."""
    baseline_start = start - (end - start) * BASELINE_FACTOR
    if retention_days is not None and baseline_start < now - timedelta(days=retention_days):
        raise ChangesInputError(
            "from",
            f"the baseline would start at {baseline_start.isoformat()}, past the 1m windows' retention "
            f"({retention_days:g} days, TSMON_RETENTION_1M_DAYS)",
        )


def store(conn: Conn, run: ChangesRun, request: ChangesRequest) -> ChangesRun:
    """Write the run and its results (through tsmon.record_changes_run); the run with its id."""
    parameters = {
        "metric": request.metric,
        "labels": request.labels,
        "method": run.method,
        "limit": request.limit,
        "alternative": request.alternative,
    }
    summary = {
        "ranked": run.ranked,
        "skipped_constant": run.skipped_constant,
        "skipped_sparse": run.skipped_sparse,
    }
    rows = [asdict(r) for r in run.results]
    row = conn.execute(
        "SELECT tsmon.record_changes_run(%s::jsonb, %s, %s, %s, %s, %s::jsonb, %s::jsonb)",
        (
            orjson.dumps(parameters).decode(),
            run.window_start,
            run.window_end,
            run.baseline_start,
            run.event_id,
            orjson.dumps(summary).decode(),
            orjson.dumps(rows).decode(),
        ),
    ).fetchone()
    assert row is not None
    return ChangesRun(**{**asdict(run), "results": run.results, "run_id": int(row[0])})


def rank(conn: Conn, request: ChangesRequest, now: datetime, retention_days: float | None) -> ChangesRun:
    """Check the request and rank the series (not stored)."""
    now = _utc(now)
    check_request(conn, request)
    start, end = resolve_window(conn, request, now)
    check_retention(start, end, now, retention_days)
    min_window, min_baseline = min_points(start, end, now)
    selection = Selection(
        start, end, request.metric, request.labels, min_window, min_baseline, request.alternative
    )
    ranking: Ranking = (rank_ks2 if request.method == "ks2" else rank_volume)(conn, selection, request.limit)
    if not ranking.rows:
        raise ChangesInputError(
            "from",
            f"too few points: no series has 1m windows in {min_window} minutes of the window "
            f"{start.isoformat()}..{end.isoformat()} and {min_baseline} of its baseline, or all are constant",
        )
    return ChangesRun(
        start,
        end,
        start - (end - start) * BASELINE_FACTOR,
        request.method,
        request.event_id,
        ranking.ranked,
        ranking.skipped_constant,
        ranking.skipped_sparse,
        ranking.rows,
    )


def run_changes(
    conn: Conn, request: ChangesRequest, now: datetime, retention_days: float | None
) -> ChangesRun:
    """Rank and store: the run as `tsmon analyze changes` and the API answer it."""
    return store(conn, rank(conn, request, now, retention_days), request)
