"""The Tests pages in-process: the /api twins are the CLI's JSON, search, one test's
history, 404s."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from pilothouse.store import Store
from pilothouse.web.app import create_app
from pilothouse.web.pages.tests import day_seconds, grouped_messages
from tests.conftest import FIXED_NOW, Cli
from tests.web.conftest import (
    HOSTILE_CLASS,
    HOSTILE_MESSAGE,
    HOSTILE_NAME,
    error_detail,
    web_state,
)


@pytest.fixture(scope="module")
def flaky_json(web_client_module: TestClient) -> dict:
    return web_client_module.get("/api/flaky?days=30").json()


@pytest.fixture(scope="module")
def web_client_module(demo_app) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(demo_app)


@pytest.mark.parametrize("days", ["7", "30"])
def test_the_api_twins_are_the_cli_json(
    web_client: TestClient, demo_store_url: str, tmp_path: Path, days: str
) -> None:
    cli = Cli(cwd=tmp_path, db=demo_store_url, now=FIXED_NOW)
    assert web_client.get(f"/api/tests?days={days}").json() == cli.json("tests", "--window", days)
    assert web_client.get(f"/api/flaky?days={days}").json() == cli.json("flaky", "--window", days)


def test_search_keeps_the_matching_tests(web_client: TestClient) -> None:
    everything = web_client.get("/api/tests?days=30").json()["tests"]
    found = web_client.get("/api/tests", params={"days": "30", "q": "TIMEOUTS"}).json()["tests"]
    assert 0 < len(found) < len(everything)
    assert all("timeouts" in f"{t['classname']}::{t['name']}".lower() for t in found)
    assert found == [t for t in everything if t in found]  # the CLI's order, slowest first
    html = web_client.get("/tests", params={"q": "timeouts", "days": "30"}).text
    assert f"{len(found)} tests matching" in html


def test_a_search_matching_nothing_says_so(web_client: TestClient) -> None:
    assert web_client.get("/api/tests?q=no-such-test-anywhere").json() == {"tests": []}
    html = web_client.get("/tests?q=no-such-test-anywhere").text
    assert "No test results in this window matching" in html


def test_one_test_history_matches_its_statistics(web_client: TestClient, flaky_json: dict) -> None:
    flaky = flaky_json["flaky"][0]
    data = web_client.get(f"/api/tests/{quote(flaky['test'])}?days=30").json()
    assert data["test"] == flaky["test"]
    [stats] = data["tests"]
    executed = [r for r in data["results"] if r["outcome"] != "skipped"]
    assert stats["runs"] == len(data["results"])
    assert stats["failures"] == sum(r["outcome"] in ("failed", "error") for r in executed)
    assert sum(m["count"] for m in data["messages"]) == stats["failures"]
    assert [r["created_at"] for r in data["results"]] == sorted(
        r["created_at"] for r in data["results"]
    )
    listed = web_client.get("/api/tests?days=30").json()["tests"]
    [same] = [
        t for t in listed if (t["classname"], t["name"]) == (stats["classname"], stats["name"])
    ]
    counts = ("runs", "passed", "failures", "skipped", "pass_rate", "last_outcome", "last_seen")
    assert {k: same[k] for k in counts} == {k: stats[k] for k in counts}
    # the list's median comes from the rollups' sketch (within 1 %), the page's is exact
    assert same["median_seconds"] == pytest.approx(stats["median_seconds"], rel=0.02)


def test_a_test_is_found_by_its_name_alone(web_client: TestClient, flaky_json: dict) -> None:
    flaky = flaky_json["flaky"][0]
    by_id = web_client.get(f"/api/tests/{quote(flaky['test'])}?days=30").json()
    name = by_id["tests"][0]["name"]  # the testcase's name as stored
    assert name != flaky["test"]
    by_name = web_client.get(f"/api/tests/{quote(name)}?days=30").json()
    assert by_name["results"] == by_id["results"]


@pytest.mark.parametrize("path", ["/tests/no-such-test", "/api/tests/no-such-test"])
def test_an_unknown_test_is_404(web_client: TestClient, path: str) -> None:
    response = web_client.get(path)
    assert response.status_code == 404
    assert error_detail(response) == "no test 'no-such-test' ran in the last 14 days"


def test_the_per_test_page_shows_strip_chart_and_messages(
    web_client: TestClient, flaky_json: dict
) -> None:
    flaky = flaky_json["flaky"][0]
    data = web_client.get(f"/api/tests/{quote(flaky['test'])}?days=30").json()
    html = web_client.get(f"/tests/{quote(flaky['test'])}?days=30").text
    strip = html.split('id="outcomes">', 1)[1].split("</div>", 1)[0]
    assert strip.count("<span ") == len(data["results"])
    assert strip.count('<span class="failed"') == data["tests"][0]["failures"]
    assert 'data-chart="durations"' in html
    for message in data["messages"]:
        assert f'<td class="num">{message["count"]}</td>' in html
        seen = datetime.fromisoformat(message["last_seen"]).strftime("%Y-%m-%d %H:%M")
        assert f"<td>{seen} (run {message['run']})</td>" in html  # as the CLI writes times
    first = datetime.fromisoformat(data["results"][0]["created_at"]).strftime("%Y-%m-%d %H:%M")
    assert f' · {first}"></span>' in strip


@pytest.fixture
def hostile_client(hostile_store_url: str, tmp_path: Path) -> TestClient:
    store = Store.open(hostile_store_url)
    return TestClient(create_app(web_state(hostile_store_url, tmp_path), store))


def test_hostile_text_is_escaped_in_the_html(hostile_client: TestClient) -> None:
    test = f"{HOSTILE_CLASS}::{HOSTILE_NAME}"
    listing = hostile_client.get("/tests?days=30").text
    history = hostile_client.get(f"/tests/{quote(test)}?days=30").text
    for html in (listing, history):
        assert HOSTILE_NAME not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert HOSTILE_MESSAGE not in history and "</script><script>" not in history
    data = hostile_client.get(f"/api/tests/{quote(test)}?days=30").json()
    assert data["messages"][0]["message"] == HOSTILE_MESSAGE  # the API keeps the text as is


def test_failing_now_writes_its_last_seen_as_the_cli_does(hostile_client: TestClient) -> None:
    (failing,) = [
        t for t in hostile_client.get("/api/tests?days=30").json()["tests"] if t["failures"]
    ]
    seen = datetime.fromisoformat(failing["last_seen"]).strftime("%Y-%m-%d %H:%M")
    html = hostile_client.get("/tests?days=30").text
    table = html.split('<table id="failing">', 1)[1].split("</table>", 1)[0]
    assert f"<td>{seen}</td></tr>" in table and failing["last_seen"] not in table


def test_grouped_messages_fold_numbers() -> None:
    from datetime import UTC, datetime

    from pilothouse.model import TestResultRow

    def result(message: str, outcome: str = "failed") -> TestResultRow:
        at = datetime(2026, 11, 1, tzinfo=UTC)
        return TestResultRow("", "1", 1, None, None, at, outcome, 1.0, message)

    groups = grouped_messages(
        [result("timed out after 5021 ms"), result("timed out after 17 ms"), result("boom"),
         result("fine", "passed")]
    )  # fmt: skip
    assert [(g["key"], g["count"]) for g in groups] == [("timed out after N ms", 2), ("boom", 1)]
    assert groups[0]["message"] == "timed out after 17 ms"  # the latest example


def test_day_seconds() -> None:
    assert day_seconds("1970-01-02") == 86_400
