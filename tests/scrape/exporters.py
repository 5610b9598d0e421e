"""Targets on loopback sockets: a /metrics endpoint answering what a test sets, and a real node_exporter."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

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


NODE_EXPORTER = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")


@contextmanager
def node_exporter(*collectors: str) -> Iterator[str]:
    """A real node_exporter (Debian's prometheus-node-exporter) on a free loopback port: its address."""
    if NODE_EXPORTER is None:
        pytest.skip("node_exporter is not installed (apt-get install prometheus-node-exporter)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    flags = ["--collector.disable-defaults", *(f"--collector.{c}" for c in collectors)]
    process = subprocess.Popen(
        [NODE_EXPORTER, f"--web.listen-address={address}", *flags],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(200):  # until it answers (or has exited)
            if process.poll() is not None:
                raise RuntimeError(f"node_exporter exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                httpx.get(f"http://{address}/metrics", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield address
    finally:
        process.terminate()
        process.wait(timeout=10)
