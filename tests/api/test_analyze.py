"""POST /api/v1/analyze/<name> over a real socket: the CLI's JSON, 400 naming the argument, read-only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.analysis.test_compare import A, B, seed_three
from tests.api.test_app import api_without_db, serve  # noqa: F401 (fixture)
from tsmon.settings import Settings


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[str]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        seed_three(conn)
    yield from serve(Settings(home=tmp_path), db_url)


BODY = {
    "metric": "latency",
    "from": B.start.isoformat(),
    "to": B.stop.isoformat(),
    "baseline_from": A.start.isoformat(),
    "baseline_to": A.stop.isoformat(),
}


def test_compare_answers_the_cli_json(api: str) -> None:
    r = httpx.post(f"{api}/api/v1/analyze/compare", json=BODY, timeout=30)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["analysis"] == "compare" and out["series"] == 3 and out["flagged"] == 1
    assert out["results"][0]["labels"]["host"] == "web1"
    assert {"welch_t", "p_naive", "p_effective", "q_effective", "ks_p", "mwu_p", "cohens_d"} <= set(
        out["results"][0]
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"metric": "nope"}, "metric: no metric named 'nope'"),
        ({"labels": {"host": 3}}, "labels: must be a JSON object of strings"),
        ({"from": "later"}, "from: 'later' is not an ISO 8601 time"),
        ({"to": BODY["from"]}, "from: empty range"),
        ({"alpha": "high"}, "alpha: 'high' is not a number"),
        ({"alternative": "up"}, "alternative: must be one of"),
        ({"colour": "red"}, "colour: unknown parameter"),
        ({"shift": "1d"}, "shift: give either shift or baseline"),
    ],
)
def test_bad_input_is_400_naming_the_argument(api: str, change: dict[str, object], message: str) -> None:
    r = httpx.post(f"{api}/api/v1/analyze/compare", json={**BODY, **change}, timeout=30)
    assert r.status_code == 400, r.text
    assert message in r.json()["error"]


def test_not_an_object_is_422(api: str) -> None:
    r = httpx.post(f"{api}/api/v1/analyze/compare", json=[1, 2], timeout=30)
    assert r.status_code == 422


@pytest.mark.parametrize(
    ("name", "extra", "key"),
    [
        ("describe", {}, "results"),
        ("groups", {"by": "host"}, "tukey"),
        ("correlate", {"labels": {"host": "web0"}, "labels_y": {"host": "web1"}, "max_lag": 2}, "regression"),
        ("explain", {"by": "host,dc", "shift": "3h"}, "results"),
    ],
)
def test_each_analysis_over_http(api: str, name: str, extra: dict[str, object], key: str) -> None:
    body = {"metric": "latency", "from": BODY["from"], "to": BODY["to"], **extra}
    r = httpx.post(f"{api}/api/v1/analyze/{name}", json=body, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["analysis"] == name and key in r.json()
    bad = httpx.post(f"{api}/api/v1/analyze/{name}", json={**body, "metric": ""}, timeout=30)
    assert bad.status_code == 400 and bad.json()["error"].startswith("metric: ")


def test_database_down_is_503(api_without_db: str) -> None:  # noqa: F811 (the fixture)
    r = httpx.post(f"{api_without_db}/api/v1/analyze/compare", json=BODY, timeout=30)
    assert r.status_code == 503 and "Retry-After" in r.headers
