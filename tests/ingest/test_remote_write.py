"""Prometheus remote write 1.0: round trip, NaN bits, per-series rejections, body errors, fuzzing."""

from __future__ import annotations

import math
import struct

import cramjam
import pytest
from google.protobuf.internal import api_implementation
from hypothesis import given, settings
from hypothesis import strategies as st

from tsmon.errors import BodyTooLargeError
from tsmon.ingest.batch import ParseResult, canonical_labels
from tsmon.ingest.proto import remote_pb2 as pb
from tsmon.ingest.remote_write import (
    BadProtobuf,
    BadSnappy,
    LabelSetCache,
    RemoteWriteError,
    compress,
    decode_remote_write,
    encode_remote_write,
    iter_remote_write,
)

CAP = 1 << 20
STALE_BITS = 0x7FF0000000000002
STALE = struct.unpack("<d", struct.pack("<Q", STALE_BITS))[0]
T0 = 1_700_000_000_000

metric_names = st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,15}", fullmatch=True)
label_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,15}", fullmatch=True).filter(lambda n: n != "__name__")
label_values = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=12)
sample_values = st.one_of(
    st.floats(),  # includes NaN, +-Inf, -0.0 and subnormals
    st.sampled_from([STALE, math.inf, -math.inf, -0.0, math.nan]),
    st.integers(0, (1 << 52) - 1).map(
        lambda m: struct.unpack("<d", struct.pack("<Q", 0x7FF0 << 48 | m | 1))[0]
    ),
)
MAX_MS = ((1 << 63) - 1) // 1000  # the widest ms range whose µs still fit int64
timestamps = st.integers(-MAX_MS, MAX_MS)
series_strategy = st.tuples(
    metric_names,
    st.dictionaries(label_names, label_values, max_size=6),
    st.lists(st.tuples(timestamps, sample_values), max_size=5),
)


def bits(value: float) -> int:
    return int(struct.unpack("<Q", struct.pack("<d", value))[0])


def rows(result: ParseResult) -> list[tuple[str, str, int, int]]:
    """Batch rows with values as their IEEE bits, so NaN payloads compare exactly."""
    b = result.batch
    return list(zip(b.metrics, b.labels, b.times_us, map(bits, b.values), strict=True))


def body_of(*series: tuple[list[tuple[bytes, bytes]], list[tuple[int, float]]]) -> bytes:
    """A body from raw label bytes, in the given order (duplicates and invalid UTF-8 allowed)."""
    request = pb.WriteRequest()
    for labels, samples in series:
        request.timeseries.add(
            labels=[pb.Label(name=n, value=v) for n, v in labels],
            samples=[pb.Sample(timestamp=t, value=v) for t, v in samples],
        )
    return compress(request.SerializeToString())


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def decodes_or_refuses(body: bytes) -> None:
    try:
        result = decode_remote_write(body, CAP)
    except (RemoteWriteError, BodyTooLargeError):
        return
    assert isinstance(result, ParseResult)
    assert len({len(result.batch.metrics), len(result.batch.labels), len(result.batch.times_us)}) == 1
    assert len(result.batch.values) == len(result.batch.metrics)


# --- round trip --------------------------------------------------------------------------------------


@settings(max_examples=200)
@given(st.lists(series_strategy, max_size=8))
def test_round_trip(
    series: list[tuple[str, dict[str, str], list[tuple[int, float]]]],
) -> None:
    body = encode_remote_write([({"__name__": m, **labels}, samples) for m, labels, samples in series])
    expected = [
        (m, canonical_labels(labels), t * 1000, bits(v)) for m, labels, samples in series for t, v in samples
    ]
    cache = LabelSetCache()
    cold = decode_remote_write(body, CAP, cache)
    warm = decode_remote_write(body, CAP, cache)  # label sets now come from the cache
    for result in (cold, warm):
        assert result.rejections == []
        assert result.skipped == {}
        assert rows(result) == expected


