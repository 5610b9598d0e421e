"""POST /api/v1/analyze/<name>: the analyses over HTTP, with the same JSON as `tsmon analyze ... --json`."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response

from tsmon.analysis.runner import run
from tsmon.analysis.selection import AnalysisInputError
from tsmon.api.auth import require_token
from tsmon.db import TRANSIENT_ERRORS
from tsmon.errors import DatabaseUnavailableError
from tsmon.windows.retention import RetentionSettings

router = APIRouter(prefix="/api/v1/analyze", dependencies=[Depends(require_token)])
READER = "tsmon_reader"  # analyses read what Grafana reads, inside a read-only transaction
_BODY = Body(default_factory=dict, description="The analysis' parameters, as `tsmon analyze <name>` options")


def _analyze(request: Request, name: str, params: dict[str, Any]) -> Response:
    settings = request.app.state.settings
    try:
        with request.app.state.pool.connection(timeout=settings.pool_timeout_seconds) as conn:
            out = run(conn, name, params, RetentionSettings.from_settings(settings), role=READER)
    except AnalysisInputError as exc:
        raise HTTPException(400, str(exc)) from exc
    except TRANSIENT_ERRORS as exc:
        raise DatabaseUnavailableError(f"database unavailable: {type(exc).__name__}") from exc
    return Response(orjson.dumps(out), media_type="application/json")


@router.post("/compare")
def compare(request: Request, params: dict[str, Any] = _BODY) -> Response:
    """Each series over ``from``/``to`` against a baseline (``baseline_from``/``baseline_to``, ``shift``)."""
    return _analyze(request, "compare", params)


@router.post("/describe")
def describe(request: Request, params: dict[str, Any] = _BODY) -> Response:
    """Each series over ``from``/``to``: count, mean, stddev, min, max, p50/p90/p99."""
    return _analyze(request, "describe", params)


@router.post("/groups")
def groups(request: Request, params: dict[str, Any] = _BODY) -> Response:
    """ANOVA, Kruskal-Wallis and Tukey HSD across the values of label ``by``."""
    return _analyze(request, "groups", params)


@router.post("/correlate")
def correlate(request: Request, params: dict[str, Any] = _BODY) -> Response:
    """Two series (``metric``/``labels`` and ``metric_y``/``labels_y``) on aligned windows."""
    return _analyze(request, "correlate", params)


@router.post("/explain")
def explain(request: Request, params: dict[str, Any] = _BODY) -> Response:
    """Each value of the ``by`` labels' contribution to the change of the metric's mean or sum."""
    return _analyze(request, "explain", params)
