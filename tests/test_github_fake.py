"""The GitHub fake behaves like GitHub: shapes from real payloads, paging, caps, caching, faults."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from .github_fake import FakeGitHub, parse_created

REAL = Path(__file__).parent / "data" / "github"
REPO = "/repos/hypha-labs/hypha"
RUNS = f"{REPO}/actions/runs"
START = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
T0 = datetime(2024, 1, 10, 8, 24, 19, tzinfo=UTC)
AUTH = {"Authorization": "Bearer ghp_testtoken"}

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
STEP_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$")
WORKFLOW_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+00:00$")


def real(name: str) -> Any:
    return json.loads((REAL / name).read_text(encoding="utf-8"))


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def fake() -> FakeGitHub:
    return FakeGitHub(clock_start=START)


@pytest.fixture
def client(fake: FakeGitHub) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=fake.transport(), base_url="https://api.github.com", headers=AUTH
    ) as opened:
        yield opened


def runs_at(fake: FakeGitHub, *moments: datetime, jobs: int = 0) -> list[int]:
    return [fake.add_run(workflow="CI", created_at=m, jobs=jobs)["id"] for m in moments]


def link_pages(response: httpx.Response) -> dict[str, str]:
    """rel -> page number, checking every link has GitHub's exact `<url>; rel="x"` form."""
    found = {}
    for part in response.headers["link"].split(", "):
        match = re.fullmatch(r'<([^>]+)>; rel="(prev|next|last|first)"', part)
        assert match, part
        found[match[2]] = httpx.URL(match[1]).params["page"]
    return found


# ---------------------------------------------------------------- shapes


def test_payloads_have_the_real_keys_in_the_real_order(
    fake: FakeGitHub, client: httpx.Client
) -> None:
    run = fake.add_run(workflow="CI", created_at=T0, conclusion="failure")
    fake.rerun(run["id"], at=T0 + timedelta(hours=1))
    fake.add_artifact(run["id"], "wheel", 123_456)
    fake.set_cache_usage(3, 2_322_142)
    latest = client.get(f"{RUNS}/{run['id']}").json()
    attempt = client.get(f"{RUNS}/{run['id']}/attempts/1").json()
    listed = client.get(RUNS).json()
    jobs = client.get(f"{RUNS}/{run['id']}/jobs", params={"filter": "all"}).json()
    artifacts = client.get(f"{REPO}/actions/artifacts").json()
    workflows = client.get(f"{REPO}/actions/workflows").json()

    real_run = real("actions_runs_N__WorkflowRun.testGetAttempt__req2.json")
    real_list = real("actions_runs__Repository.testGetWorkflowRunsCreated__req2.json")
    for shown in (latest, attempt, listed["workflow_runs"][0]):
        assert list(shown) == list(real_run)
        for key in ("actor", "triggering_actor", "repository", "head_repository", "head_commit"):
            assert set(shown[key]) == set(real_run[key]), key
        assert set(shown["repository"]["owner"]) == set(real_run["repository"]["owner"])
        assert set(shown) == set(real_list["workflow_runs"][0])
    assert set(real("actions_runs_N_attempts_2__WorkflowRun.testGetAttempt__req3.json")) == set(
        attempt
    )
    assert set(listed) == set(real_list)

    real_jobs = real("actions_runs_N_jobs__WorkflowRun.test_jobs__req1.json")
    real_job = real("actions_jobs_N__Repository.testGetWorkflowJob__req2.json")
    assert set(jobs) == set(real_jobs)
    for job in jobs["jobs"]:
        assert list(job) == list(real_jobs["jobs"][0]) and set(job) == set(real_job)
        for step in job["steps"]:
            assert list(step) == list(real_jobs["jobs"][0]["steps"][0])
    lines = (REAL / "_raw_github_api_jobs.data.jsonl").read_text(encoding="utf-8").splitlines()
    for older in map(json.loads, lines):  # devlake's 2021-era jobs: a subset of today's keys
        assert set(older) <= set(jobs["jobs"][0])

    real_artifact = real(
        "actions_runs_N_artifacts__Artifact.testGetArtifactsFromWorkflow__req2.json"
    )
    artifact = artifacts["artifacts"][0]
    assert [k for k in artifact if k != "digest"] == list(real_artifact["artifacts"][0])
    assert list(artifact).index("digest") == list(artifact).index("updated_at") + 1
    assert set(artifact["workflow_run"]) == set(real_artifact["artifacts"][0]["workflow_run"])
    assert set(artifacts) == set(real_artifact)

    real_workflows = real("actions_workflows__Repository.testGetWorkflows__req2.json")
    assert set(workflows) == set(real_workflows)
    assert list(workflows["workflows"][0]) == list(real_workflows["workflows"][0])
    assert client.get(f"{REPO}/actions/cache/usage").json() == {
        "full_name": "hypha-labs/hypha",
        "active_caches_size_in_bytes": 2_322_142,
        "active_caches_count": 3,
    }
    every = json.dumps([latest, attempt, listed, jobs, artifacts, workflows])
    for leftover in ("EnricoMi", "PyGithub", "transmission", "3a17ecf4a5a4", "Enrico Minack"):
        assert leftover not in every


