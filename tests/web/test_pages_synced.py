"""The Pipelines and Infrastructure data over a GitHub sync (tests/github_fake.py) into
SQLite and PostgreSQL: steps, re-runs, runner labels, queue times, sync freshness and
disabled workflows, each checked against the fake's own payloads or `runs --json`."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from pilothouse.analysis.test_stats import percentile
from pilothouse.store import Store
from pilothouse.web.app import create_app
from pilothouse.web.pages.infra import infra_data
from pilothouse.web.pages.pipelines import pipelines_data
from tests.conftest import FIXED_NOW, Cli
from tests.github_fake import FakeGitHub
from tests.web.conftest import web_state

REPO = "hypha-labs/hypha"


@pytest.fixture
def synced(cli: Cli) -> FakeGitHub:
    """Six `ci` runs over the last three days (one failed then re-run and passed, every
    other on self-hosted runners) and a disabled workflow, synced at FIXED_NOW."""
    fake = FakeGitHub(REPO, clock_start=FIXED_NOW)
    fake.add_workflow("ci", ".github/workflows/ci.yml")
    fake.add_workflow("nightly", ".github/workflows/nightly.yml", state="disabled_manually")
    made = [
        fake.add_run(
            workflow="ci",
            created_at=FIXED_NOW - timedelta(days=3) + timedelta(hours=12 * i),
            jobs=3,
            conclusion="failure" if i == 2 else "success",
            runner_labels=["self-hosted", "linux"] if i % 2 else None,
        )
        for i in range(6)
    ]
    fake.rerun(made[2]["id"], at=FIXED_NOW - timedelta(days=1, hours=20))
    cli.env["GH_TOKEN"] = fake.token
    with fake.serve() as url:
        code, _out, err = cli("ingest", "github", "--repo", REPO, "--api-url", url)
    assert code == 0, err
    return fake


def fake_jobs(fake: FakeGitHub) -> list[dict[str, Any]]:
    """Every job of every attempt, as the fake's API shows them."""
    found = []
    runs = fake.handler(_get(fake, f"/repos/{REPO}/actions/runs?per_page=100")).json()
    for run in runs["workflow_runs"]:
        path = f"/repos/{REPO}/actions/runs/{run['id']}/jobs?filter=all&per_page=100"
        found += fake.handler(_get(fake, path)).json()["jobs"]
    return found


def _get(fake: FakeGitHub, path: str) -> httpx.Request:
    return httpx.Request(
        "GET", f"https://api.github.com{path}", headers={"Authorization": f"Bearer {fake.token}"}
    )


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def test_pipelines_data_over_a_sync(synced: FakeGitHub, cli: Cli) -> None:
    with Store.open(cli.db) as store:
        data = pipelines_data(store, web_state(cli.db, cli.cwd), window_days=7)
    (ci,) = data["workflows"]
    assert (ci["workflow"], ci["runs"], ci["attempts"]) == ("ci", 6, 7)
    assert ci["rerun_rate"] == round(1 / 6, 4) and ci["success_rate"] == 1.0
    runs = cli.json("runs")["runs"]
    waits = [j["queued_seconds"] for r in runs for j in r["jobs"]]
    assert len(waits) == 21
    assert ci["queue_p50_seconds"] == pytest.approx(percentile(waits, 50), abs=0.06)
    latest = [r["duration_seconds"] for r in runs]
    assert ci["duration_p90_seconds"] == pytest.approx(percentile(latest, 90), abs=0.06)
    # Steps: each (job, step) name's times, from the fake's own job payloads.
    steps: dict[tuple[str, str], list[float]] = defaultdict(list)
    for job in fake_jobs(synced):
        for step in job["steps"]:
            if step["started_at"] and step["completed_at"]:
                steps[(job["name"], step["name"])].append(
                    _seconds(step["started_at"], step["completed_at"])
                )
    assert data["stored"]["steps"] == sum(len(j["steps"]) for j in fake_jobs(synced))
    assert data["slowest_steps"]
    for slow in data["slowest_steps"]:
        times = steps[(slow["job"], slow["step"])]
        assert slow["workflow"] == "ci" and slow["count"] == len(times)
        assert slow["p50_seconds"] == pytest.approx(percentile(times, 50), abs=0.06)
        assert slow["max_seconds"] == pytest.approx(max(times), abs=0.06)
    p50s = [slow["p50_seconds"] for slow in data["slowest_steps"]]
    assert p50s == sorted(p50s, reverse=True)


def test_infra_data_over_a_sync(synced: FakeGitHub, cli: Cli) -> None:
    with Store.open(cli.db) as store:
        data = infra_data(store, web_state(cli.db, cli.cwd), window_days=7)
    (repo,) = data["repositories"]
    assert repo["repository"] == REPO and repo["status"] == "fresh"
    assert repo["last_sync"] == FIXED_NOW and repo["age_seconds"] == 0.0
    assert (repo["runs"], repo["unfinished_runs"], repo["expired_logs"]) == (6, 0, 0)
    by_labels: dict[str, list[float]] = defaultdict(list)
    for run in cli.json("runs")["runs"]:
        for job in run["jobs"]:
            by_labels[", ".join(job["runner_labels"])].append(job["queued_seconds"])
    assert {q["labels"]: q["jobs"] for q in data["labels"]} == {
        k: len(v) for k, v in by_labels.items()
    }
    assert "self-hosted, linux" in by_labels
    for queue in data["labels"]:
        expected = by_labels[queue["labels"]]
        assert queue["queue_p90_seconds"] == pytest.approx(percentile(expected, 90), abs=0.06)
        assert queue["queue_max_seconds"] == pytest.approx(max(expected), abs=0.06)
    assert data["workflow_states"] == {"active": 1, "disabled_manually": 1}
    # as the scorecard counts them: run attempts (the re-run counts again)
    assert {w["name"]: w["runs"] for w in data["workflows"]} == {"ci": 7, "nightly": 0}


def test_a_stale_sync_and_the_pages_over_it(synced: FakeGitHub, cli: Cli) -> None:
    later = FIXED_NOW + timedelta(days=2)
    with Store.open(cli.db) as store:
        state = web_state(cli.db, cli.cwd)
        state = state.__class__(
            config=state.config, world=state.world.__class__(
                env=state.env, cwd=state.cwd, clock=lambda: later
            ),
        )  # fmt: skip
        (repo,) = infra_data(store, state, window_days=7)["repositories"]
        assert repo["status"] == "stale" and repo["age_seconds"] == 2 * 86400
        client = TestClient(create_app(state, store))
        infra = client.get("/infra").text
        assert '<tr class="stale">' in infra and "(stale)" in infra
        pipelines = client.get("/pipelines").text
        assert 'id="slowest-steps"' in pipelines and "no data yet" not in pipelines
        rerun = next(r for r in cli.json("runs")["runs"] if r["attempt"] == 2)
        page = client.get(f"/runs/{rerun['id']}").text
        assert page.count('<section class="panel attempt"') == 2
        assert page.count('class="lane"') == 6
