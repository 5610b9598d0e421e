"""JSON format: round trip, incremental reading across any chunking, located errors."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsmon.ingest.batch import ParseResult, SampleBatch, canonical_labels
from tsmon.ingest.json_format import format_json, iter_json, iter_json_objects, parse_json

samples = st.tuples(
    st.sampled_from(["cpu", "mem_used", "http_requests_total"]),
    st.dictionaries(st.text(min_size=1, max_size=5), st.text(max_size=8), max_size=3),
    st.integers(min_value=0, max_value=4_102_444_800_000_000),
    st.floats(allow_nan=True, allow_infinity=True),
)


def _batch(rows: list[tuple[str, dict[str, str], int, float]]) -> SampleBatch:
    b = SampleBatch()
    for metric, labels, t, v in rows:
        b.append(metric, canonical_labels(labels), t, v)
    return b


def _key(b: SampleBatch) -> list[tuple[str, str, int, str]]:
    # Grouped by series on output, so compare as sorted sets; NaN compared by repr.
    return sorted(zip(b.metrics, b.labels, b.times_us, map(repr, b.values), strict=True))


@given(st.lists(samples, max_size=20))
def test_round_trip(rows: list[tuple[str, dict[str, str], int, float]]) -> None:
    batch = _batch(rows)
    parsed = parse_json(format_json(batch))
    assert parsed.rejections == []
    assert _key(parsed.batch) == _key(batch)
    assert format_json(parsed.batch) == format_json(batch)


@given(
    st.lists(st.dictionaries(st.text(max_size=4), st.integers() | st.text(max_size=6)), max_size=8), st.data()
)
def test_incremental_reading_matches_any_chunking(values: list[object], data: st.DataObject) -> None:
    for text in (json.dumps(values), "\n".join(json.dumps(v) for v in values)):
        cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=6)))
        chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        assert [v for _, v in iter_json_objects(chunks)] == values


def test_numbers_split_across_chunks() -> None:
    assert [v for _, v in iter_json_objects(["12", "34\n5", "6"])] == [1234, 56]


def test_lines_are_reported() -> None:
    text = '[\n{"a": 1},\n\n{"b": 2}\n]'
    assert [line for line, _ in iter_json_objects([text])] == [2, 4]
    with pytest.raises(ValueError, match="line 3: invalid JSON"):
        list(iter_json_objects(['[\n{"a": 1},\n{"b": ]']))
    with pytest.raises(ValueError, match="not closed"):
        list(iter_json_objects(['[{"a": 1}']))


def test_bad_series_and_points_are_located() -> None:
    body = json.dumps(
        [
            {
                "metric": "ok",
                "labels": {"h": "a"},
                "points": [[1767225600, 1], ["2026-01-01T00:00:01Z", "2.5"]],
            },
            {"labels": {}, "points": []},
            {"metric": "x", "labels": {"h": 1}, "points": []},
            {"metric": "y", "points": [[1767225600, None], [True, 1], [1767225600], [1767225601, "NaN"]]},
            "nope",
        ]
    )
    parsed = parse_json(body)
    assert parsed.batch.metrics == ["ok", "ok", "y"]
    assert parsed.batch.values[:2] == [1.0, 2.5] and math.isnan(parsed.batch.values[2])
    assert [str(r) for r in parsed.rejections] == [
        'series #1 (line 1): "metric" must be a non-empty string',
        'series #2 (line 1): "labels" must be an object of non-empty names to strings',
        "series #3 (line 1) (y{}) point 0: value None is not a number",
        "series #3 (line 1) (y{}) point 1: a boolean is not a timestamp",
        "series #3 (line 1) (y{}) point 2: expected [timestamp, value]",
        "series #4 (line 1): expected an object {metric, labels, points}",
    ]


def test_malformed_body_is_one_rejection() -> None:
    parsed = parse_json('[{"metric": "a", "points": [[1, 2]]}, {oops}]')
    assert len(parsed.batch) == 1
    assert [r.where for r in parsed.rejections] == ["body"]


def test_duplicate_label_names_reject_the_series_and_keep_the_rest() -> None:
    body = (
        '[{"metric": "up", "labels": {"job": "a", "job": "b"}, "points": [[1700000000, 1], [1700000060, 1]]},'
        ' {"metric": "up", "labels": {"job": "c"}, "points": [[1700000000, 2]]},'
        ' {"metric": "up", "metric": "down", "points": [[1700000000, 3]]}]'
    )
    result = parse_json(body)
    assert [(r.where, r.reason, r.code, r.samples) for r in result.rejections] == [
        ("series #0 (line 1) (up)", "duplicate label name 'job'", "duplicate_label_names", 2),
        ("series #2 (line 1)", "key 'metric' appears more than once", "duplicate_keys", 1),
    ]
    assert result.batch.labels == ['{"job":"c"}'] and result.batch.values == [2.0]


def test_a_body_converted_in_parts_is_the_body_converted_whole() -> None:
    doc = [
        {"metric": "m", "labels": {"i": str(i)}, "points": [[1_767_225_600 + k, k] for k in range(7)]}
        for i in range(20)
    ]
    doc[13]["points"][2] = ["yesterday", 1]
    text = json.dumps(doc, indent=1)[:-2] + ", {oops"  # malformed at the end: what came before is kept
    parts = list(iter_json(text, batch_samples=10))
    assert max(len(p.batch) for p in parts) < 10 + 7  # a part ends after the series that reaches the size
    merged = ParseResult()
    for part in parts:
        merged.extend(part)
    assert merged == parse_json(text)
    assert len(merged.batch) == 139 and [r.where for r in merged.rejections] == [
        'series #13 (line 470) (m{"i":"13"}) point 2',
        "body",
    ]