def test_values_are_written_as_github_writes_them(fake: FakeGitHub, client: httpx.Client) -> None:
    run = fake.add_run(workflow="CI", created_at=T0, jobs=6, runner_labels=["self-hosted", "x64"])
    fake.add_artifact(run["id"], "coverage", 9_000)
    shown = client.get(f"{RUNS}/{run['id']}").json()
    jobs = client.get(f"{RUNS}/{run['id']}/jobs").json()["jobs"]
    workflow = client.get(f"{REPO}/actions/workflows").json()["workflows"][0]
    artifact = client.get(f"{RUNS}/{run['id']}/artifacts").json()["artifacts"][0]

    assert shown["created_at"] == "2024-01-10T08:24:19Z" == shown["run_started_at"]
    assert STAMP.match(shown["updated_at"]) and shown["run_attempt"] == 1
    assert shown["node_id"].startswith("WFR_kw") and shown["check_suite_node_id"].startswith("CS_")
    assert shown["path"] == workflow["path"] == ".github/workflows/ci.yml"
    assert WORKFLOW_STAMP.match(workflow["created_at"])
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", artifact["digest"])
    assert STAMP.match(artifact["expires_at"]) and artifact["expired"] is False
    assert len(jobs) == 6 and len({job["id"] for job in jobs}) == 6
    for job in jobs:
        created, started = when(job["created_at"]), when(job["started_at"])
        assert shown["created_at"] < job["created_at"] and created < started  # queue time
        assert started - created <= timedelta(minutes=5)
        assert STAMP.match(job["completed_at"]) and job["completed_at"] <= shown["updated_at"]
        assert job["labels"] == ["self-hosted", "x64"] and job["runner_group_name"] == "Default"
        steps = job["steps"]
        assert 3 <= len(steps) <= 6 and steps[0]["name"] == "Set up job"
        assert steps[-1]["name"] == "Complete job"
        mains = [s for s in steps if s["name"] != "Complete job" and "Post " not in s["name"]]
        assert steps[-1]["number"] == 2 * len(mains) + 1  # GitHub's post-step numbering
        for step in steps:
            assert STEP_STAMP.match(step["started_at"]) and STEP_STAMP.match(step["completed_at"])


