"""Text format and OpenMetrics: round trip, timestamps, exemplars, located errors, client output."""

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
    st.dictionaries(label_names, st.text(min_size=1, max_size=10), max_size=3),  # empty = absent
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


def test_client_library_output() -> None:
    registry = CollectorRegistry()
    Counter("jobs", "Jobs.", ["job"], registry=registry).labels("etl").inc(3)
    Histogram("lat_seconds", "Latency.", buckets=(0.1, 1.0), registry=registry).observe(0.5)
    parsed = parse_exposition(generate_latest(registry).decode(), 123)
    got = {
        (m, lab): v
        for m, lab, v in zip(parsed.batch.metrics, parsed.batch.labels, parsed.batch.values, strict=True)
    }
    assert got[("jobs_total", '{"job":"etl"}')] == 3.0
    assert got[("lat_seconds_bucket", '{"le":"1.0"}')] == 1.0
    assert got[("lat_seconds_bucket", '{"le":"0.1"}')] == 0.0
    assert got[("lat_seconds_count", "{}")] == 1.0
    assert not any(m.endswith("_created") for m in parsed.batch.metrics)
    assert parsed.skipped["created_timestamp"] >= 2
    assert set(parsed.batch.times_us) == {123}


OPENMETRICS_TEXT = """# TYPE req counter
req_total{code="200"} 7 1700000000.250
# TYPE lat histogram
lat_bucket{le="0.5"} 3 # {trace_id="a1"} 0.2 1600000000.000
lat_bucket{le="+Inf"} 4 # {trace_id="b2"} 0.7 1600000001.500
lat_count 4
lat_sum 1.9
# EOF
"""


def test_openmetrics_timestamps_are_seconds_and_exemplars_stay_apart() -> None:
    parsed = parse_exposition(OPENMETRICS_TEXT, default_time_us=42, openmetrics=True)
    assert parsed.rejections == []
    keys = zip(parsed.batch.metrics, parsed.batch.labels, strict=True)
    rows = dict(zip(keys, parsed.batch.times_us, strict=True))
    assert rows[("req_total", '{"code":"200"}')] == 1_700_000_000_250_000
    # The exemplar's timestamp and value belong to the exemplar, not to the bucket.
    assert rows[("lat_bucket", '{"le":"0.5"}')] == 42 and rows[("lat_bucket", '{"le":"+Inf"}')] == 42
    assert parsed.batch.values[parsed.batch.metrics.index("lat_bucket")] == 3.0
    assert parsed.skipped == {"exemplar": 2}
    # The same timestamp in the Prometheus text format is milliseconds.
    text = parse_exposition("req_total 7 1700000000250\n", default_time_us=42)
    assert text.batch.times_us == [1_700_000_000_250_000]


def test_openmetrics_bad_lines_are_located() -> None:
    text = "# TYPE g gauge\ng 1 1700000000\ng{ 2\nh 3\n# EOF\n"
    parsed = parse_exposition(text, default_time_us=5, openmetrics=True)
    assert parsed.batch.metrics == ["g", "h"]
    assert parsed.batch.times_us == [1_700_000_000_000_000, 5]
    assert [r.where for r in parsed.rejections] == ["line 3"]
    truncated = parse_exposition("# TYPE g gauge\ng 1\nh 2\n", default_time_us=5, openmetrics=True)
    assert truncated.batch.metrics == ["g", "h"]
    assert [(r.where, r.reason) for r in truncated.rejections] == [
        ("end of text", "no # EOF line: the OpenMetrics text is truncated")
    ]


def test_empty_label_values_are_absent_labels() -> None:
    text = 'node_os_info{build_id="",id="debian",variant=""} 1\nx{a=""} 2\n'
    for openmetrics in (False, True):
        parsed = parse_exposition(text + ("# EOF\n" if openmetrics else ""), 0, openmetrics=openmetrics)
        assert parsed.batch.labels == ['{"id":"debian"}', "{}"]


def test_bad_lines_are_located() -> None:
    text = '# HELP a A.\na 1\nb{x="1"} one\nc 2 1700000000000\nd{ 3\nnan_value NaN\n'
    parsed = parse_exposition(text, 0, first_line=10)
    assert parsed.batch.metrics == ["a", "c", "nan_value"]
    assert parsed.batch.times_us[1] == 1_700_000_000_000_000
    assert math.isnan(parsed.batch.values[2])
    assert [r.where for r in parsed.rejections] == ["line 12", "line 14"]
