"""Fuzzed writes and scores over real sockets: never a 5xx for bad input, the valid part kept, the bad named.

Seeded and bounded for CI (TSMON_FUZZ_EXAMPLES per endpoint, default 25); a long run sets it higher.
Each request mixes valid series, marked with a unique `case` label, and invalid ones; after the answer
the test counts the valid samples stored for that case.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.api.test_app import serve
from tests.conftest import DatabaseServer, create_database, drop_database
from tsmon.ingest.proto import remote_pb2 as pb
from tsmon.ingest.remote_write import compress
from tsmon.settings import Settings

EXAMPLES = int(os.environ.get("TSMON_FUZZ_EXAMPLES", "25"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
NOW_S = int(time.time()) - 3600
CASES = itertools.count(1)
DEEP_LABELS = '{"k": ' + "[" * 3000 + "]" * 3000 + "}"

# Text that PostgreSQL cannot store, or decoders choke on: what senders really produce by mistake.
HOSTILE_TEXT = st.sampled_from(["a\x00b", "\x00", "\ud800", "x\udfff", "\u2028", "ok", "", " ", "é", "\n"])
NAMES = st.sampled_from(["host", "job", "le", "__name__", "1bad", "bad-name", "", "a\x00", "x" * 2000])


def valid_series(case: int, n: int) -> list[tuple[str, dict[str, str], list[tuple[int, float]]]]:
    return [
        (f"fuzz_ok_{i}", {"case": str(case), "host": f"h{i}"}, [(NOW_S + 60 * j, float(j)) for j in range(3)])
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def api(
    test_server: DatabaseServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    name = create_database(test_server, template_db)
    url = test_server.url_for(name)
    home = tmp_path_factory.mktemp("fuzz")
    yield from ((base, url) for base in serve(Settings(home=Path(home)), url))
    drop_database(test_server, name)


def stored(url: str, case: int) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM tsmon.metric_samples WHERE labels @> %s::jsonb",
            (json.dumps({"case": str(case)}),),
        ).fetchone()
    return int(row[0]) if row else 0


def check(response: httpx.Response, url: str, case: int, valid: int, bad: int) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    assert stored(url, case) == valid, response.text[:500]
    if bad:
        assert response.status_code == 400, response.text[:500]
        assert response.text.strip(), "a 400 must say what was wrong"


# -- JSON and CSV import ------------------------------------------------------------------------------
def json_text(value: object) -> str:
    return json.dumps(
        value, ensure_ascii=True
    )  # lone surrogates and NUL as \u escapes, as senders write them


bad_json_series = st.one_of(
    st.builds(
        lambda t: {"metric": "m", "labels": {"k": t}, "points": [[NOW_S, 1]]},
        HOSTILE_TEXT.filter(lambda t: t not in {"ok", "é", "\u2028", " ", "\n", ""}),
    ),
    st.builds(lambda t: {"metric": t, "points": [[NOW_S, 1]]}, st.sampled_from(["a\x00", "\ud800", ""])),
    st.builds(
        lambda n: {"metric": "m", "labels": {n: "v"}, "points": [[NOW_S, 1]]}, st.sampled_from(["", "a\x00"])
    ),
    st.just({"metric": "m", "labels": {"k": {"nested": "x"}}, "points": [[NOW_S, 1]]}),
    st.just({"metric": "m", "points": [["not a time", 1]]}),
    st.just({"metric": "m", "points": [[NOW_S, "high"]]}),
    st.just({"metric": "m", "points": [[1, 1]]}),  # 1970: older than raw retention
    st.just({"metric": "m", "points": "x"}),
    st.just(7),
)
RAW_JSON = st.sampled_from(
    [
        f'{{"metric": "m", "labels": {{"k": "a", "k": "b"}}, "points": [[{NOW_S}, 1]]}}',
        '{"metric": "m", "labels": {"k": ' + "[" * 3000 + "]" * 3000 + '}, "points": [[1, 1]]}',
        '{"metric": "m", "labels": ' + '{"a": ' * 3000 + '"x"' + "}" * 3000 + ', "points": [[1, 1]]}',
    ]
)


@FUZZ
@given(
    st.integers(0, 3), st.lists(st.one_of(bad_json_series.map(json_text), RAW_JSON), max_size=4), st.randoms()
)
def test_json_import(api: tuple[str, str], n_valid: int, bad: list[str], rnd: object) -> None:
    base, url = api
    case = next(CASES)
    good = [
        json_text({"metric": m, "labels": lab, "points": pts}) for m, lab, pts in valid_series(case, n_valid)
    ]
    parts = good + bad
    rnd.shuffle(parts)  # type: ignore[attr-defined]
    r = httpx.post(
        f"{base}/api/v1/import",
        content="[" + ",".join(parts) + "]",
        headers={"Content-Type": "application/json"},
    )
    check(r, url, case, 3 * n_valid, len(bad))
    if bad:
        assert all(e.startswith("series ") for e in r.json()["errors"])


def csv_field(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


bad_csv_rows = st.one_of(
    st.builds(
        lambda t: f"{NOW_S},m,{csv_field(json_text({'k': t}))},1", st.sampled_from(["a\x00", "\ud800"])
    ),
    st.just(f'{NOW_S},m,"{{""k"": ""a"", ""k"": ""b""}}",1'),
    st.just(f"{NOW_S},m,{csv_field(DEEP_LABELS)},1"),
    st.just(f"{NOW_S},m,not json,1"),
    st.just("yesterday,m,,1"),
    st.just(f"{NOW_S},m,,high"),
    st.just(f"{NOW_S},,,1"),
    st.just(f"{NOW_S},m"),
)


@FUZZ
@given(st.integers(0, 3), st.lists(bad_csv_rows, max_size=4), st.randoms())
def test_csv_import(api: tuple[str, str], n_valid: int, bad: list[str], rnd: object) -> None:
    base, url = api
    case = next(CASES)
    good = [
        f"{t},{m},{csv_field(json.dumps(lab))},{v}"
        for m, lab, pts in valid_series(case, n_valid)
        for t, v in pts
    ]
    rows = good + bad
    rnd.shuffle(rows)  # type: ignore[attr-defined]
    body = "time,metric,labels,value\n" + "\n".join(rows) + "\n"
    r = httpx.post(
        f"{base}/api/v1/import",
        content=body.encode(errors="surrogatepass"),
        headers={"Content-Type": "text/csv"},
    )
    check(r, url, case, 3 * n_valid, len(bad))
    if bad:
        assert all(e.startswith(("line ", "series ")) for e in r.json()["errors"])


# -- line protocol ------------------------------------------------------------------------------------
bad_lines = st.one_of(
    st.builds(
        lambda t: f"m,k={t} value=1 {NOW_S}000000000".encode(errors="surrogatepass"),
        st.sampled_from(["a\x00b", "\x00"]),
    ),
    st.builds(lambda t: f"m{t} value=1 {NOW_S}000000000".encode(), st.sampled_from(["\x00", ",=x", ", "])),
    st.binary(min_size=1, max_size=40).filter(
        lambda b: b"\n" not in b and not b.startswith(b"#") and b.strip()
    ),
    st.just(f"m value=NaN {NOW_S}000000000".encode()),
    st.just(b"m value=1 1"),
    st.just(f'm value="unterminated {NOW_S}'.encode()),
)


@FUZZ
@given(st.integers(0, 3), st.lists(bad_lines, max_size=4), st.randoms())
def test_line_protocol(api: tuple[str, str], n_valid: int, bad: list[bytes], rnd: object) -> None:
    base, url = api
    case = next(CASES)
    good = [
        f"{m},case={lab['case']},host={lab['host']} value={v} {t}000000000".encode()
        for m, lab, pts in valid_series(case, n_valid)
        for t, v in pts
    ]
    lines = good + bad
    rnd.shuffle(lines)  # type: ignore[attr-defined]
    r = httpx.post(f"{base}/api/v2/write?org=o&bucket=b", content=b"\n".join(lines) + b"\n")
    assert r.status_code < 500, r.text[:500]
    # A random line can swallow its neighbours (an open quote runs to the next one), so only the
    # lines the answer does not blame are sure to be stored; every valid one not named must be.
    blamed = r.json()["message"] if r.status_code == 400 else ""
    if not bad:
        assert r.status_code == 204 and stored(url, case) == 3 * n_valid
    else:
        assert r.status_code == 400 and ("line " in blamed or "series " in blamed)
        assert stored(url, case) <= 3 * n_valid


# -- remote write -------------------------------------------------------------------------------------
def rw_series(labels: list[tuple[bytes, bytes]], samples: list[tuple[int, float]]) -> pb.TimeSeries:
    ts = pb.TimeSeries()
    ts.labels.extend(pb.Label(name=k, value=v) for k, v in labels)
    ts.samples.extend(pb.Sample(timestamp=t, value=v) for t, v in samples)
    return ts


bad_rw_labels = st.one_of(
    st.builds(
        lambda v: [(b"__name__", b"m"), (b"k", v)],
        st.sampled_from([b"a\x00b", b"\x00", b"\xff\xfe", b"\xed\xa0\x80"]),
    ),
    st.builds(
        lambda n: [(b"__name__", b"m"), (n, b"v")], st.sampled_from([b"", b"1x", b"a-b", b"\x00", b"\xff"])
    ),
    st.builds(lambda m: [(b"__name__", m)], st.sampled_from([b"", b"a\x00", b"1m", b"\xff"])),
    st.just([(b"k", b"v")]),
    st.just([(b"__name__", b"m"), (b"k", b"a"), (b"k", b"b")]),
)


@FUZZ
@given(st.integers(0, 3), st.lists(bad_rw_labels, max_size=4), st.randoms())
def test_remote_write(
    api: tuple[str, str], n_valid: int, bad: list[list[tuple[bytes, bytes]]], rnd: object
) -> None:
    base, url = api
    case = next(CASES)
    series = [
        rw_series(
            [(b"__name__", m.encode()), *((k.encode(), v.encode()) for k, v in sorted(lab.items()))],
            [(t * 1000, v) for t, v in pts],
        )
        for m, lab, pts in valid_series(case, n_valid)
    ]
    series += [rw_series(labels, [(NOW_S * 1000, 1.0)]) for labels in bad]
    rnd.shuffle(series)  # type: ignore[attr-defined]
    request = pb.WriteRequest()
    request.timeseries.extend(series)
    r = httpx.post(
        f"{base}/api/v1/write",
        content=compress(request.SerializeToString()),
        headers={"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"},
    )
    check(r, url, case, 3 * n_valid, len(bad))
    if bad:
        assert "series " in r.text


# -- /api/v1/score ------------------------------------------------------------------------------------
score_times = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["2026-13-45T00:00:00", "yesterday", "", "2026-01-01T00:00:00Z", "9999-12-31T23:59:59"]),
)
score_bodies = st.fixed_dictionaries(
    {},
    optional={
        "series_id": st.one_of(st.integers(-(2**70), 2**70), st.text(max_size=3), st.none()),
        "metric": st.one_of(st.text(max_size=10), st.integers(), st.none()),
        "labels": st.one_of(
            st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3), st.integers()
        ),
        "config": st.one_of(st.text(max_size=5), st.none()),
        "points": st.one_of(
            st.lists(st.tuples(score_times, st.floats(allow_nan=True, allow_infinity=True)), max_size=5),
            st.text(max_size=5),
            st.lists(st.lists(st.integers(), max_size=3), max_size=3),
        ),
    },
)


@FUZZ
@given(score_bodies)
@example({"series_id": 2**70, "points": [[NOW_S, 1.0]]})  # out of bigint's range
@example({"series_id": 1, "points": [["2026-13-45T00:00:00", 1.0]]})  # not a date
@example({"series_id": 1, "points": [[float("nan"), 1.0]]})
@example({"metric": "m", "points": [[float("inf"), 1.0]]})
@example({"metric": "m", "points": [[10**30, 1.0]]})
@example({"metric": "0", "labels": {"\x00": ""}, "points": [[0, 0.0]]})  # the 10,000-example run's find
def test_score(api: tuple[str, str], body: dict[str, object]) -> None:
    base, _ = api
    # NaN and Infinity go out as the JavaScript literals many clients send.
    r = httpx.post(
        f"{base}/api/v1/score", content=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert r.status_code in {200, 400, 404, 422}, f"{r.status_code}: {r.text[:500]} for {body!r}"