def test_failed_and_in_progress_jobs_look_like_real_ones(fake: FakeGitHub) -> None:
    running = fake.add_run(workflow="CI", created_at=T0, status="in_progress", jobs=3)
    jobs = fake_jobs(fake, running["id"])
    assert running["conclusion"] is None and running["status"] == "in_progress"
    assert [job["status"] for job in jobs] == ["completed", "in_progress", "in_progress"]
    in_progress = real("workflow_job__in_progress.with-queued-steps.payload.json")["workflow_job"]
    for job in jobs[1:]:
        assert job["completed_at"] is None and job["conclusion"] is None
        queued = [step for step in job["steps"] if step["status"] == "queued"]
        assert queued and all(s["started_at"] is None for s in queued)
        assert [s["status"] for s in job["steps"]].count("in_progress") == 1
        assert set(job) == set(in_progress)

    fake.finish_run(running["id"], "failure", at=T0 + timedelta(minutes=3))
    assert running["status"] == "completed" and running["conclusion"] == "failure"
    assert running["updated_at"] == "2024-01-10T08:27:19Z"
    jobs = fake_jobs(fake, running["id"])
    assert [job["conclusion"] for job in jobs].count("failure") == 1
    failed = next(job for job in jobs if job["conclusion"] == "failure")
    outcomes = [step["conclusion"] for step in failed["steps"]]
    assert "failure" in outcomes and outcomes[-1] == "success"
    assert all(job["completed_at"] <= running["updated_at"] for job in jobs)

    waiting = fake.add_run(workflow="CI", created_at=T0, status="queued", jobs=2)
    for job in fake_jobs(fake, waiting["id"]):
        assert job["status"] == "queued" and job["steps"] == [] and job["runner_name"] is None
        assert job["started_at"] == job["created_at"]


def fake_jobs(fake: FakeGitHub, run_id: int) -> list[dict[str, Any]]:
    with httpx.Client(transport=fake.transport(), base_url="https://x", headers=AUTH) as client:
        return list(client.get(f"{RUNS}/{run_id}/jobs").json()["jobs"])


# ---------------------------------------------------------------- paging and filters


def test_pagination_and_link_headers(fake: FakeGitHub, client: httpx.Client) -> None:
    ids = runs_at(fake, *(T0 + timedelta(minutes=i) for i in range(75)))
    first = client.get(RUNS, params={"per_page": 30})
    base = "https://api.github.com/repos/hypha-labs/hypha/actions/runs"
    assert first.headers["link"] == (
        f'<{base}?per_page=30&page=2>; rel="next", <{base}?per_page=30&page=3>; rel="last"'
    )
    assert [r["id"] for r in first.json()["workflow_runs"]] == ids[::-1][:30]
    middle = client.get(RUNS, params={"page": 2, "per_page": 30, "branch": "main"})
    assert middle.headers["link"] == (
        f'<{base}?page=1&per_page=30&branch=main>; rel="prev", '
        f'<{base}?page=3&per_page=30&branch=main>; rel="next", '
        f'<{base}?page=3&per_page=30&branch=main>; rel="last", '
        f'<{base}?page=1&per_page=30&branch=main>; rel="first"'
    )
    last = client.get(RUNS, params={"per_page": 30, "page": 3})
    assert link_pages(last) == {"prev": "2", "first": "1"}
    assert len(last.json()["workflow_runs"]) == 15 and last.json()["total_count"] == 75

    seen: list[int] = []
    url: str | None = f"{RUNS}?per_page=20"
    while url:
        page = client.get(url)
        seen += [r["id"] for r in page.json()["workflow_runs"]]
        url = page.links.get("next", {}).get("url")
    assert seen == ids[::-1]
    assert len(client.get(RUNS).json()["workflow_runs"]) == 30  # GitHub's default page size
    assert "link" not in client.get(RUNS, params={"per_page": 100}).headers


def test_per_page_is_clamped_and_ties_sort_by_id(client: httpx.Client) -> None:
    fake = FakeGitHub(per_page_max=10, clock_start=START)
    ids = runs_at(fake, *[T0] * 12)
    with httpx.Client(transport=fake.transport(), base_url="https://h", headers=AUTH) as small:
        page = small.get(RUNS, params={"per_page": 100})
    assert [r["id"] for r in page.json()["workflow_runs"]] == sorted(ids, reverse=True)[:10]
    assert link_pages(page) == {"next": "2", "last": "2"}


