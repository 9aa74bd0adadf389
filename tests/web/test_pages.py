"""The Pipelines, run, Costs, Build and Infrastructure pages in-process: each /api twin
is the CLI's --json from the same function, bad query values are a clear 422, an empty
store names the command that fills it, hostile names render as text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pilothouse.cli.output import json_text
from pilothouse.store import Store
from pilothouse.web.app import create_app
from pilothouse.web.pages.infra import infra_data
from pilothouse.web.pages.pipelines import RECENT_RUNS, pipelines_data
from tests.conftest import FIXED_NOW, JUNIT, Cli
from tests.web.conftest import error_detail, web_state

PAGES = ("/pipelines", "/costs", "/build", "/infra")
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def demo_cli(demo_store_url: str, tmp_path: Path) -> Cli:
    return Cli(cwd=tmp_path, db=demo_store_url, now=FIXED_NOW)


def as_json(data: object) -> object:
    """*data* as the API writes it (datetimes as ISO 8601)."""
    return json.loads(json_text(data, indent=None))


@pytest.mark.parametrize("days", ["7", "30"])
def test_the_costs_api_is_cost_json_and_cost_alerts_json(
    web_client: TestClient, demo_cli: Cli, days: str
) -> None:
    for by in ("service", "workflow", "model"):
        data = web_client.get("/api/costs", params={"days": days, "by": by}).json()
        assert data["cost"] == demo_cli.json("cost", "--days", days, "--by", by)
        assert data["cost"]["currencies"]["USD"]["daily"], "the demo store has spend"
    assert data["alerts"] == demo_cli.json("cost", "alerts")
    assert [b["name"] for b in data["budgets"]] == ["daily", "monthly"]


@pytest.mark.parametrize("days", ["7", "90"])
def test_the_build_api_is_cache_crates_and_artifacts_json(
    web_client: TestClient, demo_cli: Cli, days: str
) -> None:
    data = web_client.get("/api/build", params={"days": days}).json()
    assert data["cache"] == demo_cli.json("cache", "--window", days)
    assert data["crates"] == demo_cli.json("crates", "--window", days)
    assert data["artifacts"] == demo_cli.json("artifacts", "--window", days)
    assert data["stored"] == {"cache": True, "crates": True, "artifacts": True}
    assert data["cache"]["caches"] and data["crates"]["crates"] and data["artifacts"]["workflows"]


@pytest.mark.parametrize("days", ["7", "30"])
def test_the_pipelines_api_lists_the_runs_as_runs_json(
    web_client: TestClient, demo_cli: Cli, demo_store: Store, days: str
) -> None:
    data = web_client.get("/api/pipelines", params={"days": days}).json()
    expected = demo_cli.json("runs", "--window", days, "--limit", str(RECENT_RUNS))
    assert data["runs"] == expected["runs"]
    state = web_state(demo_cli.db, demo_cli.cwd)
    assert data == as_json(pipelines_data(demo_store, state, window_days=int(days)))


def test_the_pipelines_numbers_match_the_runs_the_cli_lists(
    web_client: TestClient, demo_cli: Cli
) -> None:
    """Runs, attempts and job percentiles per workflow, recomputed from `runs --json`."""
    from pilothouse.analysis.test_stats import percentile

    data = web_client.get("/api/pipelines", params={"days": "30"}).json()
    runs = demo_cli.json("runs", "--window", "30")["runs"]
    for row in data["workflows"]:
        mine = [r for r in runs if r["workflow"] == row["workflow"]]
        assert row["runs"] == len(mine) > 0
        assert row["attempts"] == sum(len(r["attempts"]) for r in mine)
        ok = [r for r in mine if r["conclusion"] not in ("cancelled", "skipped")]
        assert row["success_rate"] == round(
            sum(r["conclusion"] == "success" for r in ok) / len(ok), 4
        )
    for slow in data["slowest_jobs"]:
        durations = [
            j["duration_seconds"]
            for r in runs
            if r["workflow"] == slow["workflow"]
            for j in r["jobs"]
            if j["name"] == slow["job"]
        ]
        assert slow["count"] == len(durations)
        assert slow["p50_seconds"] == pytest.approx(percentile(durations, 50), abs=0.06)
    days = data["daily"]["days"]
    assert len(days) == 31 and days[-1] == FIXED_NOW.date().isoformat()
    assert all(len(v["p50"]) == 31 for v in data["daily"]["workflows"].values())


def test_the_run_api_is_that_run_of_runs_json(web_client: TestClient, demo_cli: Cli) -> None:
    runs = demo_cli.json("runs")["runs"]
    rerun = next(r for r in runs if len(r["attempts"]) > 1)
    for run in (runs[0], rerun):
        assert web_client.get(f"/api/runs/{run['id']}").json() == {"runs": [run]}
        html = web_client.get(f"/runs/{run['id']}").text
        assert html.count('class="lane"') == len(run["jobs"])
        assert html.count('<section class="panel attempt"') == len(run["attempts"])


@pytest.mark.parametrize("path", ["/runs/nope", "/api/runs/nope", "/api/runs/%3Cimg%3E"])
def test_an_unknown_run_is_404(web_client: TestClient, path: str) -> None:
    response = web_client.get(path)
    assert response.status_code == 404
    assert error_detail(response).startswith("no run ")


def test_the_infra_api_is_infra_data(
    web_client: TestClient, demo_cli: Cli, demo_store: Store
) -> None:
    data = web_client.get("/api/infra", params={"days": "30"}).json()
    state = web_state(demo_cli.db, demo_cli.cwd)
    assert data == as_json(infra_data(demo_store, state, window_days=30))
    (repo,) = data["repositories"]
    assert repo["repository"] == "hypha-labs/hypha" and repo["status"] == "never"
    assert {w["state"] for w in data["workflows"]} == {"active"}
    jobs = sum(len(r["jobs"]) for r in demo_cli.json("runs", "--window", "30")["runs"])
    assert sum(q["jobs"] for q in data["labels"]) == jobs


@pytest.mark.parametrize("path", [*PAGES, *(f"/api{p}" for p in PAGES)])
@pytest.mark.parametrize("days", ["abc", "5", "-7", "1" * 40])
def test_a_bad_window_is_a_clear_422(web_client: TestClient, path: str, days: str) -> None:
    response = web_client.get(path, params={"days": days})
    assert response.status_code == 422
    assert error_detail(response).startswith("days must be one of 7, 14, 30, 90, 365")


@pytest.mark.parametrize("by", ["region", "tag:", "SERVICE", "x" * 100])
def test_a_bad_grouping_is_a_clear_422(web_client: TestClient, by: str) -> None:
    for path in ("/costs", "/api/costs"):
        response = web_client.get(path, params={"by": by})
        assert response.status_code == 422
        assert error_detail(response).startswith("by must be service, workflow, model or tag")


def test_the_pages_show_what_the_api_holds(web_client: TestClient) -> None:
    pipelines = web_client.get("/api/pipelines?days=30").json()
    html = web_client.get("/pipelines?days=30").text
    for row in pipelines["workflows"]:
        assert f"<td>{row['workflow']}</td>" in html
    assert html.count('data-chart="duration-') == len(pipelines["daily"]["workflows"])
    assert "no data yet, run <code>pilothouse ingest github --repo OWNER/NAME</code>" in html
    costs = web_client.get("/costs?days=30&by=model").text
    assert 'data-chart="spend-USD"' in costs and 'class="current">model</a>' in costs
    build = web_client.get("/build?days=30").text
    assert 'id="caches"' in build and 'id="crates"' in build and 'id="artifacts"' in build
    assert "no data yet" not in build
    infra = web_client.get("/infra?days=30").text
    assert "never synced: <code>pilothouse ingest github --repo hypha-labs/hypha</code>" in infra
    assert 'data-chart="queue"' in infra


def test_a_compiler_cache_row_counts_compilations_as_the_cache_command(
    web_client: TestClient,
) -> None:
    """sccache rows have no restores: the page shows their hits and misses, not zeros."""
    caches = web_client.get("/api/build?days=30").json()["cache"]["caches"]
    row = next(r for r in caches if r["tool"] == "sccache")
    assert row["restores"] == 0 and row["compiler_hits"] and row["compiler_misses"]
    html = web_client.get("/build?days=30").text
    cells = html.split(f"<td>{row['key_prefix']}</td>", 1)[1].split("</tr>", 1)[0]
    counts = [c.split("</td>")[0].strip() for c in cells.split('<td class="num">')[1:5]]
    assert counts == ["", str(row["compiler_hits"]), "", str(row["compiler_misses"])]


@pytest.fixture
def empty_client(tmp_path: Path) -> TestClient:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    Store.upgrade(url)
    store = Store.open(url)
    return TestClient(create_app(web_state(url, tmp_path), store))


@pytest.mark.parametrize(
    ("path", "commands"),
    [
        ("/pipelines", ["pilothouse ingest github --repo OWNER/NAME", "pilothouse sample"]),
        ("/costs", ["pilothouse ingest cost PATH --format focus|cur|github-usage|bedrock-log"]),
        ("/build", ["pilothouse ingest github --repo OWNER/NAME --logs",
                    "pilothouse ingest logs PATH", "pilothouse ingest cargo FILE"]),
        ("/infra", ["pilothouse ingest github --repo OWNER/NAME"]),
        ("/tests", ["pilothouse ingest junit PATH", "pilothouse sample"]),
    ],
)  # fmt: skip
def test_an_empty_store_names_the_command_that_fills_it(
    empty_client: TestClient, path: str, commands: list[str]
) -> None:
    response = empty_client.get(path)
    assert response.status_code == 200
    assert "no data yet, run" in response.text
    for command in commands:
        assert f"<code>{command}</code>" in response.text
    assert "data-chart" not in response.text  # never an empty chart
    api = empty_client.get(f"/api{path}")
    assert api.status_code == 200 and isinstance(api.json(), dict)


def ingest_hostile(cli: Cli) -> None:
    """Run 666 of workflow HOSTILE, its job HOSTILE</script>, into *cli*'s store."""
    cli.now = FIXED_NOW
    code, _out, err = cli(
        "ingest", "junit", str(JUNIT / "nextest" / "fixture-project-junit.xml"),
        "--run-id", "666", "--workflow", HOSTILE, "--job", f"{HOSTILE}</script>",
        "--started", FIXED_NOW.replace(hour=1).isoformat(),
    )  # fmt: skip
    assert code == 0, err


