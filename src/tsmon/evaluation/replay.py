"""Causal replay of one series through the worker's decisions: train, retrain, drift, context, events.

Each row is one window of the scoring job, scored when it arrives: the model is (re)trained first
when `policy.retrain_reason` or a due drift test says so, on the training window before the row
minus the periods of events judged false alarms (`policy.training_rows`; none in a replay, where
nobody judges), and the row is scored by ``score_samples`` on itself and the earlier windows
its ``scoring_context`` asks for, as `scores.write_scores` does.  Events are folded by the job's
own `events.advance`.  A row's score depends only on the rows up to it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from tsmon.detection import BaseDetector, make_detector
from tsmon.detection.calibration import score_of
from tsmon.evaluation.nab_corpus import FloatArray
from tsmon.scoring import events, policy
from tsmon.scoring.configs import DetectionConfig
from tsmon.scoring.drift import DRIFT_EVERY, DRIFT_RECENT, measure, summarize
from tsmon.scoring.models import MIN_TRAINING_POINTS

# The default configs (scoring/default_configs.yaml) open an `onset` event on one window.
DEFAULT_MIN_WINDOWS = 1


@dataclass(frozen=True)
class DetectorSpec:
    """What a detection config says about the detector: registry name and params."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReplayResult:
    surprise: FloatArray  # -log10 tail probability per row (0 before the first model)
    trainings: dict[str, int] = field(default_factory=dict)  # reason -> count
    fit_seconds: float = 0.0
    score_seconds: float = 0.0

    @property
    def scores(self) -> FloatArray:
        return score_of(self.surprise)


def spacing(times: FloatArray) -> float:
    steps = np.diff(times)
    steps = steps[steps > 0]
    return float(np.median(steps)) if steps.size else 60.0


def replay(
    times: FloatArray, values: FloatArray, spec: DetectorSpec, config: DetectionConfig | None = None
) -> ReplayResult:
    """Score every row as the worker would have, one window per run; ``times`` non-decreasing.

    A NAB row is a window: the step is the series' median spacing, and its drift cadence that of
    1h windows when rows are an hour or more apart, else that of 1m windows.  Without ``config``
    the defaults of a detection config apply (14d training window, daily retraining, sensitivity
    0.99) with ``min_duration`` one window, as in the default configs.
    """
    step_s = spacing(times)
    resolution = "1h" if step_s >= 3600 else "1m"
    step = timedelta(seconds=step_s)
    if config is None:
        config = DetectionConfig(
            id=0,
            name="replay",
            metric="replay",
            detector=spec.name,
            params=spec.params,
            min_duration=DEFAULT_MIN_WINDOWS * step,
        )
    drift_every, recent = DRIFT_EVERY[resolution], DRIFT_RECENT[resolution]
    drift_recent = recent.total_seconds()
    window = config.training_window.total_seconds()
    n = values.size
    result = ReplayResult(np.zeros(n))
    detector: BaseDetector | None = None
    train_end: datetime | None = None
    distribution: dict[str, object] = {}
    open_events: dict[int, events.Event] = {}
    pending: dict[int, events.Event] = {}
    periods: list[policy.EventPeriod] = []
    version = 0
    for i in range(n):
        start = datetime.fromtimestamp(times[i], UTC)
        reason = policy.retrain_reason(train_end, start, config.retrain_every)
        if not reason and detector is not None and policy.drift_check_due(start, start + step, drift_every):
            lo = int(np.searchsorted(times, times[i] - drift_recent, side="left"))
            drift = measure(distribution, times[lo:i], values[lo:i])
            reason = "drift" if drift is not None and drift.drifted else ""
        if reason:
            # Replayed events carry no feedback: none is excluded, as in the worker until someone judges one.
            now = [(e.started_at.timestamp(), None, True, None) for e in open_events.values()]
            rows = policy.training_rows(
                times[:i], times[i], window, [*periods, *now], keep_open=reason == "drift"
            )
            if int(rows.sum()) >= MIN_TRAINING_POINTS:
                began = time.perf_counter()
                params = {**config.params, "threshold": config.threshold}
                detector = make_detector(config.detector, **params)
                detector.fit(values[:i][rows], timestamps=times[:i][rows])
                result.fit_seconds += time.perf_counter() - began
                distribution = summarize(times[:i][rows], values[:i][rows], recent, detector)
                train_end, version = start, version + 1
                result.trainings[reason] = result.trainings.get(reason, 0) + 1
        if detector is None:
            continue
        began = time.perf_counter()
        context = detector.scoring_context * step_s
        lo = int(np.searchsorted(times, times[i] - context, side="left"))
        surprise = float(detector.surprise_samples(values[lo : i + 1], timestamps=times[lo : i + 1])[-1])
        result.score_seconds += time.perf_counter() - began
        result.surprise[i] = surprise
        score = float(score_of(np.array([surprise]))[0])
        for e in events.advance(
            open_events,
            pending,
            0,
            [(start, score, score >= config.threshold)],
            config=config,
            version=version,
        ):
            if e.closed:
                periods.append((e.started_at.timestamp(), (e.last_at + step).timestamp(), False, None))
    return result
