"""create_app(settings): the FastAPI app; the lifespan owns the database pool and the ingest service."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
import psycopg
from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Histogram
from psycopg_pool import ConnectionPool

from tsmon import __version__
from tsmon.api import analyze, analyze_changes, health, metrics, score, write
from tsmon.api.body import InFlight
from tsmon.api.errors import install_error_handlers
from tsmon.db import Conn
from tsmon.ingest.limits import Limits
from tsmon.ingest.remote_write import LabelSetCache
from tsmon.ingest.service import IngestMetrics, IngestService
from tsmon.ingest.writer import SeriesCache
from tsmon.scoring.realtime import DetectorCache
from tsmon.settings import Settings

log = logging.getLogger("tsmon.api")


def _role_setter(role: str | None) -> Callable[[Conn], None]:
    """Pool `configure` hook: drop to the ingest role, so this process can insert and nothing else."""

    def configure(conn: Conn) -> None:
        if role:
            conn.execute(psycopg.sql.SQL("SET ROLE {}").format(psycopg.sql.Identifier(role)))

    return configure


def create_app(settings: Settings, database_url: str, registry: CollectorRegistry | None = None) -> FastAPI:
    """The API for one database. A fresh registry per app keeps tests independent."""
    registry = registry or CollectorRegistry()
    latency = Histogram(
        "tsmon_http_request_duration_seconds",
        "HTTP request latency by route and status code.",
        ["route", "code"],
        registry=registry,
    )
    ingest_metrics = IngestMetrics(registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # open(wait=False): the API starts (and /healthz answers) even while the database is down.
        pool = ConnectionPool(
            database_url,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            open=False,
            timeout=settings.pool_timeout_seconds,
            configure=_role_setter(settings.ingest_role),
            kwargs={"application_name": "tsmon-api", "autocommit": True, "connect_timeout": 5},
            # Give up a reconnect after 10 s: the next request starts over at once rather than
            # waiting out an exponential backoff grown during a long outage.
            reconnect_timeout=10.0,
        )
        pool.open(wait=False)
        app.state.pool = pool
        app.state.detectors = DetectorCache()
        app.state.label_sets = LabelSetCache()
        app.state.ingest = IngestService(
            pool,
            Limits.from_settings(settings),
            SeriesCache(settings.series_cache_size),
            ingest_metrics,
            pool_timeout=settings.pool_timeout_seconds,
        )
        # Everything loaded so far lives as long as the process: keep it out of the collector's
        # full passes, which otherwise show up as latency spikes on requests.
        gc.freeze()
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(pool.close)

    app = FastAPI(title="tsmon", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.registry = registry
    # At least one body of the largest size must fit, or such a body could never be accepted.
    app.state.inflight = InFlight(max(settings.limit_inflight_bytes, settings.limit_body_bytes))

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            app.state.inflight.give_back(request)
        if response.status_code < 500 and request.method == "POST":
            app.state.outage.succeeded()  # a write or score reached the database again
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        latency.labels(path, str(response.status_code)).observe(time.perf_counter() - start)
        return response

    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(write.router)
    app.include_router(score.router)
    app.include_router(analyze.router)
    app.include_router(analyze_changes.router)
    return app