def test_filtered_searches_stop_at_the_cap(fake: FakeGitHub, client: httpx.Client) -> None:
    runs_at(fake, *(datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=i) for i in range(1200)))
    query: dict[str, str | int] = {"per_page": 100, "created": "2024-01-01..2024-12-31"}
    tenth = client.get(RUNS, params={**query, "page": 10})
    assert len(tenth.json()["workflow_runs"]) == 100 and tenth.json()["total_count"] == 1200
    assert link_pages(tenth) == {"prev": "9", "first": "1"}
    assert link_pages(client.get(RUNS, params=query)) == {"next": "2", "last": "10"}
    beyond = client.get(RUNS, params={**query, "page": 11}).json()
    assert beyond == {"total_count": 1200, "workflow_runs": []}
    by_status = {"status": "success"}  # 30 a page: page 34 holds matches 991-1000, then nothing
    assert len(client.get(RUNS, params={**by_status, "page": 34}).json()["workflow_runs"]) == 10
    assert client.get(RUNS, params={**by_status, "page": 35}).json()["workflow_runs"] == []
    unfiltered = client.get(RUNS, params={"per_page": 100, "page": 12})
    assert len(unfiltered.json()["workflow_runs"]) == 100
    assert link_pages(unfiltered) == {"prev": "11", "first": "1"}


MOMENTS = [
    "2024-01-01T00:00:00Z",
    "2024-01-01T10:00:00Z",
    "2024-01-01T23:59:59Z",
    "2024-01-02T00:00:00Z",
    "2024-01-02T12:00:00Z",
    "2024-01-31T23:59:59Z",
    "2024-02-01T00:00:00Z",
]


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        (">=2024-01-01", MOMENTS),
        (">=2024-01-01T10:00:00Z", MOMENTS[1:]),
        (">2024-01-01", MOMENTS[3:]),
        (">2024-01-01T10:00:00Z", MOMENTS[2:]),
        ("<=2024-01-01", MOMENTS[:3]),
        ("<=2024-01-01T10:00:00Z", MOMENTS[:2]),
        ("<2024-01-02", MOMENTS[:3]),
        ("2024-01-01..2024-01-31", MOMENTS[:6]),
        ("2024-01-01T00:00:00Z..2024-01-02T12:00:00Z", MOMENTS[:5]),
        ("2024-01-01T10:00:00+00:00..2024-01-01T23:59:59+00:00", MOMENTS[1:3]),
        ("2024-01-02T01:00:00+01:00..2024-01-02T12:00:00Z", MOMENTS[3:5]),
        ("2024-01-01", MOMENTS[:3]),
        ("2024-01-02..*", MOMENTS[3:]),
        ("*..2024-01-01", MOMENTS[:3]),
    ],
)
def test_created_ranges(
    fake: FakeGitHub, client: httpx.Client, created: str, expected: list[str]
) -> None:
    runs_at(fake, *map(when, MOMENTS))
    body = client.get(RUNS, params={"created": created}).json()
    assert sorted(r["created_at"] for r in body["workflow_runs"]) == expected
    assert body["total_count"] == len(expected)


def test_created_edge_forms(fake: FakeGitHub, client: httpx.Client) -> None:
    runs_at(fake, *map(when, MOMENTS))
    raw_plus = client.get(f"{RUNS}?created=>=2024-01-31T23:59:59+00:00")  # '+' arrives as ' '
    assert raw_plus.json()["total_count"] == 2
    bad = client.get(RUNS, params={"created": ">=yesterday"})
    assert bad.status_code == 422
    assert parse_created("2024-01-01") == (
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 1, 1, 23, 59, 59, 999_999, tzinfo=UTC),
    )


def test_status_event_branch_and_workflow_filters(fake: FakeGitHub, client: httpx.Client) -> None:
    fake.add_workflow("Nightly", ".github/workflows/nightly.yml")
    fake.add_run(workflow="CI", created_at=T0, jobs=0)
    fake.add_run(workflow="CI", created_at=T0, conclusion="failure", head_branch="dev", jobs=0)
    fake.add_run(workflow="Nightly", created_at=T0, event="schedule", jobs=0)
    fake.add_run(workflow="CI", created_at=T0, status="in_progress", event="pull_request", jobs=0)

    def total(**params: str) -> int:
        return int(client.get(RUNS, params=params).json()["total_count"])

    assert (total(), total(status="completed"), total(status="failure")) == (4, 3, 1)
    assert (total(event="schedule"), total(branch="dev"), total(status="in_progress")) == (1, 1, 1)
    nightly = client.get(f"{REPO}/actions/workflows/nightly.yml/runs").json()
    assert nightly["total_count"] == 1 and nightly["workflow_runs"][0]["display_title"] == "Nightly"


