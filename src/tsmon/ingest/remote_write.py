"""Prometheus remote write 1.0: snappy-compressed protobuf WriteRequest bodies to sample batches, and back."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from operator import attrgetter

import cramjam
from google.protobuf.message import DecodeError

from tsmon.errors import BodyTooLargeError, TsmonError
from tsmon.ingest.batch import ParseResult, Rejection, SampleBatch, canonical_labels
from tsmon.ingest.proto import remote_pb2 as pb

# Prometheus' classic name rules (model.LegacyValidation); metric names may also contain ':'.
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAMES = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*(?:\n[a-zA-Z_][a-zA-Z0-9_]*)*")

# About 0.6 kB per 10-label series: ~60 MB at this many.
SERIES_CACHE_MAX = 100_000

_WHERE_MAX = 300
_MIN_US, _MAX_US = -(1 << 63), (1 << 63) - 1
_NAME_VALUE = attrgetter("name", "value")


class RemoteWriteError(TsmonError):
    """The body as a whole cannot be decoded; nothing in it was accepted (HTTP 400, or 413 if too large)."""


class LabelSetCache:
    """Label sets seen before, by the exact bytes of a series' labels: (metric, canonical labels JSON).

    Prometheus resends the same series in every request, so most series skip validation and JSON
    building. Only valid series without exemplars or histograms are kept; emptied when full. The
    API's lifespan owns one.
    """

    def __init__(self, max_entries: int = SERIES_CACHE_MAX) -> None:
        self.max_entries = max_entries
        self._entries: dict[bytes, tuple[str, str]] = {}

    def get(self, blob: bytes) -> tuple[str, str] | None:
        return self._entries.get(blob)

    def put(self, blob: bytes, info: tuple[str, str]) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[blob] = info

    def __len__(self) -> int:
        return len(self._entries)


class BadSnappy(RemoteWriteError):  # noqa: N818 - names the HTTP layer matches on
    """The body is not snappy block-format data (the framed/stream format is not accepted)."""


class BadProtobuf(RemoteWriteError):  # noqa: N818 - names the HTTP layer matches on
    """The decompressed body is not a remote write 1.0 WriteRequest."""


def decode_remote_write(
    body: bytes, max_decompressed: int, label_sets: LabelSetCache | None = None
) -> ParseResult:
    """A remote write 1.0 body to samples; invalid series become rejections located by series.

    Metric = ``__name__``; labels = the other labels with a non-empty value (Prometheus treats an
    empty value as an absent label). Timestamps are ms -> µs; values keep every bit, including the
    staleness-marker NaN. Exemplars and native histograms are counted in ``skipped`` and dropped.
    Raises BodyTooLargeError, BadSnappy or BadProtobuf for a body that cannot be read at all.
    ``label_sets`` keeps label sets across requests (default: this request only).
    """
    result = ParseResult()
    for part in iter_remote_write(body, max_decompressed, label_sets, batch_samples=None):
        result.extend(part)
    return result


def iter_remote_write(
    body: bytes,
    max_decompressed: int,
    label_sets: LabelSetCache | None = None,
    *,
    batch_samples: int | None = 50_000,
) -> Iterator[ParseResult]:
    """decode_remote_write in parts of about ``batch_samples`` samples (None: one part), so a large
    body is converted and written a part at a time. A body that cannot be read at all raises before
    the first part; the rejections of invalid series come with the first part."""
    label_sets = label_sets if label_sets is not None else LabelSetCache()
    raw = _decompress(body, max_decompressed)
    try:  # views of the same bytes (remote.proto): each series' exact label bytes (cache key), its samples
        labels_view = pb.LabelsView.FromString(raw)
        labels_view.DiscardUnknownFields()
        blobs = pb.SeriesBlobs.FromString(labels_view.SerializeToString()).timeseries
        series = pb.SamplesView.FromString(raw).timeseries
        # A 2.0 Request (symbols = 4, timeseries = 5) read as 1.0 has no series: refuse, don't lose it.
        v2 = not series and bool(pb.RemoteWrite2Probe.FromString(raw).ListFields())
    except DecodeError as exc:
        raise BadProtobuf(f"not a remote write 1.0 WriteRequest: {exc}") from exc
    del raw, labels_view
    if v2:
        raise BadProtobuf("this is a remote write 2.0 request (io.prometheus.write.v2.Request); send 1.0")
    if len(blobs) != len(series):
        raise BadProtobuf("not a remote write 1.0 WriteRequest: inconsistent timeseries fields")
    result = ParseResult()  # stays empty for metadata-only requests
    infos = list(map(label_sets.get, blobs))
    if None in infos:
        for i in [i for i, info in enumerate(infos) if info is None]:
            infos[i] = _resolve(blobs[i], series[i], i + 1, result, label_sets)
    del blobs
    limit = batch_samples if batch_samples is not None else 1 << 62
    for info, data in zip(infos, series, strict=True):
        if info is not None:
            _add_samples(result.batch, info, data.samples)
        if len(result.batch) >= limit:
            yield _checked(result)
            result = ParseResult()
    yield _checked(result)


def _add_samples(batch: SampleBatch, info: tuple[str, str], samples: Sequence[pb.Sample]) -> None:
    count = len(samples)
    if count == 1:  # the usual case: one sample per series per request
        sample = samples[0]
        batch.metrics.append(info[0])
        batch.labels.append(info[1])
        batch.times_us.append(sample.timestamp * 1000)
        batch.values.append(sample.value)
    elif count:
        batch.metrics.extend([info[0]] * count)
        batch.labels.extend([info[1]] * count)
        batch.times_us.extend([s.timestamp * 1000 for s in samples])
        batch.values.extend([s.value for s in samples])


def _checked(result: ParseResult) -> ParseResult:
    times = result.batch.times_us
    if times and (min(times) < _MIN_US or max(times) > _MAX_US):
        _drop_out_of_range(result)
    return result


def encode_remote_write(series: Iterable[tuple[dict[str, str], Sequence[tuple[int, float]]]]) -> bytes:
    """Series as (labels including ``__name__``, [(timestamp_ms, value), ...]) to a snappy-compressed body.

    Labels are sent sorted by name, as Prometheus does. For tests and benchmarks.
    """
    request = pb.WriteRequest()
    for label_set, samples in series:
        ts = request.timeseries.add()
        ts.labels.extend(pb.Label(name=k.encode(), value=v.encode()) for k, v in sorted(label_set.items()))
        ts.samples.extend(pb.Sample(timestamp=t, value=v) for t, v in samples)
    return compress(request.SerializeToString())


def compress(payload: bytes) -> bytes:
    """Snappy block format, as remote write bodies are sent."""
    return bytes(cramjam.snappy.compress_raw(payload))


def _decompress(body: bytes, max_decompressed: int) -> bytes:
    try:
        declared = cramjam.snappy.decompress_raw_len(body)  # from the header: a bomb is refused unread
        if declared > max_decompressed:
            raise BodyTooLargeError(
                f"decompressed body would be {declared} bytes, over the limit of {max_decompressed}"
            )
        return bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as exc:
        raise BadSnappy(f"body is not snappy block-format data: {exc}") from exc


def _drop_out_of_range(result: ParseResult) -> None:
    """Drop samples whose time does not fit int64 µs (beyond ~292,000 years), one rejection per series."""
    batch, kept = result.batch, SampleBatch()
    dropped: dict[tuple[str, str], int] = {}
    for row in zip(batch.metrics, batch.labels, batch.times_us, batch.values, strict=True):
        if _MIN_US <= row[2] <= _MAX_US:
            kept.append(*row)
        else:
            dropped[row[:2]] = dropped.get(row[:2], 0) + 1
    for (metric, labels), n in dropped.items():
        pairs = [(k.encode(), v.encode()) for k, v in {"__name__": metric, **json.loads(labels)}.items()]
        reason = f"{n} samples have a timestamp out of range (int64 microseconds)"
        result.rejections.append(Rejection(_where(pairs, 0), reason, "timestamp_out_of_range", n))
    result.batch = kept


def _resolve(
    blob: bytes, data: pb.SamplesViewSeries, number: int, result: ParseResult, label_sets: LabelSetCache
) -> tuple[str, str] | None:
    """Validate a series not in the cache: (metric, labels JSON), or None after recording a rejection."""
    try:
        series = pb.TimeSeries.FromString(blob)
    except DecodeError as exc:
        raise BadProtobuf(f"series #{number}: malformed label, exemplar or histogram: {exc}") from exc
    pairs: list[tuple[bytes, bytes]] = list(map(_NAME_VALUE, series.labels))
    info = _labels_json(pairs)
    if info is None:
        code, reason = _invalid_reason(pairs)
        result.rejections.append(Rejection(_where(pairs, number), reason, code, len(data.samples)))
        return None
    exemplars, histograms = len(series.exemplars), len(series.histograms)
    if exemplars:
        result.skipped["exemplar"] = result.skipped.get("exemplar", 0) + exemplars
    if histograms:
        result.skipped["native_histogram"] = result.skipped.get("native_histogram", 0) + histograms
    if not exemplars and not histograms:
        label_sets.put(blob, info)
    return info


def _labels_json(pairs: list[tuple[bytes, bytes]]) -> tuple[str, str] | None:
    """(metric, canonical labels JSON) of a valid label set, else None (_invalid_reason says why)."""
    try:
        labels = {name.decode(): value.decode() for name, value in pairs}
    except UnicodeDecodeError:
        return None
    metric = labels.pop("__name__", None)
    names = "\n".join(labels)  # one regex call for all names; a name containing "\n" fails the count
    if (
        len(labels) != len(pairs) - 1
        or not metric
        or not METRIC_NAME.fullmatch(metric)
        or (labels and (not _LABEL_NAMES.fullmatch(names) or names.count("\n") != len(labels) - 1))
    ):
        return None
    if "" in labels.values():
        labels = {name: value for name, value in labels.items() if value}
    return metric, canonical_labels(labels)


def _invalid_reason(pairs: list[tuple[bytes, bytes]]) -> tuple[str, str]:
    """(code, reason) of why _labels_json refused a label set: the first problem, in label order."""
    metric: str | None = None
    seen: set[str] = set()
    for raw_name, raw_value in pairs:
        try:
            name = raw_name.decode()
        except UnicodeDecodeError:
            return "invalid_label_name", f"label name {_show(raw_name)} is not valid UTF-8"
        try:
            value = raw_value.decode()
        except UnicodeDecodeError:
            code = "invalid_metric_name" if raw_name == b"__name__" else "invalid_label_value"
            return code, f"value of label {_show(raw_name)} is not valid UTF-8"
        if name in seen:
            return "duplicate_label_names", f"duplicate label name {_show(raw_name)}"
        seen.add(name)
        if name == "__name__":
            metric = value
        elif not name:
            return "invalid_label_name", "empty label name"
        elif not LABEL_NAME.fullmatch(name):
            return (
                "invalid_label_name",
                f"invalid label name {_show(raw_name)} (must match {LABEL_NAME.pattern})",
            )
    if metric is None:
        return "missing_metric_name", "no __name__ label (metric name)"
    if not metric:
        return "missing_metric_name", "empty __name__ label (metric name)"
    return (
        "invalid_metric_name",
        f"invalid metric name {_show(metric.encode())} (must match {METRIC_NAME.pattern})",
    )


def _show(text: bytes) -> str:
    """Quoted for a message; invalid UTF-8 shown as U+FFFD."""
    return json.dumps(text.decode(errors="replace"), ensure_ascii=False)


def _where(pairs: list[tuple[bytes, bytes]], number: int) -> str:
    """``series {__name__="x", job="y"}`` when the metric name is readable, else ``series #N`` (from 1)."""
    names = [value for name, value in pairs if name == b"__name__"]
    try:
        usable = len(names) == 1 and bool(names[0].decode())
    except UnicodeDecodeError:
        usable = False
    if not usable:
        return f"series #{number}"
    text = "series {" + ", ".join(f"{_show(n)[1:-1]}={_show(v)}" for n, v in pairs) + "}"
    return text if len(text) <= _WHERE_MAX else text[: _WHERE_MAX - 5] + " ...}"
