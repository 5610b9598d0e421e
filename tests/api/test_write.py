"""Ingest over real sockets: Telegraf- and Prometheus-shaped requests, errors, outages and retries."""

from __future__ import annotations

import gzip
import json
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.api.proxy import CuttableProxy
from tests.api.test_app import serve
from tsmon.ingest.remote_write import compress, encode_remote_write
from tsmon.settings import Settings

TOKEN = "s3cret-token"
STALE = struct.unpack(">d", bytes.fromhex("7ff0000000000002"))[0]
NOW_S = int(time.time())

# Telegraf-shaped: several plugins, many fields per line, a string field with a newline inside.
TELEGRAF = (
    f"cpu,cpu=cpu0,host=web1 usage_idle=97.5,usage_user=1.5,usage_system=1 {NOW_S}000000000\n"
    f"cpu,cpu=cpu1,host=web1 usage_idle=95,usage_user=3.25,usage_system=1.75 {NOW_S}000000000\n"
    f"mem,host=web1 used=123456789i,available_percent=42.5,active=7u {NOW_S}000000000\n"
    f'system,host=web1 load1=0.5,uptime=3600i,uptime_format="1 day,\n 1:00" {NOW_S}000000000\n'
)


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[str]:
    yield from serve(Settings(home=tmp_path, api_token=TOKEN), db_url)  # type: ignore[arg-type]


def auth(kind: str = "Token") -> dict[str, str]:
    return {"Authorization": f"{kind} {TOKEN}"}


