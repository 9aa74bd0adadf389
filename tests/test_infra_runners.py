"""`ingest runners` against the loopback fake GitHub (tests/github_fake.py's runners
block): repository and organisation runners, pages, a scope the token may not list, and
the runners each label set's queued jobs could use, as `infra` and the dashboard show."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from pilothouse.cli.infra import infra_data
from pilothouse.cli.output import json_text
from pilothouse.store import Store
from pilothouse.web.app import create_app
from tests.conftest import FIXED_NOW, Cli
from tests.github_fake import FakeGitHubRunners
from tests.web.conftest import web_state

REPO = "hypha-labs/hypha"
ORG = "hypha-labs"


@pytest.fixture
def fake(cli: Cli) -> FakeGitHubRunners:
    """Runs whose jobs asked for self-hosted Linux runners, synced; four runners."""
    fake = FakeGitHubRunners(REPO, clock_start=FIXED_NOW)
    fake.add_workflow("ci", ".github/workflows/ci.yml")
    for i in range(4):
        fake.add_run(workflow="ci", created_at=FIXED_NOW - timedelta(hours=6 * (i + 1)), jobs=2,
                     runner_labels=["self-hosted", "linux"] if i % 2 else None)  # fmt: skip
    fake.add_runner("lin-1", [])
    fake.add_runner("gpu-1", ["gpu"], busy=True)
    fake.add_runner("lin-2", [], status="offline")
    fake.add_org(ORG)
    fake.add_runner("mac-1", ["xcode"], os="macos", org=ORG)
    cli.env["GH_TOKEN"] = fake.token
    with fake.serve() as url:
        code, _out, err = cli("ingest", "github", "--repo", REPO, "--api-url", url)
    assert code == 0, err
    return fake


def ingest(cli: Cli, fake: FakeGitHubRunners, *flags: str) -> tuple[int, str, str]:
    with fake.serve() as url:
        return cli("ingest", "runners", "--api-url", url, *flags)


def test_runners_of_a_repository_and_an_organisation(cli: Cli, fake: FakeGitHubRunners) -> None:
    code, out, err = ingest(cli, fake, "--repo", REPO, "--org", ORG)
    assert code == 0, err
    assert "4 runner(s) in 2 scope(s): 3 online (1 busy), 1 offline; 4 new" in out
    data = cli.json("infra")
    assert [(r["scope"], r["name"], r["status"], r["busy"]) for r in data["runners"]] == [
        (f"org:{ORG}", "mac-1", "online", False),
        (f"repo:{REPO}", "gpu-1", "online", True),
        (f"repo:{REPO}", "lin-1", "online", False),
        (f"repo:{REPO}", "lin-2", "offline", False),
    ]
    assert data["runners"][1]["labels"] == ["self-hosted", "Linux", "X64", "gpu"]
    queues = {q["labels"]: q for q in data["labels"]}
    # labels compare without case: the jobs' "linux" is the runners' "Linux"
    assert queues["self-hosted, linux"]["runners"] == {"idle": 1, "busy": 1, "offline": 1}
    hosted = [q for label, q in queues.items() if "self-hosted" not in label]
    assert hosted and all(q["runners"] == {"idle": 0, "busy": 0, "offline": 0} for q in hosted)


def test_every_page_is_read_and_a_new_listing_replaces_the_last(cli: Cli) -> None:
    fake = FakeGitHubRunners(REPO, clock_start=FIXED_NOW, per_page_max=2)
    cli.env["GH_TOKEN"] = fake.token
    for n in range(5):
        fake.add_runner(f"r-{n}", [])
    code, _out, err = ingest(cli, fake, "--repo", REPO, "--json")
    assert code == 0, err
    assert fake.count("/actions/runners") == 3  # 5 runners, 2 a page
    fake.remove_runner("r-0")
    fake.set_runner("r-1", status="online", busy=True)
    cli.now = FIXED_NOW + timedelta(hours=1)
    code, out, err = ingest(cli, fake, "--repo", REPO, "--json")
    assert code == 0, err
    assert json.loads(out) == {"scopes": 1, "runners": 4, "new": 0, "online": 4, "busy": 1,
                               "offline": 0}  # fmt: skip
    runners = cli.json("infra")["runners"]
    assert [r["name"] for r in runners] == ["r-1", "r-2", "r-3", "r-4"]
    assert runners[0]["busy"] is True and runners[0]["seen_at"] == "2026-11-27T13:00:00+00:00"


def test_a_scope_the_token_may_not_list_is_a_warning(cli: Cli, fake: FakeGitHubRunners) -> None:
    fake.runner_admin = False
    code, out, err = ingest(cli, fake, "--repo", REPO, "--org", ORG, "--org", "elsewhere")
    assert code == 0, err
    warnings = err.strip().splitlines()
    assert len(warnings) == 2
    assert f"repo:{REPO}: runners not listed" in warnings[0] and "forbidden (403)" in warnings[0]
    assert "org:elsewhere: runners not listed" in warnings[1] and "(404)" in warnings[1]
    assert "1 runner(s) in 1 scope(s)" in out
    code, _out, err = ingest(cli, fake, "--repo", REPO)
    assert code == 1 and "no runners listed" in err.splitlines()[-1]


def test_the_token_is_never_printed_or_stored(cli: Cli, fake: FakeGitHubRunners) -> None:
    code, out, err = ingest(cli, fake, "--repo", REPO, "--org", ORG)
    fake.runner_admin = False
    code2, out2, err2 = ingest(cli, fake, "--repo", REPO)
    assert (code, code2) == (0, 1)
    assert fake.token not in out + err + out2 + err2
    if cli.db.startswith("sqlite"):
        assert fake.token.encode() not in Path(cli.db.removeprefix("sqlite:///")).read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "name a --repo OWNER/NAME or an --org"),
        (("--repo", "nameonly"), "expected OWNER/NAME"),
    ],
)
def test_usage_errors(cli: Cli, args: tuple[str, ...], message: str) -> None:
    code, _out, err = cli("ingest", "runners", *args)
    assert code == 2 and message in err


def test_the_fake_lists_runners_as_github_does(fake: FakeGitHubRunners) -> None:
    response = fake.handler(_request(fake, f"/repos/{REPO}/actions/runners"))
    body = response.json()
    assert list(body) == ["total_count", "runners"] and body["total_count"] == 3
    runner = body["runners"][1]
    assert list(runner) == ["id", "name", "os", "status", "busy", "ephemeral", "labels"]
    assert runner["labels"][-1] == {"id": 4, "name": "gpu", "type": "custom"}
    org = fake.handler(_request(fake, f"/orgs/{ORG}/actions/runners")).json()["runners"][0]
    assert list(org)[:2] == ["id", "runner_group_id"]


def _request(fake: FakeGitHubRunners, path: str) -> httpx.Request:
    return httpx.Request("GET", f"https://api.github.com{path}",
                         headers={"Authorization": f"Bearer {fake.token}"})  # fmt: skip


def test_the_page_and_its_api_show_the_runners(cli: Cli, fake: FakeGitHubRunners) -> None:
    assert ingest(cli, fake, "--repo", REPO, "--org", ORG)[0] == 0
    state = web_state(cli.db, cli.cwd)
    with Store.open(cli.db) as store, TestClient(create_app(state, store)) as client:
        data = infra_data(store, state, window_days=7)
        assert client.get("/api/infra", params={"days": "7"}).text == json_text(data, indent=None)
        page = client.get("/infra", params={"days": "7"}).text
    assert '<table id="runners">' in page and "<td>gpu-1</td><td>busy</td>" in page
    assert "<td>self-hosted, Linux, X64, gpu</td>" in page
    assert "pilothouse ingest cloudwatch" in page  # no instance yet: the command that adds them