# ---------------------------------------------------------------- attempts, jobs, artifacts


def test_rerun_keeps_every_attempt(fake: FakeGitHub, client: httpx.Client) -> None:
    run = fake.add_run(workflow="CI", created_at=T0, conclusion="failure", jobs=4)
    first_updated = run["updated_at"]
    fake.rerun(run["id"], at=T0 + timedelta(hours=2))
    latest = client.get(f"{RUNS}/{run['id']}").json()
    assert (latest["run_attempt"], latest["conclusion"]) == (2, "success")
    assert latest["created_at"] == "2024-01-10T08:24:19Z"  # the run's, as on GitHub
    assert latest["run_started_at"] == "2024-01-10T10:24:19Z"
    assert latest["updated_at"] > first_updated
    assert latest["previous_attempt_url"].endswith(f"/actions/runs/{run['id']}/attempts/1")
    second = client.get(f"{RUNS}/{run['id']}/attempts/2").json()
    assert second["created_at"] == "2024-01-10T10:24:19Z"
    assert second["jobs_url"].endswith(f"/{run['id']}/attempts/2/jobs")
    first = client.get(f"{RUNS}/{run['id']}/attempts/1").json()
    assert (first["run_attempt"], first["conclusion"], first["previous_attempt_url"]) == (
        1,
        "failure",
        None,
    )
    assert client.get(f"{RUNS}/{run['id']}/attempts/3").status_code == 404

    latest_jobs = client.get(f"{RUNS}/{run['id']}/jobs").json()
    every_job = client.get(f"{RUNS}/{run['id']}/jobs", params={"filter": "all"}).json()
    old_jobs = client.get(f"{RUNS}/{run['id']}/attempts/1/jobs").json()
    assert {j["run_attempt"] for j in latest_jobs["jobs"]} == {2}
    assert every_job["total_count"] == 8 and len({j["id"] for j in every_job["jobs"]}) == 8
    assert [j["run_attempt"] for j in every_job["jobs"]] == [1] * 4 + [2] * 4
    assert old_jobs["jobs"] == every_job["jobs"][:4]
    assert [j["name"] for j in old_jobs["jobs"]] == [j["name"] for j in latest_jobs["jobs"]]
    job_id = latest_jobs["jobs"][0]["id"]
    assert client.get(f"{REPO}/actions/jobs/{job_id}").json() == latest_jobs["jobs"][0]
    paged = client.get(f"{RUNS}/{run['id']}/jobs", params={"filter": "all", "per_page": 3})
    assert link_pages(paged) == {"next": "2", "last": "3"}


def test_artifacts(fake: FakeGitHub, client: httpx.Client) -> None:
    one, two = runs_at(fake, T0, T0 + timedelta(days=1), jobs=1)
    old = fake.add_artifact(one, "wheel", 10, created_at=T0, expired=True)
    fake.add_artifact(two, "wheel", 20)
    fake.add_artifact(two, "coverage", 30)
    everything = client.get(f"{REPO}/actions/artifacts").json()
    assert everything["total_count"] == 3
    assert [a["name"] for a in everything["artifacts"]] == ["coverage", "wheel", "wheel"]
    assert everything["artifacts"][-1] == old and old["expired"] is True
    assert when(old["expires_at"]) <= START
    own = client.get(f"{RUNS}/{two}/artifacts").json()
    assert [a["size_in_bytes"] for a in own["artifacts"]] == [20, 30]
    assert own["artifacts"][0]["workflow_run"]["id"] == two
    named = client.get(f"{REPO}/actions/artifacts", params={"name": "wheel"}).json()
    assert named["total_count"] == 2


# ---------------------------------------------------------------- HTTP behaviour