def stored(db_url: str, where: str = "true") -> list[tuple[object, ...]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(
            f"SELECT metric, labels::text, value FROM tsmon.metric_samples WHERE {where} "
            "ORDER BY metric, labels::text"
        ).fetchall()


def test_telegraf_v2_gzip_stored_exactly_once(api: str, db_url: str) -> None:
    body = gzip.compress(TELEGRAF.encode())
    headers = {**auth(), "Content-Encoding": "gzip", "Content-Type": "text/plain; charset=utf-8"}
    for _ in range(2):  # a re-send after a timeout must not duplicate anything
        r = httpx.post(f"{api}/api/v2/write?org=o&bucket=b&precision=ns", content=body, headers=headers)
        assert r.status_code == 204, r.text
    rows = stored(db_url)
    assert len(rows) == 11  # 3 + 3 + 3 + 2 numeric fields; the string field is not a number
    assert ("cpu_usage_user", '{"cpu": "cpu1", "host": "web1"}', 3.25) in rows
    assert ("mem_active", '{"host": "web1"}', 7.0) in rows
    assert ("system_uptime", '{"host": "web1"}', 3600.0) in rows
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM tsmon.samples").fetchone() == (11,)


def test_telegraf_v1_query_and_write(api: str, db_url: str) -> None:
    assert (
        httpx.post(f"{api}/query", params={"q": "CREATE DATABASE telegraf"}, headers=auth()).status_code
        == 200
    )
    r = httpx.post(
        f"{api}/write?db=telegraf&precision=s", content=f"up,host=a value=1 {NOW_S}", auth=("u", TOKEN)
    )
    assert r.status_code == 204, r.text
    assert stored(db_url) == [("up_value", '{"host": "a"}', 1.0)]


def test_token_required(api: str) -> None:
    body = f"x value=1 {NOW_S}000000000"
    assert httpx.post(f"{api}/api/v2/write", content=body).status_code == 401
    assert (
        httpx.post(f"{api}/api/v2/write", content=body, headers={"Authorization": "Token nope"}).status_code
        == 401
    )
    assert httpx.post(f"{api}/api/v2/write", content=body, headers=auth("Bearer")).status_code == 204
    assert httpx.get(f"{api}/healthz").status_code == 200  # health and metrics stay open


def test_bad_lines_are_listed_and_good_ones_kept(api: str, db_url: str) -> None:
    body = (
        f"ok,host=a value=1 {NOW_S}000000000\n"
        f"bad,host=a value=NaN {NOW_S}000000000\n"
        f"nofields,host=a {NOW_S}000000000\n"
        f"ok,host=b value=2 {NOW_S}000000000\n"
        f"old,host=a value=1 1000000000000000000\n"
    )
    r = httpx.post(f"{api}/api/v2/write", content=body, headers=auth())
    assert r.status_code == 400
    err = r.json()
    assert err["code"] == "invalid" and err["line"] == 2
    assert "line 2:" in err["message"] and "line 3:" in err["message"]
    assert "older than the raw retention" in err["message"]
    assert [row[:2] for row in stored(db_url)] == [
        ("ok_value", '{"host": "a"}'),
        ("ok_value", '{"host": "b"}'),
    ]


def test_remote_write_with_staleness_markers(api: str, db_url: str) -> None:
    ms = NOW_S * 1000
    body = encode_remote_write(
        [
            ({"__name__": "up", "job": "node", "instance": "a:9100"}, [(ms - 15_000, 1.0), (ms, STALE)]),
            ({"__name__": "http_requests_total", "code": "200"}, [(ms - 15_000, 10.0), (ms, 12.0)]),
        ]
    )
    headers = {
        "Content-Encoding": "snappy",
        "Content-Type": "application/x-protobuf",
        "X-Prometheus-Remote-Write-Version": "0.1.0",
        **auth("Bearer"),
    }
    for _ in range(2):
        r = httpx.post(f"{api}/api/v1/write", content=body, headers=headers)
        assert r.status_code == 204, r.text
    with psycopg.connect(db_url) as conn:
        bits = conn.execute(
            """SELECT encode(float8send(x.value), 'hex') FROM tsmon.samples x JOIN tsmon.series s
               ON s.id = x.series_id WHERE s.metric = 'up' ORDER BY x.time"""
        ).fetchall()
        assert bits == [("3ff0000000000000",), ("7ff0000000000002",)]
        assert conn.execute("SELECT count(*) FROM tsmon.samples").fetchone() == (4,)
    assert stored(db_url, "metric = 'up'") == [
        ("up", '{"job": "node", "instance": "a:9100"}', 1.0)
    ]  # marker hidden
    # Metadata-only requests (no samples) are fine; remote write 2.0 is refused, not silently dropped.
    assert httpx.post(f"{api}/api/v1/write", content=compress(b""), headers=headers).status_code == 204
    v2 = {**headers, "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request"}
    assert httpx.post(f"{api}/api/v1/write", content=body, headers=v2).status_code == 415


def test_remote_write_bad_series_rejected_alone(api: str, db_url: str) -> None:
    ms = NOW_S * 1000
    body = encode_remote_write([({"job": "x"}, [(ms, 1.0)]), ({"__name__": "good"}, [(ms, 2.0)])])
    r = httpx.post(f"{api}/api/v1/write", content=body, headers={"Content-Encoding": "snappy", **auth()})
    assert r.status_code == 400 and "__name__" in r.text
    assert stored(db_url) == [("good", "{}", 2.0)]
    garbage = httpx.post(
        f"{api}/api/v1/write", content=b"\xff" * 50, headers={"Content-Encoding": "snappy", **auth()}
    )
    assert garbage.status_code == 400


def test_body_limits_measured_after_decompression(db_url: str, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, limit_body_bytes=100_000)
    for url in serve(settings, db_url):
        bomb = gzip.compress(b"x value=1\n" * 50_000)  # ~500 kB inflated, a few kB on the wire
        r = httpx.post(f"{url}/api/v2/write", content=bomb, headers={"Content-Encoding": "gzip"})
        assert r.status_code == 413
        ms = NOW_S * 1000
        big = encode_remote_write([({"__name__": "m", "i": str(i)}, [(ms, 1.0)]) for i in range(5000)])
        assert (
            httpx.post(f"{url}/api/v1/write", content=big, headers={"Content-Encoding": "snappy"}).status_code
            == 413
        )
        assert (
            httpx.post(f"{url}/api/v2/write", content=b"x", headers={"Content-Encoding": "br"}).status_code
            == 415
        )


def test_json_and_csv_import(api: str, db_url: str) -> None:
    doc = [{"metric": "temp", "labels": {"room": "a"}, "points": [[NOW_S, 21.5], [NOW_S + 10, 22]]}]
    r = httpx.post(f"{api}/api/v1/import", json=doc, headers=auth())
    assert r.status_code == 200 and r.json() == {"accepted": 2, "rejected": 0, "errors": []}
    csv = f'time,metric,labels,value\n{NOW_S},hum,"{{""room"":""a""}}",40\n{NOW_S},hum,,oops\n'
    r = httpx.post(f"{api}/api/v1/import", content=csv, headers={"Content-Type": "text/csv", **auth()})
    assert r.status_code == 400 and r.json()["errors"] == ["line 3: value 'oops' is not a number"]
    assert [row[0] for row in stored(db_url)] == ["hum", "temp", "temp"]


def test_own_metrics_count_ingest(api: str) -> None:
    httpx.post(f"{api}/api/v2/write", content=f"a v=1 {NOW_S}000000000\nb v=NaN", headers=auth())
    text = httpx.get(f"{api}/metrics").text
    assert 'tsmon_ingest_samples_accepted_total{protocol="influx"} 1.0' in text
    assert 'tsmon_ingest_samples_rejected_total{protocol="influx",reason="' in text
    assert "tsmon_ingest_db_write_seconds_count 1.0" in text


def test_database_outage_503_then_retries_store_everything_once(db_url: str, tmp_path: Path) -> None:
    params = conninfo_to_dict(db_url)
    proxy = CuttableProxy(str(params.get("host", "127.0.0.1")), int(str(params.get("port", 5432))))
    via_proxy = make_conninfo(**{**params, "host": "127.0.0.1", "port": str(proxy.port)})  # type: ignore[arg-type]
    settings = Settings(home=tmp_path, pool_timeout_seconds=1.0)
    try:
        for url in serve(settings, via_proxy):
            statuses: list[int] = []
            for batch in range(12):
                if batch == 4:
                    proxy.cut()  # the database goes away mid-stream
                body = "".join(
                    f"load,host=h{i} v={batch} {NOW_S - 100 + batch}000000000\n" for i in range(50)
                )
                for attempt in range(100):  # a sender's retry loop
                    t = time.monotonic()
                    r = httpx.post(f"{url}/api/v2/write", content=body, timeout=10)
                    statuses.append(r.status_code)
                    if r.status_code == 204:
                        break
                    assert r.status_code == 503, r.text
                    assert r.headers["Retry-After"].isdigit()
                    assert time.monotonic() - t < 5
                    if attempt == 3:
                        proxy.restore()  # ...and comes back after a few failed sends
                    time.sleep(0.2)
                else:
                    pytest.fail(f"batch {batch} never stored: {statuses[-5:]}")
            assert 503 in statuses
    finally:
        proxy.close()
    with psycopg.connect(db_url) as conn:
        assert conn.execute(
            "SELECT count(*), count(DISTINCT (series_id, time)) FROM tsmon.samples"
        ).fetchone() == (
            600,
            600,
        )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_fuzzed_bodies_never_500(api: str, body: bytes) -> None:
    with httpx.Client(base_url=api, headers=auth()) as client:
        lp = client.post("/api/v2/write", content=body)
        assert lp.status_code in {204, 400}, lp.text
        if lp.status_code == 400:
            assert json.loads(lp.text)["message"]
        rw = client.post("/api/v1/write", content=compress(body), headers={"Content-Encoding": "snappy"})
        assert rw.status_code in {204, 400}, rw.text
        raw = client.post("/api/v1/write", content=body, headers={"Content-Encoding": "snappy"})
        assert raw.status_code in {204, 400, 413}, raw.text


def test_a_running_tsmon_serve_process(db_url: str, tmp_path: Path) -> None:
    """The same Telegraf and Prometheus requests against `tsmon serve` started as its own process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "TSMON_DATABASE_URL": db_url,
        "TSMON_API_PORT": str(port),
        "TSMON_API_TOKEN": TOKEN,
        "TSMON_HOME": str(tmp_path),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tsmon", "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        lp = httpx.post(
            f"{base}/api/v2/write",
            content=gzip.compress(TELEGRAF.encode()),
            headers={**auth(), "Content-Encoding": "gzip"},
        )
        assert lp.status_code == 204, lp.text
        rw = httpx.post(
            f"{base}/api/v1/write",
            headers={**auth(), "Content-Encoding": "snappy"},
            content=encode_remote_write([({"__name__": "up", "job": "p"}, [(NOW_S * 1000, STALE)])]),
        )
        assert rw.status_code == 204, rw.text
    finally:
        proc.terminate()
        out = proc.communicate(timeout=20)[0].decode()
    assert proc.returncode in {0, -15}, out  # uvicorn re-raises SIGTERM after a clean shutdown
    assert "Application shutdown complete" in out
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM tsmon.samples").fetchone() == (12,)
        assert conn.execute("SELECT count(*) FROM tsmon.metric_samples").fetchone() == (11,)  # marker hidden


@pytest.mark.parametrize("token", [None, "", "   "])  # a blank token is no token
def test_serve_refuses_public_bind_without_token(tmp_path: Path, token: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TSMON_API_TOKEN"} | {
        "TSMON_HOME": str(tmp_path),
        "TSMON_DATABASE_URL": "postgresql://x@127.0.0.1:1/x",
    }
    if token is not None:
        env["TSMON_API_TOKEN"] = token
    proc = subprocess.run(
        [sys.executable, "-m", "tsmon", "serve", "--host", "0.0.0.0"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "without a token" in proc.stderr


def test_nanosecond_points_merged_in_one_microsecond_are_counted(api: str, db_url: str) -> None:
    t = NOW_S * 10**9
    body = f"ns,host=a value=1 {t + 1}\nns,host=a value=2 {t + 2}\n"
    assert httpx.post(f"{api}/api/v2/write", content=body, headers=auth()).status_code == 204
    assert stored(db_url, "metric = 'ns_value'") == [("ns_value", '{"host": "a"}', 2.0)]
    line = 'tsmon_ingest_values_skipped_total{protocol="influx",reason="same_microsecond"} 1.0'
    assert line in httpx.get(f"{api}/metrics").text


def _large_body(protocol: str, n: int) -> tuple[str, bytes, dict[str, str], str]:
    """A body of n samples (over one part) whose last item is bad: (path, body, headers, where)."""
    if protocol == "lp":
        lines = [f"big,i=i{i % 5000} v={i} {NOW_S - 3600 + i // 5000}000000000" for i in range(n)]
        return "/api/v2/write", "\n".join([*lines, "big bad"]).encode(), {}, f"line {n + 1}"
    if protocol == "json":
        series = [
            {
                "metric": "big_v",
                "labels": {"i": f"i{s}"},
                "points": [[NOW_S - 3600 + k, s * 20 + k] for k in range(20)],
            }
            for s in range(n // 20)
        ]
        series.append({"metric": "", "points": [[NOW_S, 1]]})
        return "/api/v1/import", json.dumps(series).encode(), {}, f"series #{n // 20}"
    if protocol == "csv":
        rows = [f'{NOW_S - 3600 + i // 5000},big_v,"{{""i"":""i{i % 5000}""}}",{i}' for i in range(n)]
        body = "\n".join(["time,metric,labels,value", *rows, f"{NOW_S},big_v,,oops"]).encode()
        return "/api/v1/import", body, {"Content-Type": "text/csv"}, f"line {n + 2}"
    series_rw = [
        (
            {"__name__": "big_v", "i": f"i{s}"},
            [((NOW_S - 3600 + k) * 1000, float(s * 20 + k)) for k in range(20)],
        )
        for s in range(n // 20)
    ]
    body = encode_remote_write([*series_rw, ({"__name__": "1bad"}, [(NOW_S * 1000, 1.0)])])
    return "/api/v1/write", body, {"Content-Encoding": "snappy"}, '{__name__="1bad"}'


@pytest.mark.parametrize("protocol", ["lp", "json", "csv", "remote_write"])
def test_a_body_of_many_parts_is_stored_whole_and_located_in_the_whole(
    api: str, db_url: str, protocol: str
) -> None:
    n = 120_000  # over two parts of 50,000 samples (line protocol: 4 MiB parts, ~4.5 MiB here)
    path, body, headers, where = _large_body(protocol, n)
    r = httpx.post(f"{api}{path}", content=body, headers={**auth(), **headers}, timeout=120)
    assert r.status_code == 400
    assert where in str(r.json())
    # Parsed and written a part at a time: each part is one write of at most about 50,000 samples.
    (writes,) = [
        float(line.split()[1])
        for line in httpx.get(f"{api}/metrics").text.splitlines()
        if line.startswith("tsmon_ingest_db_write_seconds_count")
    ]
    assert writes >= 2
    with psycopg.connect(db_url) as conn:
        count, total = conn.execute("SELECT count(*), sum(value) FROM tsmon.samples").fetchone()  # type: ignore[misc]
    assert (count, total) == (n, n * (n - 1) / 2)
