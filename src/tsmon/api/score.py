"""POST /api/v1/score: per-point scores, expected values and bands from a series' active model."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import anyio
import numpy as np
import orjson
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError

from tsmon.api.auth import require_token
from tsmon.db import TRANSIENT_ERRORS
from tsmon.errors import DatabaseUnavailableError
from tsmon.ingest.batch import EPOCH_UNIT_LIMITS, datetime_to_us, guess_epoch_to_us
from tsmon.scoring.realtime import (
    AmbiguousConfigError,
    InvalidPointsError,
    NoModelError,
    load_active_model,
    score_points,
)

router = APIRouter(dependencies=[Depends(require_token)])
MAX_POINTS = 100_000
LATEST_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z: the last time datetime (and ISO 8601) holds


class ScoreRequest(BaseModel):
    series_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    metric: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    config: str | None = Field(default=None, description="Detection config name; needed when several apply.")
    points: list[tuple[float | str, float]] = Field(description="[[timestamp, value], ...] in time order")


def _seconds(i: int, ts: float | str) -> float:
    try:
        if isinstance(ts, str):
            return datetime_to_us(datetime.fromisoformat(ts.replace("Z", "+00:00"))) / 1e6
        return guess_epoch_to_us(ts) / 1e6
    except (ValueError, OverflowError) as exc:
        raise HTTPException(400, f"points[{i}][0]: {ts!r} is not an ISO 8601 time or epoch number") from exc


def _storable_text(body: ScoreRequest) -> None:
    """A 400 naming the field for text PostgreSQL cannot hold (NUL, lone surrogates): never a 500."""
    fields = [("metric", body.metric), ("config", body.config)]
    for key, value in body.labels.items():
        fields += [(f"labels: label name {key!r}", key), (f"labels[{key!r}]", value)]
    for where, text in fields:
        if text is None:
            continue
        if "\x00" in text:
            raise HTTPException(400, f"{where}: contains NUL (\\u0000), which PostgreSQL text cannot hold")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise HTTPException(400, f"{where}: contains a lone surrogate, which is not UTF-8") from exc


def _load_and_score(request: Request, body: ScoreRequest) -> dict[str, Any]:
    try:
        with request.app.state.pool.connection(timeout=2.0) as conn:
            model = load_active_model(
                conn,
                request.app.state.detectors,
                series_id=body.series_id,
                metric=body.metric,
                labels=body.labels,
                config=body.config,
            )
    except TRANSIENT_ERRORS as exc:
        raise DatabaseUnavailableError(f"database unavailable: {type(exc).__name__}") from exc
    except NoModelError as exc:
        raise HTTPException(404, str(exc)) from exc
    except AmbiguousConfigError as exc:
        raise HTTPException(400, str(exc)) from exc
    values = np.array([v for _, v in body.points], dtype=np.float64)
    try:
        return score_points(model, _times(body.points), values)
    except InvalidPointsError as exc:
        raise HTTPException(400, str(exc)) from exc


def _times(points: list[tuple[float | str, float]]) -> np.ndarray:
    """Epoch seconds of each point: ISO strings, or numbers in s, ms, µs or ns (by magnitude)."""
    if any(isinstance(t, str) for t, _ in points):
        seconds = np.array([_seconds(i, t) for i, (t, _) in enumerate(points)], dtype=np.float64)
    else:
        raw = np.array([t for t, _ in points], dtype=np.float64)
        magnitude = np.abs(raw)
        # guess_epoch_to_us's rule, vectorised.
        scale = np.select([magnitude < limit for limit in EPOCH_UNIT_LIMITS], [1.0, 1e-3, 1e-6], 1e-9)
        seconds = np.asarray(raw * scale, dtype=np.float64)
    bad = np.flatnonzero(~(np.abs(seconds) <= LATEST_SECONDS))  # NaN compares false: caught too
    if bad.size:
        i = int(bad[0])
        reason = "is not a valid time (finite, before the year 10000)"
        raise HTTPException(400, f"points[{i}][0]: {points[i][0]!r} {reason}")
    return seconds


def _parse(raw: bytes) -> ScoreRequest:
    try:
        return ScoreRequest.model_validate_json(raw)
    except ValidationError as exc:  # the 422 FastAPI gives for a declared body
        raise RequestValidationError(exc.errors(include_url=False), body=raw) from exc


# The body is parsed by pydantic straight from bytes (a quarter of json.loads + validation for a
# thousand points) and the answer written by orjson (a tenth of json.dumps): together most of the
# route's time.  The schema is still published for the docs.
_BODY_SCHEMA = {
    "content": {"application/json": {"schema": ScoreRequest.model_json_schema()}},
    "required": True,
}


@router.post("/api/v1/score", openapi_extra={"requestBody": _BODY_SCHEMA})
async def score(request: Request) -> Response:
    """Score recent points of one series with its active model (nothing is stored)."""
    body = _parse(await request.body())
    if body.series_id is None and not body.metric:
        raise HTTPException(400, "name the series: series_id, or metric (+ labels)")
    if not 0 < len(body.points) <= MAX_POINTS:
        raise HTTPException(400, f"send 1 to {MAX_POINTS} points")
    _storable_text(body)
    result = await anyio.to_thread.run_sync(_load_and_score, request, body)  # one thread hop
    return Response(orjson.dumps(result), media_type="application/json")
