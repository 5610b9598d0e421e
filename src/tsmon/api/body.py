"""Request bodies within the size cap, measured after decompression (gzip here; snappy in its decoder)."""

from __future__ import annotations

import zlib

from fastapi import Request

from tsmon.errors import BodyTooLargeError, TsmonError


class UnsupportedEncodingError(TsmonError):
    """A Content-Encoding the endpoint does not take (answered 415)."""


class BadBodyError(TsmonError):
    """The body cannot be decoded at all, e.g. broken gzip (answered 400)."""


async def read_raw(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(f"body of {declared} bytes is over the {limit}-byte limit")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(f"body is over the {limit}-byte limit")
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
    return gunzip(raw, limit) if encoding == "gzip" else raw
