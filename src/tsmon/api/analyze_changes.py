"""POST /api/v1/analyze/changes: what changed, with the same JSON as `tsmon analyze changes --json`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tsmon.analysis.changes import MAX_LIMIT, ChangesInputError, ChangesRequest, run_changes
from tsmon.api.auth import require_token
from tsmon.db import TRANSIENT_ERRORS
from tsmon.errors import DatabaseUnavailableError

router = APIRouter(prefix="/api/v1/analyze", dependencies=[Depends(require_token)])


class ChangesBody(BaseModel):
    """The request: ``from``/``to`` (ISO 8601) or ``event``, and an optional series selection."""

    model_config = ConfigDict(extra="forbid")

    start: datetime | None = Field(default=None, alias="from")
    end: datetime | None = Field(default=None, alias="to")
    metric: str | None = None
    labels: dict[str, str] | None = None
    event: int | None = Field(default=None, ge=1, le=2**63 - 1)
    method: str = "volume"
    alternative: str = "two-sided"
    limit: int = Field(default=10, ge=1, le=MAX_LIMIT)


def _run(request: Request, body: ChangesBody) -> dict[str, Any]:
    ask = ChangesRequest(
        body.start, body.end, body.metric, body.labels, body.event, body.method, body.limit, body.alternative
    )
    settings = request.app.state.settings
    try:
        with request.app.state.pool.connection(timeout=settings.pool_timeout_seconds) as conn:
            return run_changes(conn, ask, datetime.now(UTC), settings.retention_1m_days).to_json()
    except TRANSIENT_ERRORS as exc:
        raise DatabaseUnavailableError(f"database unavailable: {type(exc).__name__}") from exc
    except ChangesInputError as exc:
        raise HTTPException(400, str(exc)) from exc


def _parse(raw: bytes) -> ChangesBody:
    """The body, or a 400 naming the first field at fault (as the CLI names its option)."""
    try:
        return ChangesBody.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise HTTPException(400, f"{where}: {first['msg']}") from exc


_BODY_SCHEMA = {"content": {"application/json": {"schema": ChangesBody.model_json_schema()}}}


@router.post("/changes", openapi_extra={"requestBody": _BODY_SCHEMA})
async def changes(request: Request) -> dict[str, Any]:
    """Rank series by how much they changed against the baseline before the window; the run is stored."""
    body = _parse(await request.body())
    return await anyio.to_thread.run_sync(_run, request, body)
