"""The app in-process: every route on the demo store, the token, 404s, bad windows."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pilothouse.store import Store
from pilothouse.web.app import create_app, get_paths
from pilothouse.web.auth import authorized
from tests.conftest import FIXED_NOW, Cli
from tests.web.conftest import error_detail, web_state


def get_routes(app: FastAPI) -> list[str]:
    """Every GET route without path parameters (pages with them have their own tests)."""
    return [path for path in get_paths(app) if "{" not in path]


def filled(path: str, client: TestClient) -> str:
    """*path* with its parameters set to things the demo store holds."""
    first = client.get("/api/tests").json()["tests"][0]
    run = client.get("/api/pipelines").json()["runs"][0]
    path = path.replace("{run_id}", quote(str(run["id"])))
    return path.replace("{test}", quote(f"{first['classname']}::{first['name']}"))


def test_every_route_answers_on_the_demo_store(web_client: TestClient, demo_app: FastAPI) -> None:
    routes = get_paths(demo_app)
    assert {"/", "/api/overview", "/tests", "/api/tests", "/tests/{test}"} <= set(routes)
    for path in (filled(p, web_client) for p in routes):
        assert "{" not in path, path
        response = web_client.get(path)
        assert response.status_code == 200, (path, response.text[:300])
        if path.startswith("/api/"):
            assert response.headers["content-type"] == "application/json"
            assert isinstance(response.json(), dict)
        elif path == "/metrics":
            assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        else:
            assert response.headers["content-type"].startswith("text/html")
            assert "<nav>" in response.text


def test_the_overview_api_is_score_json(
    web_client: TestClient, demo_store_url: str, tmp_path: Path
) -> None:
    cli = Cli(cwd=tmp_path, db=demo_store_url, now=FIXED_NOW)
    for days in ("7", "30"):
        expected = cli.json("score", "--window", days)
        assert web_client.get(f"/api/overview?days={days}").json() == expected


def test_the_overview_shows_every_criterion_as_a_tile(web_client: TestClient) -> None:
    score = web_client.get("/api/overview").json()
    html = web_client.get("/").text
    for item in score["criteria"]:
        assert f'id="criterion-{item["id"]}"' in html
        assert f'data-chart="trend-{item["id"]}"' in html
    assert html.count('class="tile ') == len(score["criteria"])


def test_the_default_window_is_the_configured_one(web_client: TestClient) -> None:
    assert web_client.get("/api/overview").json()["window_days"] == 14
    html = web_client.get("/?days=90").text
    assert 'href="/?days=90" class="current"' in html


@pytest.mark.parametrize("days", ["abc", "5", "-7", "30.0", "1" * 40])
def test_a_bad_window_is_a_clear_422(web_client: TestClient, days: str) -> None:
    for path in ("/", "/api/overview"):
        response = web_client.get(path, params={"days": days})
        assert response.status_code == 422
        detail = error_detail(response)
        assert detail.startswith("days must be one of 7, 14, 30, 90, 365")


def test_unknown_paths_are_404(web_client: TestClient) -> None:
    for path in ("/nope", "/api/nope", "/static/nope.js"):
        assert web_client.get(path).status_code == 404


def test_static_files_are_served_not_fetched_from_a_cdn(web_client: TestClient) -> None:
    html = web_client.get("/").text
    assert "https://" not in html and "http://" not in html
    for asset in (
        "/static/vendor/uplot/uPlot.iife.min.js",
        "/static/charts.js",
        "/static/style.css",
        "/static/vendor/uplot/uPlot.min.css",
    ):
        response = web_client.get(asset)
        assert response.status_code == 200 and response.content


@pytest.fixture
def token_client(demo_store_url: str, demo_store: Store, tmp_path: Path) -> TestClient:
    state = web_state(demo_store_url, tmp_path, PILOTHOUSE_SERVE_TOKEN="s3cret-token")
    return TestClient(create_app(state, demo_store))


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong", "Bearer s3cret-tokenX", "Bearer ", "Basic s3cret-token", "s3cret-token"],
)
def test_a_token_guards_every_route(token_client: TestClient, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    for path in get_routes(token_client.app) + ["/nope"]:  # type: ignore[arg-type]
        response = token_client.get(path, headers=headers)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "s3cret" not in response.text


def test_the_right_token_opens_every_route(token_client: TestClient) -> None:
    headers = {"Authorization": "Bearer s3cret-token"}
    for path in get_routes(token_client.app):  # type: ignore[arg-type]
        assert token_client.get(path, headers=headers).status_code == 200, path
    assert (
        token_client.get(
            "/api/overview", headers={"Authorization": "bearer s3cret-token"}
        ).status_code
        == 200
    )


def test_static_files_need_no_token(token_client: TestClient) -> None:
    assert token_client.get("/static/charts.js").status_code == 200


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        (b"Bearer t", True),
        (b"bearer t", True),
        (b"Bearer t ", True),
        (b"Bearer u", False),
        (None, False),
        (b"", False),
        (b"Token t", False),
        (b"Bearer", False),
    ],
)
def test_authorized(header: bytes | None, ok: bool) -> None:
    assert authorized(header, "t") is ok


def test_json_is_written_like_the_cli(web_client: TestClient) -> None:
    body = web_client.get("/api/overview").content.decode()
    assert json.loads(body)["criteria"]


def test_metrics_route_is_the_collector_and_parses_back(
    web_client: TestClient, demo_state: object, demo_store: Store
) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from pilothouse.web.metrics import metrics_payload

    response = web_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert {"pilothouse_target_met", "pilothouse_test_pass_ratio"} <= set(families)
    met = {s.labels["criterion"]: s.value for s in families["pilothouse_target_met"].samples}
    score = web_client.get("/api/overview").json()
    judged = {c["id"]: c["status"] == "met" for c in score["criteria"] if c["status"] != "no-data"}
    assert judged and {name: met[name] == 1 for name in judged} == judged
    body, _ = metrics_payload(demo_state, demo_store)  # type: ignore[arg-type]
    assert body.decode() == response.text  # the route serves the collector, nothing else


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        ("/?days=3", 422, "days must be one of 7, 14, 30, 90, 365 (got '3')"),
        ("/runs/nope", 404, "no run 'nope' in the store"),
        ("/nope", 404, "Not Found"),
        (f"/tests?q={'x' * 201}", 422, "q: String should have at most 200 characters"),
        ("/tests/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E", 404, "no test '<img src=x"),
    ],
)
def test_a_page_error_is_a_page_and_an_api_error_json(
    web_client: TestClient, path: str, status: int, detail: str
) -> None:
    page = web_client.get(path)
    assert page.status_code == status and page.headers["content-type"].startswith("text/html")
    assert error_detail(page).startswith(detail)
    assert "<nav>" in page.text and "<img" not in page.text  # the site's frame, text escaped
    api = web_client.get(f"/api{path}" if path != "/?days=3" else "/api/overview?days=3")
    assert api.status_code == status and api.headers["content-type"] == "application/json"
    assert api.json()["detail"].startswith(detail)


@pytest.mark.parametrize(("count", "text"), [(0, "0 runs"), (1, "1 run"), (2, "2 runs")])
def test_counts_name_their_noun_in_the_singular_only_for_one(count: int, text: str) -> None:
    from pilothouse.web.app import templates

    assert templates().from_string('{{ n|counted("run") }}').render(n=count) == text
