"""The seeded root-cause scenario: over 50 seeds the cause ranks in the top 3 and its downstream
effects in the top 10 of `changes` (volume) in at least 90 % of them, among 500 unrelated series."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg

from tests.analysis.scenario import BASELINE_MIN, DOWNSTREAM, WINDOW_MIN, scenario
from tests.analysis.seed_changes import add_series, copy_samples, refresh
from tsmon.analysis.changes import ChangesRequest, rank

SEEDS = 50


def test_cause_and_downstream_rank_first(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    began = time.monotonic()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    end = now - timedelta(minutes=5)
    start = end - timedelta(minutes=WINDOW_MIN)
    origin = (start - timedelta(minutes=BASELINE_MIN)).timestamp()
    ids: dict[int, dict[str, int]] = {}
    sid, ep, val = [], [], []
    for seed in range(SEEDS):
        sc = scenario(seed)
        made = add_series(conn, "rc", [{"seed": str(seed), "name": n} for n in sc.names])
        ids[seed] = dict(zip(sc.names, made, strict=True))
        for series_id, (times, values) in zip(made, sc.series, strict=True):
            sid.append(np.full(times.size, series_id)), ep.append(origin + times), val.append(values)
    copy_samples(conn, np.concatenate(sid), np.concatenate(ep), np.concatenate(val))
    refresh(conn, now)
    seeded = time.monotonic() - began
    cause_top3 = downstream_top10 = 0
    for seed in range(SEEDS):
        run = rank(conn, ChangesRequest(start, end, labels={"seed": str(seed)}, limit=10), now, 90.0)
        top = [r.series_id for r in run.results]
        assert run.ranked == len(ids[seed])  # nothing here is constant or sparse
        cause_top3 += ids[seed]["cause"] in top[:3]
        downstream_top10 += all(ids[seed][f"down{k}"] in top for k in range(DOWNSTREAM))
    print(
        f"\nroot cause in the top 3: {cause_top3}/{SEEDS} seeds; all {DOWNSTREAM} downstream in the top 10: "
        f"{downstream_top10}/{SEEDS}; {len(sid)} series, {sum(e.size for e in ep)} samples seeded in "
        f"{seeded:.1f} s, ranked in {time.monotonic() - began - seeded:.1f} s"
    )
    assert cause_top3 >= 0.9 * SEEDS
    assert downstream_top10 >= 0.9 * SEEDS
