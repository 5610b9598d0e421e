"""Drift on de-seasonalised residuals: quiet on normal seasonal data, the demo's controls a week long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest

from tsmon.demo import DEMO_CONFIGS, backfill, feed
from tsmon.demo.workload import demo_series, values
from tsmon.detection import make_detector
from tsmon.scoring import policy
from tsmon.scoring.config_file import load_document, validate
from tsmon.scoring.configs import DetectionConfig, apply_yaml, load_configs
from tsmon.scoring.drift import DRIFT_EVERY, DRIFT_RECENT, measure, profile_of, summarize
from tsmon.scoring.job import claim_shards, score_shard

Conn = psycopg.Connection[tuple[object, ...]]

SIX_HOURS = timedelta(hours=6)
DAY = 86_400.0


def daily(t: np.ndarray, seed: int, level: float = 100.0) -> np.ndarray:
    """A strong daily cycle (amplitude 30) on unit noise, peaking at 15:00 UTC."""
    noise = np.random.default_rng(seed).normal(size=t.size)
    return level + 30 * np.cos(2 * np.pi * (t - 15 * 3600) / DAY) + noise


T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC
TRAIN = T0 + 60.0 * np.arange(14 * 1440)


def recent(hours_after: float) -> np.ndarray:
    end = TRAIN[-1] + 60 + hours_after * 3600
    return end - 60.0 * np.arange(360, 0, -1)


def test_six_hours_of_a_daily_cycle_are_not_drift() -> None:
    """The old test compared raw values: six hours of a day against fourteen days always 'drifted'."""
    summary = summarize(TRAIN, daily(TRAIN, 1), SIX_HOURS)
    for hours in (1, 7, 13, 19):
        t = recent(hours)
        d = measure(summary, t, daily(t, 100 + hours))
        assert d is not None and not d.drifted, (hours, d)


def test_a_shift_or_a_wider_spread_is_drift() -> None:
    summary = summarize(TRAIN, daily(TRAIN, 2), SIX_HOURS)
    t = recent(3)
    shifted = measure(summary, t, daily(t, 3, level=101.5))
    assert shifted is not None and shifted.drifted and shifted.test.shift == pytest.approx(1.5, abs=0.3)
    wider = measure(summary, t, daily(t, 4) + np.random.default_rng(5).normal(0, 2, t.size))
    assert wider is not None and wider.drifted and wider.test.spread_ratio > 1.7


def test_the_expectation_is_the_models_own_profile() -> None:
    v = daily(TRAIN, 6)
    seasonal = make_detector("seasonal").fit(v, timestamps=TRAIN)
    assert profile_of(seasonal, TRAIN, v)["cycle"] == seasonal.profile_.tolist()
    onset = make_detector("onset").fit(v, timestamps=TRAIN)
    profile = profile_of(onset, TRAIN, v)
    assert profile["cycle"] == onset.baseline_.profile_.tolist() and profile["intercept"] == onset.center_
    assert profile["slope"] == 0.0  # onset expects no trend, so a trend is drift for it
    ensemble = make_detector("ensemble").fit(v, timestamps=TRAIN)
    assert profile_of(ensemble, TRAIN, v)["cycle"] == ensemble.detectors_[0][1].profile_.tolist()
    mad = make_detector("mad").fit(v, timestamps=TRAIN)  # no cycle of its own: one is fitted for drift
    assert len(profile_of(mad, TRAIN, v)["cycle"]) == 24


def test_too_little_data_or_an_old_summary_says_nothing() -> None:
    summary = summarize(TRAIN, daily(TRAIN, 7), SIX_HOURS)
    t = recent(1)[-30:]
    assert measure(summary, t, daily(t, 8)) is None
    old = {"quantiles": list(np.linspace(0, 1, 101)), "n": 100}  # what models trained before step 7 keep
    assert measure(old, recent(1), daily(recent(1), 9)) is None


def demo_configs() -> dict[str, DetectionConfig]:
    docs = load_document(DEMO_CONFIGS.read_text())
    fields = set(DetectionConfig.__dataclass_fields__)
    configs = [validate(raw, f"demo config {i}") for i, raw in enumerate(docs)]
    return {
        c["metric"]: DetectionConfig(id=i, **{k: v for k, v in c.items() if k in fields})
        for i, c in enumerate(configs)
    }


def train(config: DetectionConfig, t: np.ndarray, v: np.ndarray, at: float) -> dict[str, object]:
    """A model of ``config`` fitted on its training window before ``at``, as `models.train_many` keeps it."""
    rows = policy.training_rows(t, at, config.training_window.total_seconds(), [], keep_open=False)
    params = {**config.params, "threshold": config.threshold}
    detector = make_detector(config.detector, **params).fit(v[rows], timestamps=t[rows])
    return summarize(t[rows], v[rows], DRIFT_RECENT[config.resolution], detector)


def drifts_over_a_week(anchor: float, kinds: set[str]) -> dict[tuple[str, str], list[float]]:
    """The worker's drift decisions on the demo for a week after its backfill at ``anchor``, hour by hour.

    As `job._models`: trained initially on the backfill before the first scored hour, again on schedule
    (`retrain_every`) or after drift, with the config's detector; tested when an hourly batch starts,
    on the last six hours.  Returns the hours (after ``anchor``) at which each series drifted.
    """
    configs = demo_configs()
    week = 7 * DAY
    out: dict[tuple[str, str], list[float]] = {}
    for s in demo_series():
        if s.kind not in kinds:
            continue
        config = configs[s.metric]
        history = config.training_window.total_seconds()
        t = np.arange(anchor - history + 60, anchor + week + 60, 60.0)
        v = values(s, t, anchor)

        start = anchor - 3600  # the first run scores the last hour of the backfill
        train_end, summary = start, train(config, t, v, start)
        drifted: list[float] = []
        while (start := start + 3600) <= anchor + week:
            at = datetime.fromtimestamp(start, UTC)
            reason = policy.retrain_reason(datetime.fromtimestamp(train_end, UTC), at, config.retrain_every)
            assert policy.drift_check_due(at, at + timedelta(hours=1), DRIFT_EVERY[config.resolution])
            if not reason:
                window = (t >= start - DRIFT_RECENT[config.resolution].total_seconds()) & (t < start)
                d = measure(summary, t[window], v[window])
                if d is not None and d.drifted:
                    drifted.append((start - anchor) / 3600)
                    reason = "drift"
            if reason:
                train_end, summary = start, train(config, t, v, start)
        out[(s.metric, s.kind)] = drifted
    return out


ANCHOR = datetime(2026, 3, 4, 10, 17, tzinfo=UTC).timestamp()


def test_demo_control_twins_never_drift_in_a_week() -> None:
    """Before: all ten demo series 'drifted' at the first hourly check (raw values, KS + PSI)."""
    drifts = drifts_over_a_week(ANCHOR, {"control"})
    assert len(drifts) == 5 and all(hours == [] for hours in drifts.values()), drifts


def test_demo_anomalies_that_change_the_series_drift_at_once() -> None:
    """The injected level shift, trend change and seasonal break move the residuals: drift at once."""
    drifts = drifts_over_a_week(ANCHOR, {"level_shift", "trend_change", "seasonal_break"})
    assert all(hours[:1] == [0.0] for hours in drifts.values()), drifts


def test_the_scoring_job_on_the_demo_drifts_changed_series_never_controls(conn: Conn) -> None:
    """The real job, hour by hour for half a day after the demo's backfill, as the worker runs it."""
    now = datetime.now(UTC).replace(hour=10, minute=17, second=20, microsecond=0) - timedelta(days=1)
    backfill(conn, now)
    apply_yaml(conn, DEMO_CONFIGS.read_text())
    configs = {c.id: c for c in load_configs(conn)}
    for hour in range(13):
        at = now + timedelta(hours=hour)
        feed(conn, at)
        conn.execute("UPDATE tsmon.detection_shards SET scored_at = NULL")  # an hour passes for the scheduler
        for config_id, shard in claim_shards(conn, "drift-test", timedelta(minutes=2), 100, at):
            score_shard(conn, configs[config_id], shard, "drift-test", at)
    rows = conn.execute(
        "SELECT s.labels->>'scenario', min(d.p_value) FROM tsmon.drift_events d "
        "JOIN tsmon.series s ON s.id = d.series_id GROUP BY 1"
    ).fetchall()
    drifted = {str(scenario): p for scenario, p in rows}
    assert "control" not in drifted
    assert {"level_shift", "trend_change", "seasonal_break"} <= set(drifted), drifted
    trained = conn.execute("SELECT count(*) FILTER (WHERE reason = 'schedule') FROM tsmon.models").fetchone()
    assert trained is not None and int(str(trained[0])) >= 10  # every series was retrained on schedule too
