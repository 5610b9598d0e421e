"""Error answers: InfluxDB's ``{"code", "message"}`` on the Influx endpoints, ``{"error"}`` JSON elsewhere."""

from __future__ import annotations

import logging
import time
from http import HTTPStatus

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from tsmon.api.body import BadBodyError, ServerBusyError, UnsupportedEncodingError
from tsmon.api.health import RETRY_AFTER_SECONDS
from tsmon.errors import BodyTooLargeError, DatabaseUnavailableError

log = logging.getLogger("tsmon.api")

# The paths InfluxDB clients talk to; their errors take InfluxDB's shape so clients show the message.
INFLUX_PATHS = frozenset({"/write", "/query", "/ping", "/health"})  # and everything under /api/v2/
V1_WRITE = "/write"

# InfluxDB 2's error codes (influxdb/kit/platform/errors), by HTTP status.
INFLUX_CODES = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    413: "request too large",
    415: "unsupported media type",
    422: "unprocessable entity",
    429: "too many requests",
    503: "unavailable",
}


def is_influx(request: Request) -> bool:
    return request.url.path in INFLUX_PATHS or request.url.path.startswith("/api/v2/")


def error_response(
    request: Request,
    status: int,
    message: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, object] | None = None,
) -> JSONResponse:
    """The error body for this endpoint's clients, with ``extra`` fields (a line number, details)."""
    if is_influx(request):
        body: dict[str, object] = {"code": INFLUX_CODES.get(status, "internal error"), "message": message}
        if request.url.path == V1_WRITE:
            body["error"] = message  # InfluxDB 1.x clients (Telegraf's v1 output) read "error"
    else:
        body = {"error": message}
    return JSONResponse({**body, **(extra or {})}, status_code=status, headers=headers)


class OutageLog:
    """A database outage is logged once when it starts and once when it ends, not per request."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.refused = 0

    def failed(self, what: str) -> None:
        self.refused += 1
        if self.since is None:
            self.since = time.monotonic()
            log.warning("database unavailable (%s): answering 503 + Retry-After until it is back", what)

    def succeeded(self) -> None:
        if self.since is not None:
            log.warning(
                "database available again after %.0f s; %d requests were answered 503",
                time.monotonic() - self.since,
                self.refused,
            )
            self.since, self.refused = None, 0


def install_error_handlers(app: FastAPI) -> None:
    """Every error the app answers, in one of the two shapes above; never a plain-text body."""
    app.state.outage = OutageLog()

    @app.exception_handler(DatabaseUnavailableError)
    async def unavailable(request: Request, exc: DatabaseUnavailableError) -> Response:
        app.state.outage.failed(str(exc))
        return error_response(request, 503, str(exc), {"Retry-After": RETRY_AFTER_SECONDS})

    @app.exception_handler(ServerBusyError)
    async def busy(request: Request, exc: ServerBusyError) -> Response:
        return error_response(request, 503, str(exc), {"Retry-After": RETRY_AFTER_SECONDS})

    @app.exception_handler(BodyTooLargeError)
    async def too_large(request: Request, exc: BodyTooLargeError) -> Response:
        return error_response(request, 413, str(exc))

    @app.exception_handler(UnsupportedEncodingError)
    async def bad_encoding(request: Request, exc: UnsupportedEncodingError) -> Response:
        return error_response(request, 415, str(exc))

    @app.exception_handler(BadBodyError)
    async def bad_body(request: Request, exc: BadBodyError) -> Response:
        return error_response(request, 400, str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return error_response(request, exc.status_code, message, dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"invalid request: {where}: {first.get('msg', 'invalid')}" if where else "invalid request"
        # "detail" keeps pydantic's located list (FastAPI's own field) beside the one-line message.
        return error_response(request, 422, message, extra={"detail": jsonable_encoder(errors)})

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        log.exception("%s %s failed", request.method, request.url.path)
        return error_response(request, 500, f"internal error: {type(exc).__name__}")
