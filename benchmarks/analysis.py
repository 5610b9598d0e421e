"""Analysis benchmark: `compare` of 1,000 series, 7 d vs the 7 d before, and `changes` over 10,000 series
(1 h window, 4 h baseline; benchmarks/analysis_changes.py), each from windows and from raw samples.

Ends with one JSON line holding both: compare_1k_s, compare_1k_raw_s, changes_10k_s, changes_10k_raw_s, ...
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from analysis_changes import run_changes  # benchmarks/ is on sys.path
from tsmon.analysis.runner import run
from tsmon.db.connect import database_url
from tsmon.ingest.writer import encode_copy_binary
from tsmon.schema import migrate
from tsmon.settings import Settings
from tsmon.stats import moments
from tsmon.stats.effective import segment_effective_welch
from tsmon.stats.welch import welch_t
from tsmon.windows.engine import refresh_windows
from tsmon.windows.retention import RetentionSettings

Conn = psycopg.Connection[tuple[object, ...]]
NAME = "tsmon_bench_analysis"
RETENTION = RetentionSettings()
COPY = "COPY tsmon.samples (time, series_id, value) FROM STDIN (FORMAT BINARY)"
# The same per-series answer straight from the raw samples: each range's count, mean and M2 per
# series and window (what the windows hold), merged and tested in numpy as the analysis does.
RAW = """
    SELECT series_id, (time >= %(split)s)::int, extract(epoch FROM date_trunc(%(unit)s, time))::float8,
           count(*)::float8, avg(value), coalesce(var_samp(value) * (count(*) - 1), 0)
    FROM tsmon.samples WHERE series_id = ANY(%(ids)s) AND time >= %(lo)s AND time < %(hi)s
    GROUP BY 1, 2, 3 ORDER BY 1, 3
"""


def prepare(series: int, days: int, interval_s: int, reuse: bool) -> tuple[str, datetime]:
    """The benchmark database (kept with ``reuse`` when it holds this data) and the data's end."""
    base = database_url(Settings())
    url = make_conninfo(**{**conninfo_to_dict(base), "dbname": NAME})  # type: ignore[arg-type]
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    marker = f"{series} series, {days} d every {interval_s} s"
    if reuse:
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                row = conn.execute("SELECT obj_description('tsmon.samples'::regclass)").fetchone()
                if row and str(row[0]).startswith(marker + " until "):
                    migrate(conn, Settings())  # this checkout's sql/ functions, data kept
                    return url, datetime.fromisoformat(str(row[0]).split(" until ")[1])
        except psycopg.OperationalError:
            pass
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(NAME)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(NAME)))
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn, Settings())
        t0 = time.perf_counter()
        rows = seed(conn, series, end - timedelta(days=days), end, interval_s)
        t1 = time.perf_counter()
        refresh_windows(conn, RETENTION, datetime.now(UTC))
        conn.execute("VACUUM ANALYZE")
        print(
            f"seeded {rows:,} samples by COPY in {t1 - t0:.0f} s, windows in {time.perf_counter() - t1:.0f} s"
        )
        comment = f"{marker} until {end.isoformat()}"
        conn.execute(sql.SQL("COMMENT ON TABLE tsmon.samples IS {}").format(sql.Literal(comment)))
    return url, end