@pytest.fixture
def hostile_client(sqlite_cli: Cli, tmp_path: Path) -> TestClient:
    ingest_hostile(sqlite_cli)
    store = Store.open(sqlite_cli.db)
    return TestClient(create_app(web_state(sqlite_cli.db, tmp_path), store))


@pytest.mark.parametrize("path", ["/pipelines", "/runs/666", "/infra", "/costs", "/build"])
def test_hostile_names_render_as_text(hostile_client: TestClient, path: str) -> None:
    html = hostile_client.get(path, params={} if path.startswith("/runs") else {"days": 7}).text
    assert "<img" not in html and "</script>x" not in html
    if path in ("/pipelines", "/runs/666"):
        assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_the_window_selector_keeps_the_other_query_parameters(web_client: TestClient) -> None:
    def window_links(html: str) -> list[str]:
        selector = html.split('<div class="window"', 1)[1].split("</div>", 1)[0]
        return [part.split('"', 1)[0] for part in selector.split('href="')[1:]]

    costs = window_links(web_client.get("/costs?by=workflow&days=30").text)
    assert costs == [f"/costs?by=workflow&amp;days={d}" for d in (7, 14, 30, 90, 365)]
    tests = window_links(web_client.get("/tests", params={"q": "a&b <c>", "days": "7"}).text)
    assert tests[0] == "/tests?q=a%26b+%3Cc%3E&amp;days=7"  # encoded: no new parameter, no tag
    assert window_links(web_client.get("/pipelines").text)[0] == "/pipelines?days=7"
