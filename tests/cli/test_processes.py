"""`tsmon serve` as its own process: idle connections outlive senders' batching intervals."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.api.test_app import _free_port

pytestmark = pytest.mark.slow

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: tsmon\r\nConnection: keep-alive\r\n\r\n"


def _response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"}"):
        chunk = sock.recv(4096)
        if not chunk:  # the server closed the connection
            return data
        data += chunk
    return data


def test_idle_connection_is_kept_longer_than_a_sender_batches(tmp_path: Path) -> None:
    """Prometheus and Telegraf reuse a connection after 5 s idle; the server must not have closed it."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSMON_")} | {
        "TSMON_HOME": str(tmp_path),
        "TSMON_API_PORT": str(port),
        "TSMON_DATABASE_URL": f"postgresql://nobody:x@127.0.0.1:{_free_port()}/none?connect_timeout=1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tsmon", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        sock = None
        for _ in range(300):
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                time.sleep(0.05)
        assert sock is not None, "tsmon serve did not listen"
        with sock:
            sock.sendall(REQUEST)
            assert _response(sock).startswith(b"HTTP/1.1 200")
            time.sleep(7)  # longer than uvicorn's default keep-alive (5 s), shorter than the sender's
            sock.sendall(REQUEST)
            assert _response(sock).startswith(b"HTTP/1.1 200"), "the server closed the idle connection"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