def test_staleness_marker_bits_survive() -> None:
    """Holds with protobuf's upb backend (the default). The pure-Python backend
    (PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python) decodes every NaN as float("nan") and loses the marker."""
    assert api_implementation.Type() == "upb"
    assert math.isnan(STALE)
    assert bits(STALE) != bits(math.nan)
    body = encode_remote_write([({"__name__": "up", "job": "node"}, [(T0, STALE), (T0 + 1, math.nan)])])
    for _ in range(2):
        values = decode_remote_write(body, CAP).batch.values
        assert struct.pack(">d", values[0]) == bytes.fromhex("7ff0000000000002")
        assert bits(values[1]) == bits(math.nan)


def test_timestamps_are_ms_to_us_and_labels_are_canonical() -> None:
    body = encode_remote_write(
        [
            ({"job": "node", "__name__": "node_load1", "instance": "a:9100"}, [(T0, 0.5), (-1, 2.0)]),
            ({"__name__": "job:up:sum"}, [(0, 1.0)]),
        ]
    )
    result = decode_remote_write(body, CAP)
    assert result.batch.metrics == ["node_load1", "node_load1", "job:up:sum"]
    assert result.batch.labels == ['{"instance":"a:9100","job":"node"}'] * 2 + ["{}"]
    assert result.batch.times_us == [T0 * 1000, -1000, 0]
    assert result.batch.values == [0.5, 2.0, 1.0]


def test_timestamps_outside_int64_microseconds_are_rejected_per_series() -> None:
    body = encode_remote_write(
        [
            ({"__name__": "up", "job": "a"}, [(1 << 62, 1.0), (T0, 2.0), (-MAX_MS - 1, 3.0), (MAX_MS, 4.0)]),
            ({"__name__": "up", "job": "b"}, [(-MAX_MS, 5.0), ((1 << 63) - 1, 6.0)]),
        ]
    )
    result = decode_remote_write(body, CAP)
    assert [(r.where, r.code, r.samples) for r in result.rejections] == [
        ('series {__name__="up", job="a"}', "timestamp_out_of_range", 2),
        ('series {__name__="up", job="b"}', "timestamp_out_of_range", 1),
    ]
    assert result.rejections[0].reason == "2 samples have a timestamp out of range (int64 microseconds)"
    assert result.batch.times_us == [T0 * 1000, MAX_MS * 1000, -MAX_MS * 1000]
    assert result.batch.values == [2.0, 4.0, 5.0]
    assert result.batch.labels == ['{"job":"a"}', '{"job":"a"}', '{"job":"b"}']


def test_encode_sends_labels_sorted_by_name() -> None:
    body = encode_remote_write([({"zone": "a", "__name__": "up", "Job": "x", "abc": "y"}, [(T0, 1.0)])])
    request = pb.WriteRequest.FromString(bytes(cramjam.snappy.decompress_raw(body)))
    assert [label.name for label in request.timeseries[0].labels] == [b"Job", b"__name__", b"abc", b"zone"]


def test_empty_label_values_mean_absent_labels() -> None:
    body = body_of(([(b"__name__", b"up"), (b"job", b""), (b"zone", b"a")], [(T0, 1.0)]))
    for _ in range(2):
        result = decode_remote_write(body, CAP)
        assert result.rejections == []
        assert result.batch.labels == ['{"zone":"a"}']


def test_series_without_samples_is_fine() -> None:
    result = decode_remote_write(body_of(([(b"__name__", b"up")], [])), CAP)
    assert (len(result.batch), result.rejections, result.skipped) == (0, [], {})


def test_metadata_only_request_is_an_empty_batch() -> None:
    request = pb.WriteRequest(
        metadata=[
            pb.MetricMetadata(
                type=pb.MetricMetadata.COUNTER,
                metric_family_name=b"http_requests",
                help=b"Requests.",
                unit=b"",
            ),
            pb.MetricMetadata(type=pb.MetricMetadata.GAUGE, metric_family_name=b"x", help=b"bad \xff utf-8"),
        ]
    )
    result = decode_remote_write(compress(request.SerializeToString()), CAP)
    assert (len(result.batch), result.rejections, result.skipped) == (0, [], {})
    assert len(decode_remote_write(compress(b""), CAP).batch) == 0  # an empty WriteRequest


