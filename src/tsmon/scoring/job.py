"""The scoring job: lease (config, shard) pairs, score new windows; scores, events, watermark commit."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from psycopg import sql

from tsmon.db import Conn
from tsmon.scoring import events, policy
from tsmon.scoring.configs import DetectionConfig, load_configs
from tsmon.scoring.drift import DRIFT_EVERY, DRIFT_RECENT, measure
from tsmon.scoring.models import Model, ModelCache, active_models
from tsmon.scoring.rescore import SETTLE, rescore, settled_ranges
from tsmon.scoring.scores import write_scores
from tsmon.scoring.training import train_first, train_many
from tsmon.windows.definitions import floor_time
from tsmon.windows.reader import fetch_windows

log = logging.getLogger("tsmon.scoring")
# Windows ending this long ago are complete enough to score: Telegraf flushes every 10 s, Prometheus
# remote write ships within seconds; later samples are re-scored as late data (rescore.py). Keep it
# equal to the grace in tsmon.note_samples_written (sql/45_windows_write.sql), which logs them.
GRACE = timedelta(seconds=10)

FIRST_RUN_WINDOWS = 60  # a new config (or series) starts scoring at most this many windows back
MAX_WINDOWS_PER_RUN = 360  # bounded catch-up after downtime: at most this many windows per transaction


@dataclass
class ShardResult:
    scored: bool  # False: lease lost or nothing due
    windows: int = 0
    rescored: int = 0  # windows scored again because late data changed them
    series: int = 0
    watermark: datetime | None = None


def claim_shards(
    conn: Conn, owner: str, lease: timedelta, limit: int, now: datetime | None = None
) -> list[tuple[int, int]]:
    """Lease up to ``limit`` due shards no other live worker holds (SKIP LOCKED: workers never wait).

    A shard is due once its config's ``schedule`` of windows after its watermark is complete and
    past the grace (``now``: the job's clock, default the database's): a window is scored about
    GRACE after it ends, whatever the phase of earlier runs. Settled late data of its series makes
    it due too.
    """
    with conn.transaction():
        # A new shard's first window is fixed now (score_shard's rule at this clock), so that a
        # rerun after a crash during the first run starts where the lost run did.
        conn.execute(
            "INSERT INTO tsmon.detection_shards (config_id, shard, rescore_mark, first_window) "
            "SELECT c.id, g, now(), date_bin(s.step, coalesce(%(now)s, now()) - %(g)s, "
            "       timestamptz '1970-01-01 00:00:00+00') - %(n)s * s.step "
            "FROM tsmon.detection_configs c "
            "CROSS JOIN LATERAL (SELECT CASE c.resolution WHEN '1h' THEN interval '1 hour' "
            "                    ELSE interval '1 minute' END AS step) s, "
            "generate_series(0, c.shards - 1) g WHERE c.enabled ON CONFLICT DO NOTHING",
            {"now": now, "g": GRACE, "n": FIRST_RUN_WINDOWS},
        )
        rows = conn.execute(
            "UPDATE tsmon.detection_shards d SET lease_owner = %(o)s, lease_until = now() + %(l)s "
            "WHERE (d.config_id, d.shard) IN ("
            "  SELECT s.config_id, s.shard FROM tsmon.detection_shards s"
            "  JOIN tsmon.detection_configs c ON c.id = s.config_id"
            "  WHERE c.enabled AND s.shard < c.shards"
            "    AND (s.retry_after IS NULL OR s.retry_after <= now())"
            "    AND (s.lease_until IS NULL OR s.lease_until < now() OR s.lease_owner = %(o)s)"
            "    AND (s.watermark IS NULL OR s.watermark + greatest(c.schedule, CASE c.resolution"
            "         WHEN '1h' THEN interval '1 hour' ELSE interval '1 minute' END) + %(g)s"
            "         <= coalesce(%(now)s, now())"
            "      OR EXISTS (SELECT 1 FROM tsmon.detection_rescore r WHERE r.noted_at <= now() - %(settle)s"
            "                 AND r.noted_at > coalesce(s.rescore_mark, '-infinity'::timestamptz)"
            "                 AND (r.series_id IS NULL OR r.series_id %% c.shards = s.shard)))"
            "  ORDER BY s.watermark NULLS FIRST, s.scored_at NULLS FIRST LIMIT %(n)s"
            "  FOR UPDATE OF s SKIP LOCKED) "
            "RETURNING d.config_id, d.shard",
            {"o": owner, "l": lease, "n": limit, "g": GRACE, "now": now, "settle": SETTLE},
        ).fetchall()
    return [(int(c), int(s)) for c, s in rows]


def release(conn: Conn, owner: str, config_id: int, shard: int) -> None:
    conn.execute(
        "UPDATE tsmon.detection_shards SET lease_until = now() WHERE config_id = %s AND shard = %s "
        "AND lease_owner = %s",
        (config_id, shard, owner),
    )


def _series(conn: Conn, config: DetectionConfig, shard: int) -> list[int]:
    where, params = config.series_filter()
    rows = conn.execute(
        sql.SQL("SELECT s.id FROM tsmon.series s WHERE {} AND s.id %% %s = %s ORDER BY s.id").format(where),
        [*params, config.shards, shard],
    ).fetchall()
    return [int(r[0]) for r in rows]


def _recent(
    conn: Conn, config: DetectionConfig, series: list[int], before: datetime
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    windows = fetch_windows(conn, config.resolution, series, before - DRIFT_RECENT[config.resolution], before)
    return {sid: (times, values) for sid, times, values in windows.by_series()}


def _models(
    conn: Conn,
    config: DetectionConfig,
    series: list[int],
    start: datetime,
    stop: datetime,
    *,
    cache: ModelCache,
) -> tuple[dict[int, Model], dict[int, datetime]]:
    """Active models, trained first or again where needed (missing, on schedule, changed, drifted).

    Also, for series whose first model (trained now) starts elsewhere than ``start``, where it does.
    """
    models = active_models(conn, config, series, cache)
    every = DRIFT_EVERY[config.resolution]
    # Drift is tested once per hour (per day for 1h windows): when this batch crosses that boundary.
    due = policy.drift_check_due(start, stop, every)
    recent = _recent(conn, config, list(models), start) if due and models else {}  # drift needs a model
    reasons: dict[int, str] = {}
    for sid in series:
        model = models.get(sid)
        if model is not None and not model.fitted_as(config):
            reason = "config"  # the config names another detector or params: retrain now, not tomorrow
        else:
            train_end = None if model is None else model.train_end
            offset = policy.retrain_offset(sid, config.shards, config.retrain_every)
            reason = policy.retrain_reason(train_end, start, config.retrain_every, offset)
        if not reason and model is not None and sid in recent:
            drift = measure(model.distribution, *recent[sid])
            if drift is not None and drift.drifted:
                t = drift.test
                conn.execute(
                    "INSERT INTO tsmon.drift_events (config_id, series_id, model_version, statistic, "
                    "p_value, n_eff, shift, spread_ratio, retrained) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, true)",
                    (config.id, sid, model.version, t.statistic, t.pvalue, t.n_eff, t.shift, t.spread_ratio),
                )
                reason = "drift"
        if reason:
            reasons[sid] = reason
    again = {sid: reason for sid, reason in reasons.items() if reason != "initial"}
    models.update(train_many(conn, config, again, start, cache))
    # A series never scored starts at its first window with enough data, as far back as a new
    # config's first run reaches (not only from the watermark on: a bulk import's last hour counts).
    lower = min(start, stop - FIRST_RUN_WINDOWS * config.step)
    initial = [sid for sid, reason in reasons.items() if reason == "initial"]
    first = train_first(conn, config, initial, lower, stop, cache=cache)
    models.update(first)
    wanted = set(series)
    # A series whose retraining for a changed config found too little data is not scored by the
    # model of the old config: every score row is the configured detector's.
    kept = {sid: m for sid, m in models.items() if sid in wanted and m.fitted_as(config)}
    return kept, {sid: m.train_end for sid, m in first.items() if m.train_end != start}


def score_shard(
    conn: Conn,
    config: DetectionConfig,
    shard: int,
    owner: str,
    now: datetime,
    *,
    grace: timedelta = GRACE,
    cache: ModelCache | None = None,
) -> ShardResult:
    """Score the windows after the shard's watermark, and again those late data changed before it.

    Scores, events and the watermark commit together: a crash leaves nothing, a rerun the same rows.
    """
    cache = cache if cache is not None else ModelCache()
    with conn.transaction():
        row = conn.execute(
            "SELECT watermark, lease_owner = %s AND lease_until > now(), rescore_mark, first_window "
            "FROM tsmon.detection_shards "
            "WHERE config_id = %s AND shard = %s FOR UPDATE",
            (owner, config.id, shard),
        ).fetchone()
        if row is None or not row[1]:
            return ShardResult(scored=False)  # the lease expired and another worker may hold it now
        # The config as it is now, not as the caller loaded it (a run lasts up to a minute): a
        # `tsmon detect apply` committed since then is used at once (and retrains the series).
        current = load_configs(conn, config_id=config.id)
        if not current or shard >= current[0].shards:
            return ShardResult(scored=False)  # disabled, deleted or re-sharded meanwhile
        config, step = current[0], current[0].step
        watermark = row[0] if isinstance(row[0], datetime) else None
        end = floor_time(now - grace, step)
        first = row[3] if isinstance(row[3], datetime) else end - FIRST_RUN_WINDOWS * step
        start = watermark or first
        stop = max(start, min(end, start + MAX_WINDOWS_PER_RUN * step))
        series = _series(conn, config, shard)
        result = ShardResult(scored=stop > start, series=len(series), watermark=stop)
        ranges, mark = settled_ranges(conn, row[2] if isinstance(row[2], datetime) else None, series)
        if series and watermark is not None and ranges:
            result.rescored = rescore(conn, config, ranges, watermark, cache=cache)
        if series and stop > start:
            result.windows = _score(conn, config, series, start, stop, cache=cache)
        conn.execute(
            "UPDATE tsmon.detection_shards SET watermark = %s, rescore_mark = %s, "
            "scored_at = CASE WHEN %s THEN now() ELSE scored_at END WHERE config_id = %s AND shard = %s",
            (stop, mark, stop > start, config.id, shard),
        )
    return result


def _score(
    conn: Conn,
    config: DetectionConfig,
    series: list[int],
    start: datetime,
    stop: datetime,
    *,
    cache: ModelCache,
) -> int:
    models, starts = _models(conn, config, series, start, stop, cache=cache)
    flags = write_scores(conn, config, models, start, stop, starts=starts)
    open_events = events.load_open(conn, config, series)
    # Runs of anomalous windows left pending by the previous batch; a series' first batch has none.
    pending = events.last_pending_run(
        conn, config, [s for s in series if s not in starts], start, config.min_duration + config.step
    )
    touched: list[events.Event] = []
    for sid, (version, points) in flags.items():
        touched += events.advance(open_events, pending, sid, points, config=config, version=version)
    events.save(conn, config, touched)
    return sum(len(points) for _, points in flags.values())


def forget_consumed_rescores(conn: Conn) -> None:
    """Late-data ranges every shard has consumed are no longer needed."""
    conn.execute(
        "DELETE FROM tsmon.detection_rescore WHERE noted_at <= "
        "(SELECT min(coalesce(rescore_mark, '-infinity')) FROM tsmon.detection_shards)"
    )


def detection_lags(conn: Conn) -> dict[str, float]:
    """Per enabled config, seconds its oldest complete, unscored window has waited (detection_status)."""
    rows = conn.execute(
        "SELECT config, extract(epoch FROM lag)::float8 FROM tsmon.detection_status "
        "WHERE enabled AND lag IS NOT NULL"
    ).fetchall()
    return {str(name): float(lag) for name, lag in rows if lag is not None}
