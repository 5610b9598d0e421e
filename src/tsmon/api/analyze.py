"""POST /api/v1/analyze/<name>: the analyses over HTTP, with the same JSON as `tsmon analyze ... --json`."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from tsmon.api.auth import require_token

router = APIRouter(prefix="/api/v1/analyze", dependencies=[Depends(require_token)])