def test_etag_and_304_are_free(fake: FakeGitHub, client: httpx.Client) -> None:
    run = runs_at(fake, T0)[0]
    first = client.get(f"{RUNS}/{run}")
    etag = first.headers["etag"]
    assert re.fullmatch(r'W/"[0-9a-f]{64}"', etag)
    again = client.get(f"{RUNS}/{run}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["x-ratelimit-remaining"] == first.headers["x-ratelimit-remaining"]
    assert fake.billable == 1 and len(fake.requests) == 2
    both = client.get(f"{RUNS}/{run}", headers={"If-None-Match": f'"other", {etag[2:]}'})
    assert both.status_code == 304
    fake.finish_run(run, "failure")
    changed = client.get(f"{RUNS}/{run}", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert fake.billable == 2


def test_rate_limit_headers_and_window(fake: FakeGitHub, client: httpx.Client) -> None:
    reset = int(START.timestamp()) + 3600
    for used in (1, 2, 3):
        headers = client.get(RUNS).headers
        assert headers["x-ratelimit-limit"] == "5000"
        assert headers["x-ratelimit-remaining"] == str(5000 - used)
        assert headers["x-ratelimit-used"] == str(used)
        assert headers["x-ratelimit-reset"] == str(reset)
        assert headers["x-ratelimit-resource"] == "core"
        assert headers["content-type"] == "application/json; charset=utf-8"
    fake.now += timedelta(hours=1)
    headers = client.get(RUNS).headers
    assert headers["x-ratelimit-remaining"] == "4999"
    assert headers["x-ratelimit-reset"] == str(reset + 3600)


def test_spent_quota_is_refused_until_reset() -> None:
    fake = FakeGitHub(rate_limit=2, clock_start=START)
    with httpx.Client(transport=fake.transport(), base_url="https://h", headers=AUTH) as client:
        assert [client.get(RUNS).status_code for _ in range(3)] == [200, 200, 403]
        refused = client.get(RUNS)
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert refused.json()["message"].startswith("API rate limit exceeded for")
        fake.now += timedelta(seconds=3600)
        assert client.get(RUNS).status_code == 200


def test_bad_credentials(fake: FakeGitHub) -> None:
    expected = {
        "message": "Bad credentials",
        "documentation_url": "https://docs.github.com/rest",
        "status": "401",
    }
    with httpx.Client(transport=fake.transport(), base_url="https://api.github.com") as client:
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "ghp_testtoken"}):
            response = client.get(RUNS, headers=headers)
            assert (response.status_code, response.json()) == (401, expected)
            assert "x-ratelimit-remaining" in response.headers
        classic = client.get(RUNS, headers={"Authorization": "token ghp_testtoken"})
        assert classic.status_code == 200


def test_not_found(fake: FakeGitHub, client: httpx.Client) -> None:
    expected = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
    for path in (
        "/repos/hypha-labs/other/actions/runs",
        f"{REPO}/actions/nothing",
        f"{RUNS}/12345",
        f"{REPO}/actions/jobs/1",
    ):
        response = client.get(path)
        assert (response.status_code, response.json()) == (404, expected), path
    assert client.get(f"/repositories/{fake.repo_id}/actions/runs").status_code == 200
    assert client.get("/repos/Hypha-Labs/HYPHA/actions/runs").status_code == 200


def test_fail_fault(fake: FakeGitHub, client: httpx.Client) -> None:
    fake.fail(RUNS, times=2)
    fake.fail(
        f"{REPO}/actions/workflows",
        status=500,
        headers={"x-custom": "1"},
        body={"message": "Server Error"},
    )
    assert client.get(f"{REPO}/actions/artifacts").status_code == 200  # other paths unaffected
    assert [client.get(RUNS).status_code for _ in range(3)] == [502, 502, 200]
    broken = client.get(f"{REPO}/actions/workflows")
    assert (broken.status_code, broken.json(), broken.headers["x-custom"]) == (
        500,
        {"message": "Server Error"},
        "1",
    )
    assert fake.billable == 5


def test_disconnect_fault(fake: FakeGitHub, client: httpx.Client) -> None:
    fake.disconnect(f"{RUNS}/", times=2)
    runs_at(fake, T0)
    with pytest.raises(httpx.ConnectError):
        client.get(f"{RUNS}/1")
    assert client.get(RUNS).status_code == 200  # '/actions/runs' does not start with '.../runs/'
    with pytest.raises(httpx.ConnectError):
        client.get(f"{RUNS}/1/jobs")
    assert client.get(f"{RUNS}/1/jobs").status_code == 404
    assert (fake.billable, len(fake.requests)) == (2, 4)


