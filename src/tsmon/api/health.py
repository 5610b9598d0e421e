"""Liveness (/healthz), readiness (/readyz: the database answers), and InfluxDB's /ping and /health."""

from __future__ import annotations

import os

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from psycopg_pool import ConnectionPool

from tsmon import __version__
from tsmon.db import TRANSIENT_ERRORS

router = APIRouter()

# Senders (Prometheus, Telegraf, OTel) retry after this many seconds on 503.
RETRY_AFTER_SECONDS = "5"
# The InfluxDB API version tsmon's write endpoints follow: clients read it from /ping and /health.
INFLUX_COMPAT_VERSION = "2.7.0"
INFLUX_HEADERS = {"X-Influxdb-Version": INFLUX_COMPAT_VERSION, "X-Influxdb-Build": f"tsmon {__version__}"}


@router.get("/healthz")
async def healthz() -> dict[str, str | int]:
    # The pid lets `tsmon up` tell its own API from another server already on the port.
    return {"status": "ok", "pid": os.getpid()}


def _ping(pool: ConnectionPool) -> None:
    with pool.connection(timeout=2.0) as conn:
        conn.execute("SELECT 1")


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    try:
        await anyio.to_thread.run_sync(_ping, request.app.state.pool)
    except TRANSIENT_ERRORS as exc:
        return JSONResponse(
            {"status": "unavailable", "reason": f"database unreachable: {type(exc).__name__}"},
            status_code=503,
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
    return JSONResponse({"status": "ready"})


@router.api_route("/ping", methods=["GET", "HEAD"])
async def ping() -> Response:
    """InfluxDB's ping: 204 and the version header (client.ping(), Telegraf, datasource test buttons)."""
    return Response(status_code=204, headers=INFLUX_HEADERS)


@router.get("/health")
async def influx_health(request: Request) -> JSONResponse:
    """InfluxDB 2's health check: ``status`` pass when the database answers, else fail (503)."""
    try:
        await anyio.to_thread.run_sync(_ping, request.app.state.pool)
    except TRANSIENT_ERRORS as exc:
        body = {"status": "fail", "message": f"database unreachable: {type(exc).__name__}"}
        code, headers = 503, {**INFLUX_HEADERS, "Retry-After": RETRY_AFTER_SECONDS}
    else:
        body, code, headers = {"status": "pass", "message": "ready for writes"}, 200, INFLUX_HEADERS
    return JSONResponse(
        {"name": "tsmon", **body, "checks": [], "version": INFLUX_COMPAT_VERSION, "commit": __version__},
        status_code=code,
        headers=headers,
    )
