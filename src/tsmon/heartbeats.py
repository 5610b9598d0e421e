"""Worker heartbeats in tsmon.worker_heartbeats: written by each worker, read by `tsmon up` and `status`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg.rows import class_row

from tsmon.db import Conn

# A row silent for this long belongs to a worker that is gone for good.
FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Heartbeat:
    """One worker process as it last reported itself."""

    owner: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    jobs: list[str]


def beat(conn: Conn, me: Heartbeat) -> None:
    """Record ``me`` (its heartbeat_at is now) and forget workers silent for a day."""
    conn.execute(
        """INSERT INTO tsmon.worker_heartbeats (owner, host, pid, started_at, heartbeat_at, jobs)
           VALUES (%s, %s, %s, %s, %s, %s)
           ON CONFLICT (owner) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at, jobs = EXCLUDED.jobs""",
        (me.owner, me.host, me.pid, me.started_at, me.heartbeat_at, me.jobs),
    )
    conn.execute(
        "DELETE FROM tsmon.worker_heartbeats WHERE heartbeat_at < %s", (me.heartbeat_at - FORGET_AFTER,)
    )


def latest(conn: Conn, host: str, pid: int) -> Heartbeat | None:
    """The newest heartbeat of the worker process ``pid`` on ``host``, if it has beaten at all."""
    with conn.cursor(row_factory=class_row(Heartbeat)) as cur:
        cur.execute(
            """SELECT owner, host, pid, started_at, heartbeat_at, jobs FROM tsmon.worker_heartbeats
               WHERE host = %s AND pid = %s ORDER BY heartbeat_at DESC LIMIT 1""",
            (host, pid),
        )
        return cur.fetchone()
