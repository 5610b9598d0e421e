"""The worker's context over the test database, for the jobs and the scheduler tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from psycopg_pool import ConnectionPool

from tsmon.settings import Settings
from tsmon.worker import WorkerContext, WorkerMetrics


@pytest.fixture
def ctx(settings: Settings, db_url: str) -> Iterator[WorkerContext]:
    pool = ConnectionPool(db_url, min_size=1, max_size=2, kwargs={"autocommit": True}, open=True)
    yield WorkerContext(settings, pool, WorkerMetrics(), instance="test-host")
    pool.close()