def seed(conn: Conn, series: int, start: datetime, end: datetime, interval_s: int) -> int:
    """Gauges with a daily cycle and AR(1) noise; 5% shift their level by 3 at the split."""
    conn.execute(
        "INSERT INTO tsmon.series (metric, labels) SELECT 'bench_latency', "
        "jsonb_build_object('host', 'h' || i, 'rack', 'r' || i %% 20) FROM generate_series(0, %s - 1) i",
        (series,),
    )
    ids = np.array([r[0] for r in conn.execute("SELECT id FROM tsmon.series ORDER BY id").fetchall()])
    rng = np.random.default_rng(9)
    t0, steps = start.timestamp(), int((end - start).total_seconds() // interval_s)
    split = t0 + steps * interval_s / 2
    state = rng.normal(0, 1, ids.size)
    rows = 0
    for lo in range(0, steps, 1440):  # a day of steps at a time
        n = min(1440, steps - lo)
        t = t0 + interval_s * (lo + np.arange(n))
        values = np.empty((ids.size, n))
        for j in range(n):
            state = 0.9 * state + rng.normal(0, 1, ids.size)
            values[:, j] = state
        values += (
            50
            + 2 * np.sin(t / 86400 * 2 * np.pi)[None, :]
            + np.where(ids % 20 == 0, 3.0, 0.0)[:, None] * (t >= split)
        )
        sids = np.repeat(ids, n)
        times = np.tile((t * 1e6).astype(np.int64), ids.size)
        with conn.transaction(), conn.cursor() as cur, cur.copy(COPY) as copy:
            copy.write(encode_copy_binary(sids, times, values.ravel()))
        rows += sids.size
    conn.execute(
        "SELECT tsmon.note_samples_written(%s, %s)", (start, end)
    )  # tells the windows' refresh what to build
    return rows


def raw_answer(
    conn: Conn, ids: list[int], ranges: tuple[tuple[datetime, datetime], tuple[datetime, datetime]], unit: str
) -> dict[int, tuple[float, float]]:
    """series -> (Welch t, effective p) from the raw samples, bucketed by ``unit`` (hour) as the windows."""
    (lo, _), (split, hi) = ranges
    rows = conn.execute(RAW, {"ids": ids, "lo": lo, "hi": hi, "split": split, "unit": unit}).fetchall()
    a = np.array(rows, dtype=np.float64)
    arr = np.asarray(ids, dtype=np.int64)
    out: list[Any] = []
    for side in (0, 1):
        part = a[a[:, 1] == side]
        pos = np.searchsorted(arr, part[:, 0].astype(np.int64))
        per = moments.Moments(part[:, 3], part[:, 4], part[:, 5])
        out.append((moments.merge(per, pos, arr.size), part[:, 4], np.searchsorted(pos, np.arange(arr.size))))
    (ma, wa, sa), (mb, wb, sb) = out
    t = welch_t(mb, ma).statistic
    eff = segment_effective_welch(wb, sb, wa, sa, mean_a=mb.mean, mean_b=ma.mean).test.pvalue
    return {sid: (float(t[i]), float(eff[i])) for i, sid in enumerate(ids)}


def measure_compare(url: str, end: datetime, *, days: int = 14, repeat: int = 3) -> dict[str, Any]:
    """compare_1k_s (the analysis as the CLI and API run it) beside compare_1k_raw_s (the same
    Welch t and effective p from raw samples), both medians of ``repeat``, and how far apart they are."""
    half = timedelta(days=days / 2)
    target = (end - half, end)
    baseline = (end - 2 * half, end - half)
    params = {
        "metric": "bench_latency",
        "from": target[0].isoformat(),
        "to": target[1].isoformat(),
        "baseline_from": baseline[0].isoformat(),
        "baseline_to": baseline[1].isoformat(),
    }
    windows_s, raw_s = [], []
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(repeat):
            t0 = time.perf_counter()
            out = run(conn, "compare", params, RETENTION, role="tsmon_reader")
            windows_s.append(time.perf_counter() - t0)
        ids = sorted(r["series_id"] for r in out["results"])
        for _ in range(repeat):
            t0 = time.perf_counter()
            unit = {"1m": "minute", "1h": "hour", "1d": "day"}[out["resolution"]]
            raw = raw_answer(conn, ids, (baseline, target), unit)
            raw_s.append(time.perf_counter() - t0)
    diff_t = max(
        abs(r["welch_t"] - raw[r["series_id"]][0]) / max(abs(raw[r["series_id"]][0]), 1e-12)
        for r in out["results"]
    )
    diff_p = max(abs(r["p_effective"] - raw[r["series_id"]][1]) for r in out["results"])
    return {
        "compare_1k_s": round(statistics.median(windows_s), 3),
        "compare_1k_raw_s": round(statistics.median(raw_s), 3),
        "compare_series": out["series"],
        "compare_resolution": out["resolution"],
        "compare_windows_per_range": out["results"][0]["windows_b"],
        "compare_flagged": out["flagged"],
        "compare_max_rel_diff_welch_t": float(f"{diff_t:.3g}"),
        "compare_max_abs_diff_p_effective": float(f"{diff_p:.3g}"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--series", type=int, default=1_000)
    ap.add_argument("--days", type=int, default=14, help="history: the two compared ranges are half each")
    ap.add_argument("--interval", type=int, default=60, help="seconds between samples of a series")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each side (median reported)")
    ap.add_argument("--reuse", action="store_true", help="keep and reuse the seeded databases between runs")
    ap.add_argument("--skip-changes", action="store_true", help="only `compare`")
    args = ap.parse_args()
    url, end = prepare(args.series, args.days, args.interval, args.reuse)
    result = measure_compare(url, end, days=args.days, repeat=args.repeat)
    print(
        f"compare {result['compare_series']} series, {args.days // 2} d vs {args.days // 2} d "
        f"({result['compare_resolution']} windows): {result['compare_1k_s']} s from windows, "
        f"{result['compare_1k_raw_s']} s from raw samples; {result['compare_flagged']} flagged"
    )
    if not args.skip_changes:
        changes = run_changes(runs=args.repeat, reuse=args.reuse)
        result |= {k: v for k, v in changes.items() if k != "series"} | {"changes_series": changes["series"]}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
