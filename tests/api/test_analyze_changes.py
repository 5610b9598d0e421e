"""POST /api/v1/analyze/changes over a socket, as the API's role: the CLI's JSON; a 400 names the field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import psycopg
import pytest

from tests.analysis.test_changes import _now, _seed
from tests.api.test_app import serve
from tsmon.settings import Settings


@pytest.fixture
def api(settings: Settings, db_url: str) -> Iterator[str]:
    yield from serve(settings, db_url)


def test_changes_answers_the_run_and_stores_it(api: str, db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        start, end, ids = _seed(conn, _now())
    for method in ("volume", "ks2"):
        answer = httpx.post(
            f"{api}/api/v1/analyze/changes",
            json={
                "from": start.isoformat(),
                "to": end.isoformat(),
                "metric": "g",
                "limit": 3,
                "method": method,
            },
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert [r["rank"] for r in body["results"]] == [1, 2, 3]
        assert all(r["metric"] == "g" and r["method"] == method for r in body["results"])
        with psycopg.connect(db_url) as conn:
            stored = conn.execute(
                "SELECT series_id FROM tsmon.analysis_changes WHERE run_id = %s ORDER BY rank",
                (body["run_id"],),
            ).fetchall()
        assert [s for (s,) in stored] == [r["series_id"] for r in body["results"]]
    assert ids["gauge"][0] in [r["series_id"] for r in body["results"]]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"metric": "nope"}, "metric"),
        ({"labels": {"i": "99"}, "metric": "g"}, "labels"),
        ({"event": 99}, "event"),
        ({"limit": 0}, "limit"),
        ({"method": "t"}, "method"),
        ({"to": "2020-01-01T00:00:00Z"}, "to"),
        ({"from": "yesterday"}, "from"),
        ({"labels": [1]}, "labels"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_400_naming_the_field(
    api: str, db_url: str, extra: dict[str, object], field: str
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("""INSERT INTO tsmon.series (metric, labels) VALUES ('g', '{"i": "0"}')""")
    now = _now()
    body = {"from": (now - timedelta(hours=1)).isoformat(), "to": now.isoformat(), **extra}
    answer = httpx.post(f"{api}/api/v1/analyze/changes", json=body, timeout=30)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"].startswith(field)


def test_too_few_points_is_400(api: str) -> None:
    now = _now()
    body = {"from": (now - timedelta(hours=1)).isoformat(), "to": now.isoformat()}
    answer = httpx.post(f"{api}/api/v1/analyze/changes", json=body, timeout=30)
    assert answer.status_code == 400 and "too few points" in answer.json()["error"]
    assert httpx.post(f"{api}/api/v1/analyze/changes", content=b"{", timeout=30).status_code == 400