def test_primary_rate_limit_fault(fake: FakeGitHub, client: httpx.Client) -> None:
    fake.primary_rate_limit(RUNS, reset_in=30)
    fake.primary_rate_limit(RUNS, status=403)
    limited = client.get(RUNS)
    assert limited.status_code == 429
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert limited.headers["x-ratelimit-reset"] == str(int(START.timestamp()) + 30)
    assert limited.json()["message"].startswith("API rate limit exceeded for ")
    assert limited.json()["documentation_url"].startswith("https://docs.github.com/")
    assert client.get(RUNS).status_code == 403
    assert client.get(RUNS).headers["x-ratelimit-remaining"] == "4997"


def test_secondary_rate_limit_fault(fake: FakeGitHub, client: httpx.Client) -> None:
    fake.fail(RUNS, status=503)
    fake.secondary_rate_limit(RUNS, retry_after=7)
    assert client.get(RUNS).status_code == 503  # faults apply in the order they were queued
    limited = client.get(RUNS)
    assert (limited.status_code, limited.headers["retry-after"]) == (403, "7")
    assert limited.json()["message"].startswith("You have exceeded a secondary rate limit")
    assert limited.headers["x-github-request-id"] in limited.json()["message"]
    assert client.get(RUNS).status_code == 200


def test_requests_are_recorded_and_counted(fake: FakeGitHub, client: httpx.Client) -> None:
    client.get(RUNS, params={"page": 2})
    client.get(f"{REPO}/actions/workflows")
    assert [r.url.path for r in fake.requests] == [RUNS, f"{REPO}/actions/workflows"]
    assert (fake.count(), fake.count("/actions/runs"), fake.count("page=2")) == (2, 1, 1)


def test_link_style_repositories_is_followable() -> None:
    fake = FakeGitHub(clock_start=START, link_style="repositories")
    runs_at(fake, *[T0] * 3)
    with httpx.Client(transport=fake.transport(), base_url="https://api.github.com") as client:
        first = client.get(RUNS, params={"per_page": 2}, headers=AUTH)
        url = first.links["next"]["url"]
        assert url.startswith(f"https://api.github.com/repositories/{fake.repo_id}/actions/runs?")
        assert len(client.get(url, headers=AUTH).json()["workflow_runs"]) == 1


# ---------------------------------------------------------------- over a real socket


def test_serve_over_loopback(fake: FakeGitHub) -> None:
    runs_at(fake, *(T0 + timedelta(minutes=i) for i in range(45)))
    with fake.serve() as base, httpx.Client(base_url=base, headers=AUTH, timeout=5) as client:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base)
        seen, url = 0, f"{RUNS}?per_page=20"
        while url:
            page = client.get(url)
            assert page.status_code == 200
            seen += len(page.json()["workflow_runs"])
            next_url: str | None = page.links.get("next", {}).get("url")
            assert next_url is None or next_url.startswith(f"{base}{RUNS}?")
            url = next_url or ""
        assert seen == 45
        etag = page.headers["etag"]
        assert client.get(page.url, headers={"If-None-Match": etag}).status_code == 304
        fake.fail(RUNS, status=502)
        assert client.get(RUNS).status_code == 502
        fake.disconnect(RUNS)
        with pytest.raises(httpx.RemoteProtocolError):  # the server hangs up without answering
            client.get(RUNS)
        assert client.get(RUNS).headers["x-ratelimit-resource"] == "core"
    assert fake.count(RUNS) == 7 and fake.billable == 5


# ---------------------------------------------------------------- doctor: tokens and access


