"""POST /api/v1/score over a real socket: scores from the model the scheduled job trained."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.api.test_app import serve
from tests.scoring.test_job import NOW, SPIKE, run_all
from tests.scoring.test_job import conn as scoring_conn  # noqa: F401 - fixture
from tsmon.settings import Settings

Conn = psycopg.Connection[tuple[object, ...]]


@pytest.fixture
def api(scoring_conn: Conn, db_url: str, tmp_path: Path) -> Iterator[str]:  # noqa: F811
    run_all(scoring_conn, "w1", NOW)  # trains the models
    yield from serve(Settings(home=tmp_path), db_url)


def test_scores_points_with_the_active_model(api: str) -> None:
    start = (SPIKE - timedelta(minutes=10)).timestamp()
    points = [[start + 60 * i, 50.0] for i in range(30)]
    points[10][1] = 500.0  # a spike
    r = httpx.post(
        f"{api}/api/v1/score", json={"metric": "demo_load", "labels": {"host": "web1"}, "points": points}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["config"] == "load" and body["model_version"] == 1 and body["detector"] == "mad"
    flagged = [i for i, p in enumerate(body["scores"]) if p["is_anomaly"]]
    assert flagged == [10]
    assert all(p["lower"] <= p["expected"] <= p["upper"] for p in body["scores"])


def test_errors_say_what(api: str) -> None:
    assert httpx.post(f"{api}/api/v1/score", json={"points": [[1, 1]]}).status_code == 400
    missing = httpx.post(f"{api}/api/v1/score", json={"metric": "nope", "points": [[1, 1.0]]})
    assert missing.status_code == 404 and "no trained model" in missing.text
    unordered = httpx.post(f"{api}/api/v1/score", json={"series_id": 1, "points": [[2, 1.0], [1, 1.0]]})
    assert unordered.status_code in {400, 404}


def test_malformed_bodies_get_422_naming_the_field(api: str) -> None:
    broken = httpx.post(
        f"{api}/api/v1/score", content=b'{"points": [[1, ', headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422 and broken.json()["detail"][0]["type"] == "json_invalid"
    wrong = httpx.post(f"{api}/api/v1/score", json={"series_id": 1, "points": [[1, "high"]]})
    assert wrong.status_code == 422
    assert [e["loc"] for e in wrong.json()["detail"]] == [["points", 0, 1]]
    # Parsed from bytes by hand, the body is still documented.
    spec = httpx.get(f"{api}/openapi.json").json()["paths"]["/api/v1/score"]["post"]
    assert "points" in spec["requestBody"]["content"]["application/json"]["schema"]["properties"]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"metric": "0", "labels": {"\x00": ""}}, "label name"),  # a 500 before: found by the long fuzz run
        ({"metric": "demo_load", "labels": {"host": "a\x00b"}}, "labels['host']"),
        ({"metric": "demo\x00load"}, "metric"),
        ({"metric": "demo_load", "config": "\x00"}, "config"),
    ],
)
def test_text_postgresql_cannot_hold_is_a_400_naming_the_field(
    api: str, body: dict[str, object], where: str
) -> None:
    r = httpx.post(f"{api}/api/v1/score", json={**body, "points": [[0, 0.0]]})
    assert r.status_code == 400, r.text
    assert where in r.json()["error"] and "NUL" in r.json()["error"]


def test_a_lone_surrogate_is_a_400(api: str) -> None:
    raw = b'{"metric": "m\\ud800", "points": [[0, 0.0]]}'
    r = httpx.post(f"{api}/api/v1/score", content=raw, headers={"content-type": "application/json"})
    assert r.status_code in {400, 422}, r.text
