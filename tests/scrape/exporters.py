"""A /metrics endpoint on a real loopback socket that answers what a test sets and records each request."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TEXT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


@dataclass
class Request:
    path: str  # with the query string
    headers: dict[str, str]


@dataclass
class FakeExporter:
    address: str = ""
    body: str = ""
    content_type: str = TEXT
    status: int = 200
    requests: list[Request] = field(default_factory=list)


@contextmanager
def fake_exporter(body: str = "", content_type: str = TEXT) -> Iterator[FakeExporter]:
    state = FakeExporter(body=body, content_type=content_type)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}))
            data = state.body.encode()
            self.send_response(state.status)
            self.send_header("Content-Type", state.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.address = f"127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
