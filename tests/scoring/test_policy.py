"""The worker's pure decisions: where a new series starts, when models are retrained (spread over the day)."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np

from tsmon.scoring.policy import RETRAIN_SLOTS, first_window, retrain_offset, retrain_reason

DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)
T0 = datetime(2026, 3, 9, 13, 17, tzinfo=UTC)  # a first run, at no particular time of day


def test_first_window_is_the_first_with_a_models_worth_of_rows() -> None:
    times = np.arange(100.0, 170.0) * 60  # 70 windows from minute 100
    lower = 110.0 * 60  # where a first run starts: 10 rows before it, not enough
    assert first_window(times, lower, 86_400, 60, 30) == 130.0 * 60  # the 31st window: 30 rows before it
    assert first_window(times, 150.0 * 60, 86_400, 60, 30) == 150.0 * 60  # enough already at lower
    assert first_window(times, lower, 86_400, 60, 71) is None  # never enough
    assert first_window(times, lower, 20 * 60, 60, 30) is None  # a window too short to hold 30
    gappy = np.concatenate((times[:20], times[40:]))  # 20 windows, a gap of 20, 30 more
    assert first_window(gappy, lower, 86_400, 60, 30) == 150.0 * 60  # the 10th after the gap
    assert first_window(np.array([]), lower, 86_400, 60, 30) is None


def test_each_shard_owns_slots_spread_over_the_whole_day() -> None:
    for shards in (1, 2, 16, 1000, 5000):
        offsets = [retrain_offset(sid, shards, DAY) for sid in range(20_000)]
        assert all(timedelta(0) <= o < DAY for o in offsets)
        slots = [round(o / DAY * RETRAIN_SLOTS * 4) / 4 for o in offsets]  # in minutes
        for shard in range(min(shards, 16)):
            mine = sorted({slot for sid, slot in enumerate(slots) if sid % shards == shard})
            others = {slot for sid, slot in enumerate(slots) if sid % shards != shard}
            assert not others & set(mine)  # a slot belongs to one shard
            if RETRAIN_SLOTS // shards >= 2:  # a shard's series spread over the day, not one hour of it
                assert len(mine) == RETRAIN_SLOTS // shards and mine[-1] - mine[0] >= RETRAIN_SLOTS * 0.9
        assert len(set(slots)) == min(shards * max(1, RETRAIN_SLOTS // shards), 20_000)  # all used


def test_a_first_runs_models_are_retrained_one_slot_at_a_time() -> None:
    """Every series trained at once (a first run): one pass a minute for two and a half days."""
    series, shards = 300, 16
    offsets = {sid: retrain_offset(sid, shards, DAY) for sid in range(series)}
    trained = dict.fromkeys(offsets, T0)
    history: dict[int, list[datetime]] = {sid: [] for sid in offsets}
    per_minute: Counter[datetime] = Counter()
    baseline: Counter[datetime] = Counter()
    for m in range(1, int(2.5 * RETRAIN_SLOTS)):
        start = T0 + m * MINUTE
        for sid, offset in offsets.items():
            if retrain_reason(trained[sid], start, DAY, offset) == "schedule":
                trained[sid] = start
                history[sid].append(start)
                per_minute[start] += 1
            if retrain_reason(T0, start, DAY) == "schedule" and start - T0 < DAY + MINUTE:
                baseline[start] += 1  # the rule without slots: everything a day later, at once
    assert baseline == Counter({T0 + DAY: series})
    assert max(per_minute.values()) == 1  # 300 series, 300 slots: never two in one pass
    for sid, times in history.items():
        assert DAY / 2 <= times[0] - T0 < 1.5 * DAY  # the first retraining: at its slot
        assert all(b - a == DAY for a, b in itertools.pairwise(times))  # then daily, on it
        assert (times[0] - offsets[sid]).time() == datetime.min.time()  # exactly on the slot
    firsts = sorted(times[0] for times in history.values())
    assert firsts[-1] - firsts[0] > 0.95 * DAY  # spread over a whole day


def test_retrain_reasons_by_age_without_a_slot_and_at_the_slot_with_one() -> None:
    assert retrain_reason(None, T0, DAY) == "initial"
    assert retrain_reason(T0, T0 + 23 * 60 * MINUTE, DAY) == ""
    assert retrain_reason(T0, T0 + DAY, DAY) == "schedule"
    slot = T0 - MINUTE  # a series whose slot passes a minute before T0 every day
    offset = (slot - datetime(1970, 1, 1, tzinfo=UTC)) % DAY
    assert retrain_reason(None, T0, DAY, offset) == "initial"
    # Trained just after its slot: due when it comes round, a day later less a minute.
    assert retrain_reason(T0, slot + DAY - MINUTE, DAY, offset) == ""
    assert retrain_reason(T0, slot + DAY, DAY, offset) == "schedule"
    # Trained just before it: not a minute later (half a day at least), but at the next passing.
    assert retrain_reason(slot - MINUTE, slot, DAY, offset) == ""
    assert retrain_reason(slot - MINUTE, slot + DAY, DAY, offset) == "schedule"
    # Trained 11 hours before it: the slot's next passing is too soon, the one after is on time.
    trained = slot - 11 * 60 * MINUTE
    assert retrain_reason(trained, slot + 12 * 60 * MINUTE, DAY, offset) == ""
    assert retrain_reason(trained, slot + DAY, DAY, offset) == "schedule"
