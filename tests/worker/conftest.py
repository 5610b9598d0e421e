"""The worker's context over the test database, for the jobs and the scheduler tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from psycopg_pool import ConnectionPool

from tests.conftest import login_url
from tsmon.db.logins import WORKER_ROLE
from tsmon.settings import Settings
from tsmon.worker import WorkerContext, WorkerMetrics


@pytest.fixture
def ctx(settings: Settings, db_url: str) -> Iterator[WorkerContext]:
    # Logged in as tsmon_worker, as `tsmon worker` does: the jobs run with the worker's rights only.
    pool = ConnectionPool(
        login_url(db_url, WORKER_ROLE), min_size=1, max_size=2, kwargs={"autocommit": True}, open=True
    )
    yield WorkerContext(settings, pool, WorkerMetrics(), instance="test-host")
    pool.close()
