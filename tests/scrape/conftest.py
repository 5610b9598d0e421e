"""A worker context on the test database: scrape jobs run through the worker's own job function."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from psycopg_pool import ConnectionPool

from tsmon.settings import Settings
from tsmon.worker import WorkerContext, WorkerMetrics


@pytest.fixture
def ctx(settings: Settings, db_url: str) -> Iterator[WorkerContext]:
    pool = ConnectionPool(db_url, min_size=1, max_size=2, kwargs={"autocommit": True}, open=True)
    c = WorkerContext(settings, pool, WorkerMetrics(), instance="test-host")
    yield c
    c.http.close()
    pool.close()
