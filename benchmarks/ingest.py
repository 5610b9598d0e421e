"""Ingest benchmark: the writer vs raw binary COPY, and `tsmon ingest` throughput and peak RSS.

Runs against TSMON_DATABASE_URL or the embedded database, in a scratch database it creates
(tsmon_bench) so nothing of yours is touched. Prints figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tsmon.db.connect import database_url
from tsmon.ingest.batch import SampleBatch, us_to_datetime
from tsmon.ingest.remote_write import encode_remote_write
from tsmon.ingest.writer import SampleWriter, SeriesCache, encode_copy_binary
from tsmon.schema import migrate
from tsmon.settings import Settings

# A day ago: inside the time window the database holds ingest logins to (older rows would run the
# window trigger's function for every row, which real ingest never does).
T0_US = (int(time.time()) - 86_400) * 1_000_000
COPY = "COPY tsmon.samples (time, series_id, value) FROM STDIN (FORMAT BINARY)"
# Runs the command and prints its peak RSS. A small launcher, so the measured child is not
# a fork of this (large) benchmark process, whose pages would count towards its maximum.
RSS_LAUNCHER = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r)"
)


def scratch_database(name: str = "tsmon_bench") -> str:
    base = database_url(Settings())
    params = conninfo_to_dict(base)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params["dbname"] = name
    url = make_conninfo(**params)  # type: ignore[arg-type]
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
    return url


def make_batch(rows: int, series: int) -> SampleBatch:
    rng = np.random.default_rng(1)
    batch = SampleBatch()
    per_series = rows // series
    for i in range(rows):
        s, k = i % series, i // series
        batch.append("bench_metric", f'{{"host":"h{s % 100}","idx":"{s}"}}', T0_US + k * 10_000_000, 0.0)
    batch.values = list(rng.random(rows))
    assert per_series * series == rows
    return batch


def truncate(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    conn.execute("TRUNCATE tsmon.samples")
    conn.execute("VACUUM ANALYZE tsmon.samples")


def bench_writer_vs_copy(url: str, rows: int, series: int, batch_rows: int) -> dict[str, float]:
    batch = make_batch(rows, series)
    with psycopg.connect(url, autocommit=True) as conn:
        writer = SampleWriter(conn, SeriesCache(series * 2))
        ids, _, _ = writer.resolve_series(list(zip(batch.metrics, batch.labels, strict=True)))
        sids = np.array([ids[(m, lab)] for m, lab in zip(batch.metrics, batch.labels, strict=True)])
        times, values = np.array(batch.times_us), np.array(batch.values)
        chunks = [slice(i, i + batch_rows) for i in range(0, rows, batch_rows)]

        # Baseline 1: psycopg binary COPY with write_row (rows prepared beforehand, not timed).
        prepared = []
        for c in chunks:
            order = np.lexsort((times[c], sids[c]))
            prepared.append(
                [
                    (us_to_datetime(int(tt)), int(ss), float(vv))
                    for tt, ss, vv in zip(times[c][order], sids[c][order], values[c][order], strict=True)
                ]
            )
        truncate(conn)
        t = time.perf_counter()
        for chunk_rows in prepared:
            with conn.transaction(), conn.cursor() as cur, cur.copy(COPY) as cp:
                cp.set_types(["timestamptz", "int8", "float8"])
                for row in chunk_rows:
                    cp.write_row(row)
        del prepared
        rowcopy_s = time.perf_counter() - t

        # Baseline 2: pre-encoded, pre-sorted binary COPY: the server's cost alone, no client work.
        encoded = []
        for c in chunks:
            order = np.lexsort((times[c], sids[c]))
            encoded.append(encode_copy_binary(sids[c][order], times[c][order], values[c][order]))
        truncate(conn)
        t = time.perf_counter()
        for data in encoded:
            with conn.transaction(), conn.cursor() as cur, cur.copy(COPY) as cp:
                cp.write(data)
        copy_s = time.perf_counter() - t

        # tsmon's writer: series lookups (cache, else database), dedupe, sort, encode, COPY.
        # First with a cold cache (a restarted process), then in steady state (series known).
        def run_writer(writer: SampleWriter) -> float:
            truncate(conn)
            t = time.perf_counter()
            for c in chunks:
                writer.write(
                    SampleBatch(batch.metrics[c], batch.labels[c], batch.times_us[c], batch.values[c])
                )
            elapsed = time.perf_counter() - t
            assert conn.execute("SELECT count(*) FROM tsmon.samples").fetchone() == (rows,)
            return elapsed

        writer = SampleWriter(conn, SeriesCache(series * 2))
        cold_s = run_writer(writer)
        writer_s = run_writer(writer)
    return {
        "rows": rows,
        "series": series,
        "writer_rows_per_s": rows / writer_s,
        "writer_cold_cache_rows_per_s": rows / cold_s,
        "copy_rows_per_s": rows / copy_s,
        "psycopg_write_row_rows_per_s": rows / rowcopy_s,
        "writer_vs_copy": copy_s / writer_s,
        "writer_vs_write_row": rowcopy_s / writer_s,
    }


def bench_time_window_guard(url: str, rows: int, series: int, rounds: int = 5) -> dict[str, float]:
    """Binary COPY of in-window rows with the time-window trigger (tsmon's engine) and without it.

    Interleaved rounds, each in a rolled-back transaction; medians. The trigger's WHEN clause is
    evaluated for every row, its function only for rows outside the window.
    """
    rng = np.random.default_rng(2)
    # Ids no series has: rows of their own beside what the writer benchmark left.
    sids = np.repeat(np.arange(10**9, 10**9 + series, dtype=np.int64), rows // series)
    times = T0_US + np.tile(np.arange(rows // series, dtype=np.int64) * 1_000_000, series)
    data = encode_copy_binary(sids, times, rng.random(sids.size))
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute(
            "SELECT pg_get_triggerdef(oid) FROM pg_trigger "
            "WHERE tgrelid = 'tsmon.samples'::regclass AND tgname = 'samples_time_window'"
        ).fetchone()
        if found is None:
            return {}  # continuous aggregates: no trigger to measure
        speed: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(rounds):
            for guarded in (True, False):
                if not guarded:
                    conn.execute("DROP TRIGGER samples_time_window ON tsmon.samples")
                t = time.perf_counter()
                with conn.transaction(force_rollback=True), conn.cursor() as cur, cur.copy(COPY) as cp:
                    cp.write(data)
                speed[guarded].append(sids.size / (time.perf_counter() - t))
                if not guarded:
                    conn.execute(str(found[0]))
    return {
        "copy_guarded_rows_per_s": float(np.median(speed[True])),
        "copy_unguarded_rows_per_s": float(np.median(speed[False])),
    }


def write_csv(path: Path, rows: int, series: int) -> None:
    with path.open("w") as f:
        f.write("time,metric,labels,value\n")
        base = int(time.time()) - 86_400  # recent: samples older than the raw retention are refused
        for i in range(rows):
            s, k = i % series, i // series
            f.write(f'{base + k * 10},cli_metric,"{{""host"":""h{s}""}}",{(i * 7919) % 1000 / 10}\n')


def run_cli(url: str, path: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one `tsmon ingest` process."""
    env = {**os.environ, "TSMON_DATABASE_URL": url}
    cmd = [sys.executable, "-c", RSS_LAUNCHER, sys.executable, "-m", "tsmon", "ingest", str(path)]
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"tsmon ingest {path} failed: {proc.stderr}")
    return elapsed, int(proc.stdout.strip().splitlines()[-1])