def test_user_and_repository_have_the_real_keys_and_scope_headers(fake, client) -> None:
    from .github_fake import REPOSITORY_FILE, USER_FILE

    user = client.get("/user")
    assert user.status_code == 200 and list(user.json()) == list(real(USER_FILE))
    assert user.headers["x-oauth-scopes"] == "repo, workflow"
    assert user.headers["x-accepted-oauth-scopes"] == ""
    repo = client.get(REPO)
    assert list(repo.json()) == list(real(REPOSITORY_FILE))
    assert repo.json()["full_name"] == "hypha-labs/hypha" and repo.json()["private"] is False
    assert repo.headers["x-accepted-oauth-scopes"] == "repo"
    assert client.get(RUNS).headers["x-oauth-scopes"] == "repo, workflow"
    bad = client.get("/user", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"
    assert "x-oauth-scopes" not in bad.headers


def test_actions_permissions_as_github_answers(fake, client) -> None:
    path = f"{REPO}/actions/permissions"
    assert client.get(path).json() == {
        "enabled": True, "allowed_actions": "all", "sha_pinning_required": False
    }  # fmt: skip
    fake.allowed_actions = "selected"
    assert (
        client.get(path)
        .json()["selected_actions_url"]
        .endswith("/repos/hypha-labs/hypha/actions/permissions/selected-actions")
    )
    fake.actions_enabled = False
    assert client.get(path).json() == {"enabled": False}
    from .github_fake import Grant

    fake.add_token("ghp_member", Grant(admin=False))
    refused = client.get(path, headers={"Authorization": "Bearer ghp_member"})
    assert refused.status_code == 403
    assert refused.json()["message"] == "Must have admin rights to Repository."


def test_tokens_without_access_get_404_and_without_permission_403(fake, client) -> None:
    from .github_fake import Grant

    fake.add_token("github_pat_elsewhere", Grant("fine-grained", repos=frozenset({"a/b"})))
    fake.add_token("github_pat_noactions", Grant("fine-grained", permissions={"contents": "read"}))
    fake.add_token("ghs_app", Grant("installation", permissions={"actions": "read"}))
    elsewhere = {"Authorization": "Bearer github_pat_elsewhere"}
    for path in (REPO, RUNS, f"{REPO}/actions/workflows"):
        response = client.get(path, headers=elsewhere)
        assert (response.status_code, response.json()["message"]) == (404, "Not Found")
    noactions = client.get(RUNS, headers={"Authorization": "Bearer github_pat_noactions"})
    assert noactions.status_code == 403
    assert noactions.json()["message"] == "Resource not accessible by personal access token"
    assert noactions.headers["x-accepted-github-permissions"] == "actions=read"
    assert "x-oauth-scopes" not in noactions.headers
    app = {"Authorization": "Bearer ghs_app"}
    assert client.get("/user", headers=app).json()["message"] == (
        "Resource not accessible by integration"
    )
    listed = client.get("/installation/repositories", headers=app).json()
    assert [r["full_name"] for r in listed["repositories"]] == ["hypha-labs/hypha"]
    fake.private = True
    fake.grants["ghp_testtoken"] = Grant(scopes=("workflow",))
    assert client.get(REPO).status_code == 404  # a private repository needs `repo`


def test_workflow_states_are_githubs(fake, client) -> None:
    fake.add_workflow("CI", ".github/workflows/ci.yml")
    for state in ("disabled_manually", "disabled_inactivity", "active"):
        fake.set_workflow_state("ci.yml", state)
        (listed,) = client.get(f"{REPO}/actions/workflows").json()["workflows"]
        assert listed["state"] == state
    with pytest.raises(ValueError, match="state is one of"):
        fake.set_workflow_state("CI", "disabled")


def test_contents_lists_a_directory_as_github_does(fake, client) -> None:
    fake.files[".github/workflows/ci.yml"] = b"on: push\n"
    fake.files[".github/workflows/scripts/run.sh"] = b"echo\n"
    listed = client.get(f"{REPO}/contents/.github/workflows", params={"ref": "main"}).json()
    assert [(e["name"], e["type"]) for e in listed] == [("ci.yml", "file"), ("scripts", "dir")]
    assert list(listed[0]) == [
        "name", "path", "sha", "size", "url", "html_url", "git_url", "download_url", "type",
        "_links",
    ]  # fmt: skip
    assert listed[0]["sha"] == "b83836ed8c80558d4e40ea4ac5d69f4405334799"  # git hash-object
    assert listed[0]["download_url"].endswith("/hypha-labs/hypha/main/.github/workflows/ci.yml")
    missing = client.get(f"{REPO}/contents/.github/nothing")
    assert missing.status_code == 404 and missing.json()["message"] == "Not Found"
