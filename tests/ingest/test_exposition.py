"""Prometheus text exposition: round trip, target labels, located errors, prometheus_client's own output."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from tsmon.ingest.batch import SampleBatch, canonical_labels
from tsmon.ingest.exposition import format_exposition, parse_exposition

names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,15}", fullmatch=True)
label_names = st.from_regex(r"[a-zA-Z][a-zA-Z0-9_]{0,8}", fullmatch=True)
rows = st.tuples(
    names.filter(lambda n: not n.endswith("_created")),
    st.dictionaries(label_names, st.text(max_size=10), max_size=3),
    st.integers(min_value=0, max_value=4_102_444_800_000).map(lambda ms: ms * 1000),
    st.floats(allow_nan=True, allow_infinity=True),
)


@given(st.lists(rows, max_size=15))
def test_round_trip(samples: list[tuple[str, dict[str, str], int, float]]) -> None:
    batch = SampleBatch()
    for name, labels, t, v in samples:
        batch.append(name, canonical_labels(labels), t, v)
    parsed = parse_exposition(format_exposition(batch), default_time_us=0)
    assert parsed.rejections == []
    assert parsed.batch.metrics == batch.metrics and parsed.batch.labels == batch.labels
    assert parsed.batch.times_us == batch.times_us
    assert [repr(v) for v in parsed.batch.values] == [repr(v) for v in batch.values]
    assert format_exposition(parsed.batch) == format_exposition(batch)


def test_client_library_output_with_target_labels() -> None:
    registry = CollectorRegistry()
    Counter("jobs", "Jobs.", ["job"], registry=registry).labels("etl").inc(3)
    Histogram("lat_seconds", "Latency.", buckets=(0.1, 1.0), registry=registry).observe(0.5)
    parsed = parse_exposition(generate_latest(registry).decode(), 123, {"job": "tsmon", "instance": "h:1"})
    got = {
        (m, lab): v
        for m, lab, v in zip(parsed.batch.metrics, parsed.batch.labels, parsed.batch.values, strict=True)
    }
    assert got[("jobs_total", '{"exported_job":"etl","instance":"h:1","job":"tsmon"}')] == 3.0
    assert got[("lat_seconds_bucket", '{"instance":"h:1","job":"tsmon","le":"1.0"}')] == 1.0
    assert got[("lat_seconds_bucket", '{"instance":"h:1","job":"tsmon","le":"0.1"}')] == 0.0
    assert got[("lat_seconds_count", '{"instance":"h:1","job":"tsmon"}')] == 1.0
    assert not any(m.endswith("_created") for m in parsed.batch.metrics)
    assert parsed.skipped["created_timestamp"] >= 2
    assert set(parsed.batch.times_us) == {123}


def test_bad_lines_are_located() -> None:
    text = '# HELP a A.\na 1\nb{x="1"} one\nc 2 1700000000000\nd{ 3\nnan_value NaN\n'
    parsed = parse_exposition(text, 0, first_line=10)
    assert parsed.batch.metrics == ["a", "c", "nan_value"]
    assert parsed.batch.times_us[1] == 1_700_000_000_000_000
    assert math.isnan(parsed.batch.values[2])
    assert [r.where for r in parsed.rejections] == ["line 12", "line 14"]
