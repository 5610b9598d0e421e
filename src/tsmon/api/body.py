"""Request bodies within the size cap, measured after decompression (gzip here; snappy in its decoder)."""

from __future__ import annotations

import zlib

from fastapi import Request

from tsmon.errors import BodyTooLargeError, TsmonError


class UnsupportedEncodingError(TsmonError):
    """A Content-Encoding the endpoint does not take (answered 415)."""


class BadBodyError(TsmonError):
    """The body cannot be decoded at all, e.g. broken gzip (answered 400)."""


class ServerBusyError(TsmonError):
    """The bytes of bodies in flight would pass TSMON_LIMIT_INFLIGHT_BYTES (answered 503 + Retry-After)."""


class InFlight:
    """Bytes of request bodies held in memory by requests in progress, across the whole process.

    Every body's bytes (raw, then decompressed) are taken from the budget as they are read and
    given back when its response is sent, so a burst of large bodies waits (503 + Retry-After: the
    senders retry) instead of taking the process's memory. Runs on the event loop: no lock.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def take(self, request: Request, n: int) -> None:
        if self.held + n > self.limit:
            raise ServerBusyError(
                f"{self.held} bytes of request bodies are in flight; {n} more would pass the "
                f"{self.limit}-byte bound (TSMON_LIMIT_INFLIGHT_BYTES): retry shortly"
            )
        self.held += n
        request.state.inflight_bytes = getattr(request.state, "inflight_bytes", 0) + n

    def give_back(self, request: Request) -> None:
        self.held -= getattr(request.state, "inflight_bytes", 0)
        request.state.inflight_bytes = 0


async def read_raw(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(f"body of {declared} bytes is over the {limit}-byte limit")
    budget: InFlight = request.app.state.inflight
    known = int(declared) if declared is not None and declared.isdigit() else 0
    budget.take(request, known)  # before reading: a body that cannot fit is not read at all
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(f"body is over the {limit}-byte limit")
        if size > known:  # chunked, or longer than declared
            budget.take(request, size - known)
            known = size
        chunks.append(chunk)
    return b"".join(chunks)


def gunzip(data: bytes, limit: int) -> bytes:
    """Decompress every gzip member (``cat a.gz b.gz``, pigz, streaming clients), never holding more
    than ``limit`` + 1 bytes: a gzip bomb stops at the cap. Bytes after a member that are not
    another member are an error, not silently dropped."""
    out = bytearray()
    rest = data
    while True:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out += d.decompress(rest, limit + 1 - len(out))
        except zlib.error as exc:
            where = f" (member starting at byte {len(data) - len(rest)})" if rest is not data else ""
            raise BadBodyError(f"body is not valid gzip{where}: {exc}") from exc
        if len(out) > limit or d.unconsumed_tail:
            raise BodyTooLargeError(f"decompressed body is over the {limit}-byte limit")
        if not d.eof:
            raise BadBodyError("gzip body is truncated")
        rest = d.unused_data
        if not rest.strip(b"\x00"):  # end of the body (some writers pad with zeros)
            return bytes(out)
        if rest[:2] != b"\x1f\x8b":
            offset = len(data) - len(rest)
            raise BadBodyError(f"{len(rest)} bytes after the gzip data at byte {offset} are not gzip")


async def read_body(request: Request, limit: int, allowed: frozenset[str] = frozenset({"gzip"})) -> bytes:
    """The body, gunzipped when Content-Encoding says gzip; other encodings must be in ``allowed``."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in allowed | {"identity", ""}:
        raise UnsupportedEncodingError(f"Content-Encoding {encoding!r} is not supported here")
    raw = await read_raw(request, limit)
    if encoding != "gzip":
        return raw
    body = gunzip(raw, limit)
    request.app.state.inflight.take(request, len(body))
    return body
