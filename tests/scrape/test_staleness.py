"""Staleness bookkeeping: which series get a marker, and the marker's exact bits."""

from __future__ import annotations

import math
import struct

from tsmon.ingest.batch import SampleBatch
from tsmon.scrape.staleness import STALE_NAN, Staleness


def test_the_marker_is_prometheus_stale_nan() -> None:
    assert math.isnan(STALE_NAN)
    assert struct.pack(">d", STALE_NAN).hex() == "7ff0000000000002"


def test_markers_for_what_a_scrape_no_longer_has_and_for_targets_gone() -> None:
    s, batch = Staleness(), SampleBatch()
    report = [("up", '{"job":"a"}')]
    assert s.scraped("t1", {("x", "{}"), ("y", "{}")}, report, 10, batch) == 0
    assert s.scraped("t2", {("z", "{}")}, report, 10, batch) == 0
    assert s.scraped("t1", {("x", "{}")}, report, 20, batch) == 1
    assert s.scraped("t1", set(), report, 30, batch) == 1  # down: the rest of the last good scrape
    assert s.scraped("t1", set(), report, 40, batch) == 0  # still down: nothing more
    assert s.gone({"t1"}, 50, batch) == 2  # t2 is gone: its series and its report series
    assert s.gone({"t1"}, 60, batch) == 0
    assert list(zip(batch.metrics, batch.times_us, strict=True)) == [
        ("y", 20),
        ("x", 30),
        ("z", 50),
        ("up", 50),
    ]
    assert all(struct.pack(">d", v).hex() == "7ff0000000000002" for v in batch.values)
