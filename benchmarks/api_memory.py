"""API memory benchmark: peak RSS of `tsmon serve` for 1 and 4 concurrent maximum-size write bodies.

Runs against TSMON_DATABASE_URL or the embedded database, in a scratch database (tsmon_bench).
The baseline, measured in the same run, is the idle server's RSS and the bytes of the bodies
themselves. Peak RSS is the kernel's high-water mark (VmHWM), reset between phases through
/proc/PID/clear_refs. Prints figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path

import httpx
import orjson

from ingest import scratch_database, start_server  # benchmarks/ is on sys.path when run as a script

MIB = 1 << 20


def line_protocol_body(size: int, offset_s: int) -> tuple[bytes, int]:
    """About ``size`` bytes of Telegraf-shaped lines (2 fields each), and how many samples they hold."""
    now_ns = (int(time.time()) - 3 * 3600 + offset_s) * 1_000_000_000
    lines, total, n = [], 0, 0
    while total < size:
        line = f"bench_mem,host=h{n % 1000},cpu=cpu{n % 8} user={n % 97}.25,system=1.5 {now_ns + n * 1000}\n"
        lines.append(line)
        total += len(line)
        n += 1
    return "".join(lines).encode()[:size].rsplit(b"\n", 1)[0] + b"\n", 2 * (n - 1)


def json_body(size: int, offset_s: int) -> tuple[bytes, int]:
    """About ``size`` bytes of JSON series (100 points each), and how many samples they hold."""
    now_ms = (int(time.time()) - 3 * 3600 + offset_s) * 1000
    parts, total, samples, n = [], 2, 0, 0
    while True:
        obj = {
            "metric": "bench_mem_json",
            "labels": {"host": f"h{n % 1000}", "shard": str(n)},
            "points": [[now_ms + i * 10, float(i)] for i in range(100)],
        }
        part = orjson.dumps(obj)
        if total + len(part) + 1 > size:
            break
        parts.append(part)
        total += len(part) + 1
        samples += 100
        n += 1
    return b"[" + b",".join(parts) + b"]", samples


def rss_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise SystemExit(f"no {field} for pid {pid}")


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # 5: reset the peak RSS (VmHWM) to the current RSS


def send_all(base: str, path: str, bodies: list[bytes], headers: dict[str, str]) -> float:
    errors: list[str] = []

    def send(body: bytes) -> None:
        with httpx.Client(base_url=base, timeout=600) as client:
            r = client.post(path, content=body, headers=headers)
            if r.status_code not in (200, 204):
                errors.append(f"{path}: {r.status_code} {r.text[:300]}")

    t0 = time.perf_counter()
    threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise SystemExit("; ".join(errors))
    return time.perf_counter() - t0


def measure(
    base: str, pid: int, path: str, bodies: list[bytes], headers: dict[str, str]
) -> tuple[float, float]:
    reset_peak(pid)
    seconds = send_all(base, path, bodies, headers)
    return rss_kb(pid, "VmHWM") / 1024, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--body-mib", type=int, default=60, help="size of each body (the default cap is 64 MiB)")
    ap.add_argument("--concurrent", type=int, default=4)
    args = ap.parse_args()
    url = scratch_database()
    proc, base = start_server(url)
    result: dict[str, float] = {"body_mib": args.body_mib, "concurrent": args.concurrent}
    try:
        formats = {
            "lp": ("/api/v2/write?precision=ns", {}, line_protocol_body),
            "json": ("/api/v1/import", {"Content-Type": "application/json"}, json_body),
        }
        for name, (path, headers, make) in formats.items():
            made = [make(args.body_mib * MIB, k * 600) for k in range(args.concurrent)]
            bodies, samples = [b for b, _ in made], sum(n for _, n in made)
            send_all(base, path, [make(MIB, -600)[0]], headers)  # warm up: series, caches, pool
            idle = rss_kb(proc.pid, "VmRSS") / 1024
            one, one_s = measure(base, proc.pid, path, bodies[:1], headers)
            many, many_s = measure(base, proc.pid, path, bodies, headers)
            result |= {
                f"{name}_idle_rss_mb": idle,
                f"{name}_peak_rss_1_mb": one,
                f"{name}_peak_rss_{args.concurrent}_mb": many,
                f"{name}_samples_per_s_{args.concurrent}": samples / many_s,
            }
            print(
                f"{name}: idle {idle:,.0f} MB; one {args.body_mib} MiB body: peak {one:,.0f} MB "
                f"({one_s:.1f} s); {args.concurrent} at once ({args.concurrent * args.body_mib} MiB of "
                f"bodies, {samples:,} samples): peak {many:,.0f} MB, {samples / many_s:,.0f} samples/s"
            )
            del bodies, made
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    print(json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    main()
