"""A job over time: staleness markers as Prometheus writes them, stored as remote write stores them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psycopg

from tsmon.scrape.config import ScrapeJob, Target, load_scrape_file
from tsmon.worker import WorkerContext, scrape_targets

from .exporters import fake_exporter

STALE_HEX = "7ff0000000000002"  # Prometheus' value.StaleNaN, as remote write ingest stores it


def history(db_url: str, job: str) -> dict[str, list[str]]:
    """Each series (metric + labels) of a job: its values in time order, markers shown as STALE."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            """SELECT s.metric || (s.labels - 'job' - 'instance')::text,
                      array_agg(CASE WHEN encode(float8send(x.value), 'hex') = %s THEN 'STALE'
                                     ELSE x.value::text END ORDER BY x.time)
               FROM tsmon.samples x JOIN tsmon.series s ON s.id = x.series_id
               WHERE s.labels->>'job' = %s GROUP BY 1""",
            [STALE_HEX, job],
        ).fetchall()
    return dict(rows)


def test_series_that_disappear_and_targets_that_go_down_get_markers(ctx: WorkerContext, db_url: str) -> None:
    exposed_ms = (int(time.time()) - 60) * 1000
    with fake_exporter('a 1\nb{x="1"} 2\nc 3\n' + f"d 4 {exposed_ms}\n") as target:
        job = ScrapeJob("app", (Target(target.address),), interval_s=15, timeout_s=2)
        scrape_targets(ctx, job)
        target.body = "a 5\nc 6\n"  # b and d are gone
        scrape_targets(ctx, job)
        target.status = 500  # down: every series of the last successful scrape is marked, once
        scrape_targets(ctx, job)
        scrape_targets(ctx, job)
    stored = history(db_url, "app")
    assert len(stored.pop("scrape_duration_seconds{}")) == 4
    assert stored == {
        "a{}": ["1", "5", "STALE"],
        'b{"x": "1"}': ["2", "STALE"],
        "c{}": ["3", "6", "STALE"],
        "d{}": ["4"],  # exposed with its own timestamp: not tracked (as Prometheus)
        "up{}": ["1", "1", "0", "0"],
        "scrape_samples_scraped{}": ["4", "2", "0", "0"],
        "scrape_samples_post_metric_relabeling{}": ["4", "2", "0", "0"],
    }
    with psycopg.connect(db_url) as conn:  # the public view leaves markers out, as for remote write
        visible = conn.execute(
            "SELECT count(*) FROM tsmon.metric_samples WHERE metric IN ('a', 'b', 'c')"
        ).fetchone()
    assert visible == (5,)


def test_a_target_removed_from_its_file_gets_markers(ctx: WorkerContext, db_url: str, tmp_path: Path) -> None:
    with fake_exporter("a 1\n") as one, fake_exporter("a 2\n") as two:
        targets = tmp_path / "targets.json"
        targets.write_text(json.dumps([{"targets": [one.address, two.address]}]))
        (tmp_path / "scrape.yml").write_text(
            "scrape_configs: [{job_name: sd, file_sd_configs: [{files: [targets.json]}]}]"
        )
        (job,) = load_scrape_file(tmp_path / "scrape.yml")
        scrape_targets(ctx, job)
        targets.write_text(json.dumps([{"targets": [two.address]}]))  # re-read: one is gone
        scrape_targets(ctx, job)
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            """SELECT s.metric, s.labels->>'instance',
                      array_agg(encode(float8send(x.value), 'hex') = %s ORDER BY x.time)
               FROM tsmon.samples x JOIN tsmon.series s ON s.id = x.series_id
               WHERE s.metric IN ('a', 'up') GROUP BY 1, 2 ORDER BY 1, 2""",
            [STALE_HEX],
        ).fetchall()
    assert sorted(rows) == sorted(
        [
            ("a", one.address, [False, True]),
            ("up", one.address, [False, True]),
            ("a", two.address, [False, False]),
            ("up", two.address, [False, False]),
        ]
    )
