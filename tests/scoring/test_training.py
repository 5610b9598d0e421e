"""First models: a series never scored starts at its first window with enough data, bulk imports included."""

from __future__ import annotations

import math
from datetime import timedelta

from tests.scoring.test_job import NOW, Conn, run_all
from tests.scoring.test_job import conn as scored_conn  # noqa: F401 - fixture
from tsmon.ingest.batch import SampleBatch, canonical_labels, datetime_to_us
from tsmon.ingest.writer import SampleWriter, SeriesCache
from tsmon.scoring.configs import apply_yaml
from tsmon.scoring.models import MIN_TRAINING_POINTS

MINUTE = timedelta(minutes=1)
LAST = NOW - MINUTE  # the newest sample; a run at NOW scores the windows before it (LAST is in its grace)
FRESH = "configs: [{name: fresh, metric: fresh_load, detector: mad, training_window: 1d, shards: 1}]"


def import_minutes(conn: Conn, metric: str, host: str, minutes: int) -> None:
    """A bulk import: the last ``minutes`` minutes of one series (up to LAST), in one batch."""
    batch = SampleBatch()
    for m in range(minutes):
        t = LAST - m * MINUTE
        batch.append(metric, canonical_labels({"host": host}), datetime_to_us(t), 50 + 5 * math.sin(m / 7))
    SampleWriter(conn, SeriesCache(10)).write(batch)


def scored(conn: Conn, host: str) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT count(*), min(time), max(time) FROM tsmon.metric_anomaly_scores WHERE labels ->> 'host' = %s",
        (host,),
    ).fetchall()


def test_a_first_run_after_a_short_import_scores_from_the_first_window_with_enough_data(conn: Conn) -> None:
    import_minutes(conn, "fresh_load", "a", 70)  # 70 minutes: the first run's 60 reach back to its 11th
    apply_yaml(conn, FRESH)
    first = LAST - (70 - 1 - MIN_TRAINING_POINTS) * MINUTE  # the 31st window, 30 windows before it
    assert run_all(conn, "w1", NOW) == 39
    assert scored(conn, "a") == [(39, first, LAST - MINUTE)]
    assert conn.execute("SELECT train_end, train_points FROM tsmon.models").fetchall() == [(first, 30)]
    run_all(conn, "w1", NOW + 2 * MINUTE)
    assert scored(conn, "a") == [(40, first, LAST)]  # and no window is skipped for good


def test_a_series_imported_into_a_running_config_gets_its_last_hour_scored(
    scored_conn: Conn,  # noqa: F811
) -> None:
    conn = scored_conn
    run_all(conn, "w1", NOW)  # web1 and web2 scored up to LAST (excluded)
    import_minutes(conn, "demo_load", "web9", 3 * 60)  # a new host's last three hours, imported late
    later = NOW + 2 * MINUTE  # this run's windows end at LAST + 2 min: the hour before reaches LAST - 58
    assert run_all(conn, "w1", later) == 2 + 59  # LAST of web1 and web2; web9 from LAST - 58 to LAST
    assert scored(conn, "web9") == [(59, LAST - 58 * MINUTE, LAST)]
    train_end = conn.execute(
        "SELECT m.train_end FROM tsmon.models m JOIN tsmon.series s ON s.id = m.series_id "
        "WHERE s.labels ->> 'host' = 'web9'"
    ).fetchone()
    assert train_end == (LAST - 58 * MINUTE,)  # trained on the data before the first window it scored
    assert scored(conn, "web1")[0][0] == 61  # the others go on from their watermark


def test_a_new_series_with_too_little_data_waits_without_losing_windows(conn: Conn) -> None:
    import_minutes(conn, "fresh_load", "a", 20)
    apply_yaml(conn, FRESH)
    assert run_all(conn, "w1", NOW) == 0  # 20 windows: no model yet
    assert conn.execute("SELECT count(*) FROM tsmon.models").fetchone() == (0,)
    batch = SampleBatch()
    for m in range(1, 16):  # fifteen more minutes arrive, one a minute
        batch.append("fresh_load", canonical_labels({"host": "a"}), datetime_to_us(LAST + m * MINUTE), 50.0)
    SampleWriter(conn, SeriesCache(10)).write(batch)
    # The run at NOW + 15 min scores up to LAST + 14 min: from the 31st window (LAST + 11 min) on.
    assert run_all(conn, "w1", NOW + 15 * MINUTE) == 4
    assert scored(conn, "a") == [(4, LAST + 11 * MINUTE, LAST + 14 * MINUTE)]
