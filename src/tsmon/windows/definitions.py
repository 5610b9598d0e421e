"""The three resolutions and the one aggregate query each is built from, shared by both engines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from psycopg import sql

COLUMNS = ("bucket", "series_id", "count", "sum", "sum_sq", "min", "max", "first", "last", "increase")


@dataclass(frozen=True)
class Resolution:
    name: str  # '1m'
    bucket: str  # interval text, '1 minute'
    source: str | None  # finer resolution it is built from; None: raw samples
    chunk_interval: str  # chunks of the materialisation (retention drops whole chunks)
    # Continuous-aggregate refresh policy. start_offset bounds how late data may arrive and still
    # be folded in automatically; end_offset keeps the newest, still-filling bucket to real time.
    refresh_start: str
    refresh_end: str
    refresh_every: str

    @property
    def step(self) -> timedelta:
        return _STEPS[self.name]

    @property
    def relation(self) -> sql.Identifier:
        return sql.Identifier("tsmon", f"samples_{self.name}")

    @property
    def comment(self) -> sql.Literal:
        return sql.Literal(
            f"{self.bucket} windows per series_id: bucket, count, sum, sum_sq, min, max, first, last, "
            "increase (reset-aware counter increase). Real-time: buckets not yet materialised come from "
            f"{'raw samples' if self.source is None else 'samples_' + self.source}. "
            "For people and Grafana: tsmon.metric_" + self.name + " adds metric, labels, avg, stddev."
        )

    @property
    def table(self) -> sql.Identifier:
        """The tsmon-maintained materialisation (Apache edition)."""
        return sql.Identifier("tsmon", f"_windows_{self.name}")


_STEPS = {"1m": timedelta(minutes=1), "1h": timedelta(hours=1), "1d": timedelta(days=1)}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def floor_time(t: datetime, step: timedelta) -> datetime:
    """The start of the bucket holding ``t``: what time_bucket() gives for minutes, hours and days (UTC)."""
    return _EPOCH + (t - _EPOCH) // step * step


MINUTE = Resolution("1m", "1 minute", None, "1 day", "1 day", "1 minute", "1 minute")
HOUR = Resolution("1h", "1 hour", "1m", "7 days", "7 days", "1 hour", "10 minutes")
DAY = Resolution("1d", "1 day", "1h", "90 days", "30 days", "1 day", "1 hour")
RESOLUTIONS = (MINUTE, HOUR, DAY)
BY_NAME = {r.name: r for r in RESOLUTIONS}


# Every finite float must aggregate without an error (PostgreSQL raises on float8 overflow and
# underflow, which would stop every query and refresh over the bucket). Squares of |v| > 1e150 are
# +Infinity and of |v| < 1e-150 are 0; values beyond +-1e300 add +-Infinity to the sum, so sums of
# finite terms can never overflow. Infinite sums are kept as such; averages and deviations over
# them are computed by tsmon.window_avg / window_stddev (sql/50_windows.sql).
SAFE_VALUE = sql.SQL("CASE WHEN abs(value) > 1e300 THEN sign(value) * 'Infinity'::float8 ELSE value END")
SAFE_SQUARE = sql.SQL(
    "CASE WHEN abs(value) > 1e150 THEN 'Infinity'::float8 WHEN abs(value) < 1e-150 THEN 0::float8 "
    "ELSE value * value END"
)


def aggregate_query(
    res: Resolution, source: sql.Composable, where: sql.Composable | None = None
) -> sql.Composed:
    """SELECT of one resolution's columns from ``source`` (raw samples or the finer resolution).

    Averages of averages would be wrong, so windows carry count, sum and sum of squares and merge
    those; first/last and the counter increase merge in time order.
    """
    bucket = sql.Literal(res.bucket)
    if res.source is None:
        body = sql.SQL(
            "SELECT time_bucket({b}::interval, time) AS bucket, series_id, count(*) AS count, "
            "sum({v}) AS sum, sum({sq}) AS sum_sq, min(value) AS min, max(value) AS max, "
            "first(value, time) AS first, last(value, time) AS last, "
            "tsmon.counter_increase_agg(time, value) AS increase "
            "FROM {src} WHERE value <> 'NaN'::float8"
        )
    else:
        body = sql.SQL(
            "SELECT time_bucket({b}::interval, bucket) AS bucket, series_id, sum(count)::bigint AS count, "
            "sum(sum) AS sum, sum(sum_sq) AS sum_sq, min(min) AS min, max(max) AS max, "
            "first(first, bucket) AS first, last(last, bucket) AS last, "
            "tsmon.counter_rollup_agg(bucket, first, last, increase) AS increase "
            "FROM {src} WHERE true"
        )
    query = body.format(b=bucket, src=source, v=SAFE_VALUE, sq=SAFE_SQUARE)
    if where is not None:
        query = sql.SQL("{} AND {}").format(query, where)
    return sql.SQL("{} GROUP BY 1, 2").format(query)
