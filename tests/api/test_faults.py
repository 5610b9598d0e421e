"""Faults cost nothing: a retrying sender through an API killed with SIGKILL and a database outage
stores exactly the samples it sent, once each."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.api.proxy import CuttableProxy
from tests.api.test_app import _free_port

pytestmark = pytest.mark.slow
BATCHES, SERIES = 30, 40


def _serve(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tsmon", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )


def test_a_retrying_sender_through_sigkill_and_an_outage_stores_exactly_what_it_sent(
    db_url: str, tmp_path: Path
) -> None:
    params = conninfo_to_dict(db_url)
    proxy = CuttableProxy(str(params.get("host", "127.0.0.1")), int(str(params.get("port", 5432))))
    via_proxy = make_conninfo(**{**params, "host": "127.0.0.1", "port": str(proxy.port)})  # type: ignore[arg-type]
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSMON_")} | {
        "TSMON_HOME": str(tmp_path),
        "TSMON_API_PORT": str(port),
        "TSMON_DATABASE_URL": via_proxy,
        "TSMON_POOL_TIMEOUT_SECONDS": "1",
    }
    api = _serve(env)
    now_s = int(time.time()) - 3600
    outcomes: dict[str, int] = {}
    try:
        for batch in range(BATCHES):
            if batch == 8:
                api.send_signal(signal.SIGKILL)  # mid-stream, no shutdown
                api.wait()
                api = _serve(env)
            if batch == 16:
                proxy.cut()  # the database goes away for a dozen sends
            body = "".join(
                f"fault,s=s{i} v={batch * 1000 + i} {now_s + batch}000000000\n" for i in range(SERIES)
            )
            for attempt in range(600):  # a sender's retry loop: resend the same batch until it is stored
                if batch == 16 and attempt == 12:
                    proxy.restore()
                try:
                    r = httpx.post(f"http://127.0.0.1:{port}/api/v2/write", content=body, timeout=10)
                except httpx.TransportError:
                    outcomes["connection error"] = outcomes.get("connection error", 0) + 1
                    time.sleep(0.1)
                    continue
                outcomes[str(r.status_code)] = outcomes.get(str(r.status_code), 0) + 1
                if r.status_code == 204:
                    break
                assert r.status_code == 503 and r.headers["Retry-After"].isdigit(), r.text
                time.sleep(0.1)
            else:
                pytest.fail(f"batch {batch} was never stored: {outcomes}")
    finally:
        api.terminate()
        api.wait(timeout=20)
        proxy.close()
    assert outcomes.get("connection error") and outcomes.get("503"), outcomes  # both faults were hit
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT count(*), count(DISTINCT (series_id, time)), sum(value) FROM tsmon.metric_samples "
            "WHERE metric = 'fault_v'"
        ).fetchone()
    expected = sum(b * 1000 + i for b in range(BATCHES) for i in range(SERIES))
    assert rows == (BATCHES * SERIES, BATCHES * SERIES, expected), (rows, outcomes)
