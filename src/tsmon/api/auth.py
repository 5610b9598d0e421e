"""Token check for write endpoints: `Authorization: Token|Bearer <t>`, Basic (token as password), and
`?p=` on the InfluxDB 1.x routes only (where 1.x clients put credentials)."""

from __future__ import annotations

import base64
import binascii
import hmac

from fastapi import HTTPException, Request

# InfluxDB 1.x's query-string credentials (?u=&p=): only its own routes take them, so a token in
# a URL (proxy and access logs) is never accepted where clients have a header to put it in.
V1_ROUTES = frozenset({"/write", "/query"})


def presented_token(request: Request) -> str | None:
    """The credential the request presents, or None; an empty credential is None (never a match)."""
    token = _presented(request)
    return token if token else None


def _presented(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    scheme = scheme.lower()
    if scheme in {"token", "bearer"}:
        return credentials.strip()
    if scheme == "basic":  # Telegraf's v1 output and Prometheus basic_auth send user:password
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2]
    if request.url.path in V1_ROUTES:
        return request.query_params.get("p")
    return None


def require_token(request: Request) -> None:
    """FastAPI dependency: 401 unless the configured token is presented (no token configured: open)."""
    expected = request.app.state.settings.api_token
    if expected is None:
        return
    token = presented_token(request)
    if token is None or not hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
        raise HTTPException(
            status_code=401, detail="missing or wrong token", headers={"WWW-Authenticate": "Token"}
        )
