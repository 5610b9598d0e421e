"""CSV format: parse -> format -> parse round trip, time and label rules, located errors."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsmon.errors import InputFileError
from tsmon.ingest.batch import ParseResult, SampleBatch, canonical_labels, datetime_to_us, us_to_datetime
from tsmon.ingest.csv_format import format_csv, iter_csv_text, parse_csv_text, parse_rows, parse_time

label_names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\ufffd"), min_size=1, max_size=8
)
label_values = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\ufffd"), max_size=12)
samples = st.tuples(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_:", min_size=1, max_size=20),
    st.dictionaries(label_names, label_values, max_size=4),
    st.integers(min_value=0, max_value=4_102_444_800_000_000),
    st.floats(allow_nan=False, allow_infinity=False),
)


@given(st.lists(samples, max_size=30))
def test_round_trip(rows: list[tuple[str, dict[str, str], int, float]]) -> None:
    batch = SampleBatch()
    for metric, labels, t, v in rows:
        batch.append(metric, canonical_labels(labels), t, v)
    text = format_csv(batch)
    parsed = list(parse_rows(text.splitlines(keepends=True)))
    assert [r.error for r in parsed] == [None] * len(rows)
    back = SampleBatch()
    for r in parsed:
        back.append(r.metric, r.labels, r.time_us, r.value)
    assert back == batch
    assert format_csv(back) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00+00:00"),
        ("2026-01-01 01:00:00+01:00", "2026-01-01T00:00:00+00:00"),
        ("2026-01-01T00:00:00", "2026-01-01T00:00:00+00:00"),  # naive: UTC
        ("1767225600", "2026-01-01T00:00:00+00:00"),  # seconds
        ("1767225600.5", "2026-01-01T00:00:00.500000+00:00"),
        ("1767225600000", "2026-01-01T00:00:00+00:00"),  # ms
        ("1767225600000000", "2026-01-01T00:00:00+00:00"),  # µs
        ("1767225600000000000", "2026-01-01T00:00:00+00:00"),  # ns
    ],
)
def test_time_formats(text: str, expected: str) -> None:
    assert us_to_datetime(parse_time(text)).isoformat() == expected


def test_time_round_trip_edges() -> None:
    for us in [0, 1, 999_999, 1_000_000, 1_767_225_600_123_456]:
        assert datetime_to_us(us_to_datetime(us)) == us


def test_errors_are_located_and_good_rows_survive() -> None:
    text = (
        "metric,time,value,labels\n"  # any column order
        'cpu,2026-01-01T00:00:00Z,1.5,"{""host"": ""a""}"\n'
        "cpu,yesterday,1,\n"
        'cpu,2026-01-01T00:00:00Z,1,"[1, 2]"\n'
        'cpu,2026-01-01T00:00:00Z,1,"{""host"": 3}"\n'
        "cpu,2026-01-01T00:00:00Z,inf,\n"
        "cpu,2026-01-01T00:00:00Z,one,\n"
        'multi,2026-01-01T00:00:00Z,2,"{""note"":\n ""two lines""}"\n'
        ",2026-01-01T00:00:00Z,1,\n"
        "cpu,2026-01-01T00:00:00Z,1\n"
        "cpu,2026-01-01T00:00:01Z,2,\n"
    )
    rows = list(parse_rows(text.splitlines(keepends=True)))
    got = [(r.line, r.error) for r in rows]
    assert got == [
        (2, None),
        (3, "time 'yesterday' is neither ISO 8601 nor a Unix epoch number"),
        (4, 'labels must be a JSON object like {"host": "web1"}'),
        (5, "label 'host' must have a string value, not int"),
        (6, "value 'inf' is not a finite number"),
        (7, "value 'one' is not a number"),
        (8, None),
        (10, "metric is empty"),
        (11, "expected 4 fields, found 3"),
        (12, None),
    ]
    assert rows[0].labels == '{"host":"a"}' and rows[0].value == 1.5
    assert rows[6].labels == '{"note":"two lines"}'
    assert not math.isnan(rows[-1].value)


def test_bad_header_is_a_file_error() -> None:
    with pytest.raises(InputFileError, match="header must name the columns time,metric,labels,value"):
        list(parse_rows(["when,what\n"]))
    with pytest.raises(InputFileError, match="empty"):
        list(parse_rows([]))


def test_invalid_utf8_row_is_rejected() -> None:
    raw = ["time,metric,labels,value\n", b"2026-01-01T00:00:00Z,c\xffpu,,1\n".decode("utf-8", "replace")]
    rows = list(parse_rows(raw))
    assert rows[0].error == "not valid UTF-8 text"


def test_duplicate_label_names_reject_the_row() -> None:
    text = (
        "time,metric,labels,value\n"
        '1700000000,up,"{""job"": ""a"", ""job"": ""b""}",1\n'
        '1700000000,up,"{""job"": ""c""}",2\n'
    )
    result = parse_csv_text(text)
    assert [str(r) for r in result.rejections] == ["line 2: duplicate label name 'job'"]
    assert result.batch.labels == ['{"job":"c"}']


def test_a_body_converted_in_parts_is_the_body_converted_whole() -> None:
    rows = [f'{1_767_225_600 + i},m,"{{""i"":""{i % 3}""}}",{i}\n' for i in range(100)]
    rows[57] = "1767225600,m,,not-a-number\n"
    text = "time,metric,labels,value\n" + "".join(rows)
    parts = list(iter_csv_text(text, batch_rows=10))
    assert len(parts) == 10 and max(len(p.batch) for p in parts) == 10
    merged = ParseResult()
    for part in parts:
        merged.extend(part)
    assert merged == parse_csv_text(text)
    assert len(merged.batch) == 99 and [r.where for r in merged.rejections] == ["line 59"]
