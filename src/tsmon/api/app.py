"""create_app(settings): the FastAPI app; the lifespan owns the database pool."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Histogram
from psycopg_pool import AsyncConnectionPool

from tsmon import __version__
from tsmon.api import health, metrics
from tsmon.settings import Settings


def create_app(settings: Settings, database_url: str, registry: CollectorRegistry | None = None) -> FastAPI:
    """The API for one database. A fresh registry per app keeps tests independent."""
    registry = registry or CollectorRegistry()
    latency = Histogram(
        "tsmon_http_request_duration_seconds",
        "HTTP request latency by route and status code.",
        ["route", "code"],
        registry=registry,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # open(wait=False): the API starts (and /healthz answers) even while the database is down.
        pool: AsyncConnectionPool = AsyncConnectionPool(
            database_url,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            open=False,
            timeout=2.0,
            kwargs={"application_name": "tsmon-api", "autocommit": True},
        )
        await pool.open(wait=False)
        app.state.pool = pool
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(title="tsmon", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.registry = registry

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        latency.labels(path, str(response.status_code)).observe(time.perf_counter() - start)
        return response

    app.include_router(health.router)
    app.include_router(metrics.router)
    return app