def test_exemplars_and_native_histograms_are_counted_not_stored() -> None:
    request = pb.WriteRequest()
    request.timeseries.add(
        labels=[
            pb.Label(name=b"__name__", value=b"http_duration_seconds_bucket"),
            pb.Label(name=b"le", value=b"1"),
        ],
        samples=[pb.Sample(timestamp=T0, value=3.0)],
        exemplars=[pb.Exemplar(labels=[pb.Label(name=b"trace_id", value=b"abc")], value=0.2, timestamp=T0)],
    )
    # Our Histogram message declares no fields; real content (count_int = 1, schema = 3, ...) is
    # carried as unknown fields and still counted.
    histogram = pb.Histogram.FromString(b"\x08\x01\x19" + struct.pack("<d", 0.5) + b"\x20\x06\x78\x01")
    request.timeseries.add(
        labels=[pb.Label(name=b"__name__", value=b"http_duration_seconds")], histograms=[histogram, histogram]
    )
    body = compress(request.SerializeToString())
    for _ in range(2):  # series with exemplars or histograms are never served from the cache
        result = decode_remote_write(body, CAP)
        assert result.skipped == {"exemplar": 1, "native_histogram": 2}
        assert rows(result) == [("http_duration_seconds_bucket", '{"le":"1"}', T0 * 1000, bits(3.0))]
        assert result.rejections == []


# --- per-series rejections --------------------------------------------------------------------------

GOOD_1 = ([(b"__name__", b"up"), (b"job", b"a")], [(T0, 1.0)])
GOOD_2 = ([(b"__name__", b"up"), (b"job", b"b")], [(T0, 2.0), (T0 + 15_000, 3.0)])


LABEL_RULE = "(must match [a-zA-Z_][a-zA-Z0-9_]*)"
METRIC_RULE = "(must match [a-zA-Z_:][a-zA-Z0-9_:]*)"


@pytest.mark.parametrize(
    ("labels", "where", "code", "reason"),
    [
        ([(b"job", b"x")], "series #2", "missing_metric_name", "no __name__ label (metric name)"),
        (
            [(b"__name__", b""), (b"job", b"x")],
            "series #2",
            "missing_metric_name",
            "empty __name__ label (metric name)",
        ),
        (
            [(b"__name__", b"\xffup")],
            "series #2",
            "invalid_metric_name",
            'value of label "__name__" is not valid UTF-8',
        ),
        (
            [(b"__name__", b"up"), (b"j\xffb", b"x")],
            'series {__name__="up", j\ufffdb="x"}',
            "invalid_label_name",
            'label name "j\ufffdb" is not valid UTF-8',
        ),
        (
            [(b"__name__", b"up"), (b"job", b"\xc3")],
            'series {__name__="up", job="\ufffd"}',
            "invalid_label_value",
            'value of label "job" is not valid UTF-8',
        ),
        (
            [(b"__name__", b"up"), (b"", b"x")],
            'series {__name__="up", ="x"}',
            "invalid_label_name",
            "empty label name",
        ),
        (
            [(b"__name__", b"up"), (b"job", b"x"), (b"job", b"y")],
            'series {__name__="up", job="x", job="y"}',
            "duplicate_label_names",
            'duplicate label name "job"',
        ),
        (
            [(b"__name__", b"up"), (b"__name__", b"down")],
            "series #2",
            "duplicate_label_names",
            'duplicate label name "__name__"',
        ),
        (
            [(b"__name__", b"up"), (b"a-b", b"x")],
            'series {__name__="up", a-b="x"}',
            "invalid_label_name",
            f'invalid label name "a-b" {LABEL_RULE}',
        ),
        (
            [(b"__name__", b"up"), (b"a\nb", b"x")],
            'series {__name__="up", a\\nb="x"}',
            "invalid_label_name",
            f'invalid label name "a\\nb" {LABEL_RULE}',
        ),
        (
            [(b"__name__", b"up"), (b"job:x", b"x")],
            'series {__name__="up", job:x="x"}',
            "invalid_label_name",
            f'invalid label name "job:x" {LABEL_RULE}',
        ),
        (
            [(b"__name__", b"1up"), (b"job", b"x")],
            'series {__name__="1up", job="x"}',
            "invalid_metric_name",
            f'invalid metric name "1up" {METRIC_RULE}',
        ),
        (
            [(b"__name__", b"http.requests")],
            'series {__name__="http.requests"}',
            "invalid_metric_name",
            f'invalid metric name "http.requests" {METRIC_RULE}',
        ),
    ],
)
def test_invalid_series_is_rejected_with_its_location_and_the_others_kept(
    labels: list[tuple[bytes, bytes]], where: str, code: str, reason: str
) -> None:
    body = body_of(GOOD_1, (labels, [(T0, 9.0), (T0 + 1, 9.5)]), GOOD_2)
    cache = LabelSetCache()
    for _ in range(2):  # cold, then with the good series cached
        result = decode_remote_write(body, CAP, cache)
        assert [(r.where, r.code, r.reason, r.samples) for r in result.rejections] == [
            (where, code, reason, 2)
        ]
        assert result.batch.values == [1.0, 2.0, 3.0]
        assert result.batch.labels == ['{"job":"a"}', '{"job":"b"}', '{"job":"b"}']


