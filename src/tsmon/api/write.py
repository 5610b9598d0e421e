"""Write endpoints: InfluxDB line protocol (v1, v2), Prometheus remote write 1.0, JSON/CSV import."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import anyio
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from tsmon.api.auth import require_token
from tsmon.api.body import BadBodyError, read_body
from tsmon.api.errors import error_response
from tsmon.ingest.batch import ParseResult, Rejection
from tsmon.ingest.csv_format import iter_csv_text
from tsmon.ingest.json_format import iter_json
from tsmon.ingest.line_protocol import iter_line_protocol
from tsmon.ingest.remote_write import RemoteWriteError, iter_remote_write
from tsmon.ingest.service import IngestOutcome, IngestService

router = APIRouter(dependencies=[Depends(require_token)])

MAX_LISTED = 100
MAX_ITEM_CHARS = 300
V1_PRECISIONS = {"n", "ns", "u", "us", "ms", "s", "m", "h"}
V2_PRECISIONS = {"ns", "us", "ms", "s"}
REMOTE_WRITE_2 = "io.prometheus.write.v2.request"


def shown(rejection: Rejection) -> str:
    """One rejection as echoed to the sender, at most MAX_ITEM_CHARS (a 30 MB line is not echoed back)."""
    text = str(rejection)
    if len(text) <= MAX_ITEM_CHARS:
        return text
    return f"{text[:MAX_ITEM_CHARS]}... ({len(text)} characters)"


def summary(outcome: IngestOutcome) -> str:
    shown_ = "; ".join(shown(r) for r in outcome.rejections[:MAX_LISTED])
    more = len(outcome.rejections) - MAX_LISTED
    tail = f"; and {more} more" if more > 0 else ""
    return f"partial write: {outcome.accepted} samples stored, {outcome.rejected} rejected: {shown_}{tail}"


async def _ingest(
    request: Request, parse: Callable[[], Iterable[ParseResult]], protocol: str
) -> IngestOutcome:
    service: IngestService = request.app.state.ingest
    # Parsing and the database write are blocking work: keep them off the event loop. A body is
    # parsed and written a part at a time, so its parsed form is never all in memory at once.
    return await anyio.to_thread.run_sync(lambda: service.ingest_parts(parse(), protocol))


def _limit(request: Request) -> int:
    return int(request.app.state.settings.limit_body_bytes)


def _first_line(outcome: IngestOutcome) -> int | None:
    for r in outcome.rejections:
        if r.where.startswith("line ") and r.where[5:].isdigit():
            return int(r.where[5:])
    return None


@router.post("/api/v2/write")
async def write_v2(request: Request, precision: str = "ns", org: str = "", bucket: str = "") -> Response:
    """InfluxDB 2.x write API (Telegraf outputs.influxdb_v2)."""
    if precision not in V2_PRECISIONS:
        return error_response(request, 400, f"precision {precision!r} is not one of {sorted(V2_PRECISIONS)}")
    body = await read_body(request, _limit(request))
    outcome = await _ingest(request, lambda: iter_line_protocol(body, precision), "influx")
    if outcome.rejected:
        line = _first_line(outcome)
        return error_response(request, 400, summary(outcome), extra={"line": line} if line else None)
    return Response(status_code=204)


@router.post("/write")
async def write_v1(request: Request, precision: str = "ns", db: str = "") -> Response:
    """InfluxDB 1.x write API (Telegraf outputs.influxdb)."""
    if precision not in V1_PRECISIONS:
        return error_response(request, 400, f"precision {precision!r} is not one of {sorted(V1_PRECISIONS)}")
    body = await read_body(request, _limit(request))
    outcome = await _ingest(request, lambda: iter_line_protocol(body, precision), "influx")
    if outcome.rejected:
        return error_response(request, 400, summary(outcome))
    return Response(status_code=204)


@router.post("/query")
async def query_v1() -> JSONResponse:
    """Telegraf's v1 output sends CREATE DATABASE here on start; databases are not a tsmon concept."""
    return JSONResponse({"results": [{"statement_id": 0}]})


@router.post("/api/v1/write")
async def remote_write(request: Request) -> Response:
    """Prometheus remote write 1.0: snappy block-compressed protobuf WriteRequest."""
    content_type = request.headers.get("content-type", "").lower()
    if REMOTE_WRITE_2 in content_type.replace(" ", ""):
        # A 2.0 body decodes as an empty 1.0 request: accepting it would silently lose data.
        return error_response(request, 415, "remote write 2.0 is not supported yet; send 1.0")
    raw = await read_body(request, _limit(request), allowed=frozenset({"snappy"}))
    limit, label_sets = _limit(request), request.app.state.label_sets
    try:
        outcome = await _ingest(request, lambda: iter_remote_write(raw, limit, label_sets), "prometheus")
    except RemoteWriteError as exc:
        return error_response(request, 400, str(exc))
    if outcome.rejected:
        return error_response(request, 400, summary(outcome))
    return Response(status_code=204)


@router.post("/api/v1/import")
async def import_samples(request: Request) -> JSONResponse:
    """JSON (`[{metric, labels, points: [[ts, value]]}]` or JSON lines) or CSV (Content-Type text/csv)."""
    content_type = request.headers.get("content-type", "application/json").lower()
    body = await read_body(request, _limit(request))
    try:
        text = body.decode()
    except UnicodeDecodeError as exc:
        raise BadBodyError(f"body is not UTF-8 (byte {exc.start})") from exc
    if "csv" in content_type:
        outcome = await _ingest(request, lambda: iter_csv_text(text), "csv")
    else:
        outcome = await _ingest(request, lambda: iter_json(text), "json")
    listed = [shown(r) for r in outcome.rejections[:MAX_LISTED]]
    payload = {"accepted": outcome.accepted, "rejected": outcome.rejected, "errors": listed}
    return JSONResponse(payload, status_code=400 if outcome.rejected else 200)