def bench_cli(url: str, rows: int, series: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d:
        small, large = Path(d) / "small.csv", Path(d) / "large.csv"
        write_csv(small, rows // 10, series)
        write_csv(large, rows, series)
        with psycopg.connect(url, autocommit=True) as conn:
            truncate(conn)
        _, small_rss = run_cli(url, small)
        with psycopg.connect(url, autocommit=True) as conn:
            truncate(conn)
        large_s, large_rss = run_cli(url, large)
    return {
        "cli_rows": rows,
        "cli_rows_per_s": rows / large_s,
        "cli_peak_rss_mb": large_rss / 1024,
        "cli_small_peak_rss_mb": small_rss / 1024,
        "cli_rss_ratio": large_rss / small_rss,
    }


def start_server(url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "TSMON_DATABASE_URL": url,
        "TSMON_API_PORT": str(port),
        "TSMON_API_HOST": "127.0.0.1",
    }
    env.pop("TSMON_API_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tsmon", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("tsmon serve did not become ready")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_load(
    base: str, path: str, bodies: list[bytes], headers: dict[str, str], samples_per_body: int, clients: int
) -> dict[str, float]:
    """Send every body once from ``clients`` concurrent senders; samples/s and latency percentiles."""
    latencies: list[float] = []
    lock = threading.Lock()
    queue = list(reversed(bodies))

    def sender() -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                t = time.perf_counter()
                r = client.post(path, content=body, headers=headers)
                elapsed = time.perf_counter() - t
                if r.status_code != 204:
                    raise SystemExit(f"{path}: {r.status_code} {r.text[:300]}")
                with lock:
                    latencies.append(elapsed)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=sender) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    lat = np.array(latencies) * 1000
    return {
        "samples_per_s": len(bodies) * samples_per_body / wall,
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
    }


def bench_http(url: str, requests: int, clients: int) -> dict[str, float]:
    """Telegraf-shaped line protocol (1,000 lines x 5 fields) and Prometheus remote write (2,000 series)."""
    now_s = int(time.time()) - 3600
    lp_bodies = []
    for r in range(requests):
        lines = [
            f"bench_cpu,host=h{i % 100},cpu=cpu{i // 100} usage_user={i % 7}.5,usage_system=1.25,"
            f"usage_idle=90,usage_iowait=0.5,usage_steal=0 {(now_s + r) * 1_000_000_000}"
            for i in range(1000)
        ]
        lp_bodies.append(gzip.compress("\n".join(lines).encode(), compresslevel=1))
    rw_bodies = [
        encode_remote_write(
            (
                {"__name__": "bench_rw", "job": "node", "instance": f"h{i % 200}:9100", "i": str(i)},
                [((now_s + r) * 1000, float(i))],
            )
            for i in range(2000)
        )
        for r in range(requests)
    ]
    proc, base = start_server(url)
    try:
        # Warm up (series creation) with the first body of each, then measure fresh timestamps.
        lp = http_load(base, "/api/v2/write", lp_bodies[:1], {"Content-Encoding": "gzip"}, 5000, 1)
        rw = http_load(base, "/api/v1/write", rw_bodies[:1], {"Content-Encoding": "snappy"}, 2000, 1)
        lp = http_load(base, "/api/v2/write", lp_bodies[1:], {"Content-Encoding": "gzip"}, 5000, clients)
        rw = http_load(base, "/api/v1/write", rw_bodies[1:], {"Content-Encoding": "snappy"}, 2000, clients)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {
        "lp_samples_per_s": lp["samples_per_s"],
        "lp_p50_ms": lp["p50_ms"],
        "lp_p99_ms": lp["p99_ms"],
        "rw_samples_per_s": rw["samples_per_s"],
        "rw_p50_ms": rw["p50_ms"],
        "rw_p99_ms": rw["p99_ms"],
        "http_clients": clients,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--batch-rows", type=int, default=50_000)
    ap.add_argument("--requests", type=int, default=101, help="HTTP requests per protocol")
    ap.add_argument("--clients", type=int, default=4, help="concurrent HTTP senders")
    args = ap.parse_args()
    url = scratch_database()
    result: dict[str, float] = {}
    result |= bench_writer_vs_copy(url, args.rows, args.series, args.batch_rows)
    result |= bench_time_window_guard(url, args.rows, args.series)
    if "copy_guarded_rows_per_s" in result:
        print(
            f"binary COPY with the time-window trigger: {result['copy_guarded_rows_per_s']:,.0f} rows/s; "
            f"without it: {result['copy_unguarded_rows_per_s']:,.0f} rows/s"
        )
    print(
        f"writer: {result['writer_rows_per_s']:,.0f} rows/s; raw binary COPY of pre-encoded rows: "
        f"{result['copy_rows_per_s']:,.0f} rows/s (ratio {result['writer_vs_copy']:.2f}); cold series cache: "
        f"{result['writer_cold_cache_rows_per_s']:,.0f} rows/s; "
        f"psycopg write_row COPY: {result['psycopg_write_row_rows_per_s']:,.0f} rows/s"
    )
    result |= bench_http(url, args.requests, args.clients)
    print(
        f"HTTP line protocol (gzip, {args.clients} clients): {result['lp_samples_per_s']:,.0f} samples/s, "
        f"p50 {result['lp_p50_ms']:.1f} ms, p99 {result['lp_p99_ms']:.1f} ms per 5,000-sample request"
    )
    print(
        f"HTTP remote write ({args.clients} clients): {result['rw_samples_per_s']:,.0f} samples/s, "
        f"p50 {result['rw_p50_ms']:.1f} ms, p99 {result['rw_p99_ms']:.1f} ms per 2,000-sample request"
    )
    result |= bench_cli(url, args.rows, args.series)
    print(
        f"tsmon ingest CSV: {result['cli_rows_per_s']:,.0f} rows/s on {args.rows:,} rows; peak RSS "
        f"{result['cli_peak_rss_mb']:.0f} MB vs {result['cli_small_peak_rss_mb']:.0f} MB for a file "
        f"10x smaller (ratio {result['cli_rss_ratio']:.2f})"
    )
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    main()