def test_long_series_location_is_shortened() -> None:
    labels = [(b"__name__", b"up"), *((f"l{i}".encode(), b"v" * 50) for i in range(20)), (b"bad-name", b"x")]
    result = decode_remote_write(body_of((labels, [(T0, 1.0)])), CAP)
    (rejection,) = result.rejections
    assert rejection.where.startswith('series {__name__="up", l0="vvv')
    assert rejection.where.endswith(" ...}")
    assert len(rejection.where) <= 300


def test_series_cache_is_bounded() -> None:
    cache = LabelSetCache(3)
    body = encode_remote_write([({"__name__": "up", "i": str(i)}, [(T0, float(i))]) for i in range(10)])
    for _ in range(3):
        result = decode_remote_write(body, CAP, cache)
        assert result.batch.labels == [f'{{"i":"{i}"}}' for i in range(10)]
        assert 0 < len(cache) <= 3


# --- whole-body errors -------------------------------------------------------------------------------


def test_decompression_bomb_is_refused_before_decompressing(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_decompress(data: bytes) -> bytes:
        raise AssertionError("decompressed a body whose declared size is over the cap")

    bomb = compress(b"\0" * (8 << 20))  # 8 MiB of zeros in a few hundred kB
    assert len(bomb) < (1 << 20)
    forged = varint((1 << 32) - 1) + b"\0\0\0"  # declares 4 GiB, carries nothing
    monkeypatch.setattr(cramjam.snappy, "decompress_raw", must_not_decompress)
    for body in (bomb, forged):
        with pytest.raises(BodyTooLargeError, match="over the limit of 1048576"):
            decode_remote_write(body, CAP)


def test_body_at_the_cap_is_accepted() -> None:
    payload = pb.WriteRequest(metadata=[pb.MetricMetadata(help=b"x" * 1000)]).SerializeToString()
    assert len(decode_remote_write(compress(payload), len(payload)).batch) == 0
    with pytest.raises(BodyTooLargeError):
        decode_remote_write(compress(payload), len(payload) - 1)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xff" * 11,  # header varint too long
        b"\x05abc",  # declares 5 bytes, then an invalid copy
        b"\x0a\x00\x01\x02",  # literal runs past the end
        bytes(cramjam.snappy.compress(b"framed stream format, not block format " * 4)),
    ],
)
def test_bad_snappy(body: bytes) -> None:
    with pytest.raises(BadSnappy):
        decode_remote_write(body, CAP)


