"""A shard whose scoring fails backs off alone (doubling delay), so the other shards go on."""

from __future__ import annotations

from datetime import timedelta

from tsmon.db import Conn

FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(minutes=30)
MAX_ERROR_CHARS = 500


def retry_delay(failures: int) -> timedelta:
    """30 s after the first failure, doubling with each consecutive one, at most 30 minutes."""
    delay: timedelta = FIRST_RETRY * 2 ** min(max(failures - 1, 0), 16)
    return min(delay, MAX_RETRY)


def record_failure(conn: Conn, config_id: int, shard: int, error: BaseException) -> tuple[int, timedelta]:
    """Count the failure, set when the shard may be claimed again; (failures, delay)."""
    row = conn.execute(
        "SELECT failures FROM tsmon.detection_shards WHERE config_id = %s AND shard = %s", (config_id, shard)
    ).fetchone()
    failures = (int(row[0]) if row else 0) + 1
    delay = retry_delay(failures)
    conn.execute(
        "UPDATE tsmon.detection_shards SET failures = %s, retry_after = now() + %s, last_error = %s "
        "WHERE config_id = %s AND shard = %s",
        (failures, delay, f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS], config_id, shard),
    )
    return failures, delay


def clear_failures(conn: Conn, config_id: int, shard: int) -> None:
    conn.execute(
        "UPDATE tsmon.detection_shards SET failures = 0, retry_after = NULL, last_error = NULL "
        "WHERE config_id = %s AND shard = %s AND failures > 0",
        (config_id, shard),
    )
