"""Liveness (/healthz: the process answers) and readiness (/readyz: the database answers)."""

from __future__ import annotations

import os

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from psycopg_pool import ConnectionPool

from tsmon.db import TRANSIENT_ERRORS

router = APIRouter()

# Senders (Prometheus, Telegraf, OTel) retry after this many seconds on 503.
RETRY_AFTER_SECONDS = "5"


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