@pytest.mark.parametrize(
    "payload",
    [
        b"\x0a\x05ab",  # series field shorter than its declared length
        b"\x0a\x02\x12\x05",  # sample field runs past the series
        b"\x0a\x04\x0a\x02\x0a\x05",  # label field runs past the label
        b"\x0a\x03\x1a\x01\x11",  # exemplar with a truncated double
        b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",  # tag varint too long
        b"\x0c",  # end-group without a start
        b"\x0f",  # wire type 7 does not exist
    ],
)
def test_bad_protobuf(payload: bytes) -> None:
    with pytest.raises(BadProtobuf):
        decode_remote_write(compress(payload), CAP)


def test_remote_write_2_body_is_not_taken_for_an_empty_1_0_request() -> None:
    """io.prometheus.write.v2.Request: symbols = 4 (strings), timeseries = 5; fields 1-3 reserved.

    Read as a 1.0 WriteRequest such a body has no series at all: a plain decoder would answer 2xx
    and lose every sample. The HTTP layer must refuse it first by Content-Type
    (``application/x-protobuf;proto=io.prometheus.write.v2.Request`` -> 415, see docs/ingest.md); the
    decoder also refuses it, for senders that mislabel the body.
    """
    symbols = [b"", b"__name__", b"up", b"job", b"node"]
    labels_refs = field(1, b"".join(varint(i) for i in (1, 2, 3, 4)))  # packed uint32
    sample = field(2, b"\x09" + struct.pack("<d", 1.0) + b"\x10" + varint(T0))
    series = field(5, labels_refs + sample)
    body = compress(b"".join(field(4, s) for s in symbols) + series)

    as_1_0 = pb.WriteRequest.FromString(bytes(cramjam.snappy.decompress_raw(body)))
    assert len(as_1_0.timeseries) == 0 and len(as_1_0.metadata) == 0  # the silent loss
    with pytest.raises(BadProtobuf, match=r"remote write 2\.0"):
        decode_remote_write(body, CAP)


# --- fuzzing -----------------------------------------------------------------------------------------


@settings(max_examples=300)
@given(st.binary(max_size=600))
def test_fuzz_arbitrary_bodies(body: bytes) -> None:
    decodes_or_refuses(body)


@settings(max_examples=300)
@given(st.binary(max_size=600))
def test_fuzz_arbitrary_payloads(payload: bytes) -> None:
    decodes_or_refuses(compress(payload))


@settings(max_examples=300)
@given(
    st.lists(series_strategy, min_size=1, max_size=4),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6),
    st.sampled_from(["replace", "insert", "delete", "truncate"]),
    st.booleans(),
)
def test_fuzz_mutated_valid_bodies(
    series: list[tuple[str, dict[str, str], list[tuple[int, float]]]],
    edits: list[tuple[int, int]],
    how: str,
    mutate_compressed: bool,
) -> None:
    body = encode_remote_write([({"__name__": m, **labels}, samples) for m, labels, samples in series])
    data = bytearray(body if mutate_compressed else cramjam.snappy.decompress_raw(body))
    for position, byte in edits:
        i = position % (len(data) or 1)
        if how == "replace" and data:
            data[i] = byte
        elif how == "insert":
            data.insert(i, byte)
        elif how == "delete" and data:
            del data[i]
        elif how == "truncate":
            del data[i:]
    decodes_or_refuses(bytes(data) if mutate_compressed else compress(bytes(data)))


def test_a_body_converted_in_parts_is_the_body_converted_whole() -> None:
    bad = ([(b"__name__", b"1up")], [(T0, 9.0)])
    good = [
        ([(b"__name__", b"up"), (b"i", str(i).encode())], [(T0 + k, float(k)) for k in range(3)])
        for i in range(9)
    ]
    body = body_of(*good[:4], bad, *good[4:])
    parts = list(iter_remote_write(body, CAP, batch_samples=5))
    assert [len(p.batch) for p in parts] == [6, 6, 6, 6, 3]  # a part ends after the series that reaches 5
    assert [r.code for r in parts[0].rejections] == ["invalid_metric_name"]  # located with the first part
    merged = ParseResult()
    for part in parts:
        merged.extend(part)
    assert merged == decode_remote_write(body, CAP)
