"""Parsers of GitHub's payloads, on real answers of the API (tests/data/github)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from pilothouse.sources.github import (
    Token,
    artifact_from_api,
    cache_usage_from_api,
    job_from_api,
    parse_time,
    run_from_api,
    token_from_environment,
    workflow_from_api,
)

from .conftest import DATA

GITHUB = DATA / "github"


def _load(name: str) -> Any:
    return json.loads((GITHUB / name).read_text())


def test_run_of_a_second_attempt() -> None:
    run = run_from_api(_load("actions_runs_N_attempts_2__WorkflowRun.testGetAttempt__req3.json"))
    assert (run.run_key, run.attempt, run.workflow, run.event) == (
        "26365060973",
        2,
        "CodeQL Advanced",
        "schedule",
    )
    assert run.commit == "3a17ecf4a5a4dc873f2632470a712497b38eea88"
    assert run.created_at == datetime(2026, 5, 29, 15, 42, 7, tzinfo=UTC)
    assert run.started_at == datetime(2026, 5, 29, 15, 42, 5, tzinfo=UTC)
    assert run.finished_at == run.updated_at == datetime(2026, 5, 29, 15, 43, 47, tzinfo=UTC)
    assert run.workflow_key == "175366930" and run.run_number == 174


def test_every_run_of_a_real_listing_parses() -> None:
    listing = _load("actions_runs__Repository.testGetWorkflowRunsCreated__req2.json")
    runs = [run_from_api(r) for r in listing["workflow_runs"]]
    assert runs and all(r.created_at and r.created_at.tzinfo == UTC for r in runs)
    assert len({r.run_key for r in runs}) == len(runs)


def test_jobs_with_steps_and_runner() -> None:
    jobs = [
        job_from_api(j)
        for j in _load("actions_runs_N_jobs__WorkflowRun.test_jobs__req1.json")["jobs"]
    ]
    first = jobs[0]
    assert (first.job_key, first.run_key, first.attempt, first.name) == (
        "10545727758",
        "3881497935",
        1,
        "test (Python 3.7)",
    )
    assert first.created_at == datetime(2023, 1, 10, 8, 24, 21, tzinfo=UTC)
    assert first.started_at == datetime(2023, 1, 10, 8, 24, 28, tzinfo=UTC)
    assert [s.number for s in first.steps][:3] == [1, 2, 3]
    assert first.steps[0].name == "Set up job"
    assert first.steps[0].started_at == datetime(2023, 1, 10, 8, 24, 27, tzinfo=UTC)
    assert all(j.runner_labels for j in jobs)


def test_queued_steps_have_no_times() -> None:
    payload = _load("workflow_job__in_progress.with-queued-steps.payload.json")["workflow_job"]
    job = job_from_api(payload)
    assert job.status == "in_progress"
    assert any(s.status == "queued" and s.started_at is None for s in job.steps)


def test_devlake_jobs_parse() -> None:
    lines = (GITHUB / "_raw_github_api_jobs.data.jsonl").read_text().splitlines()
    jobs = [job_from_api(json.loads(line)) for line in lines if line.strip()]
    assert len(jobs) == len(lines) and all(j.job_key for j in jobs)


def test_artifacts_workflows_cache() -> None:
    artifacts = _load("actions_artifacts__Artifact.testGetArtifactsFromRepo__req1.json")
    parsed = [artifact_from_api(a) for a in artifacts["artifacts"]]
    assert parsed[0].name == "build-zip" and parsed[0].size_bytes == 1887574
    assert parsed[0].run_key is not None and parsed[0].expires_at is not None
    workflows = _load("actions_workflows__Repository.testGetWorkflows__req2.json")["workflows"]
    assert [workflow_from_api(w).path for w in workflows][0] == ".github/workflows/check.yml"
    usage = cache_usage_from_api(
        {"full_name": "o/n", "active_caches_size_in_bytes": 5, "active_caches_count": 2}
    )
    assert (usage.active_caches_count, usage.active_caches_size_bytes) == (2, 5)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-01-10T08:24:19Z", datetime(2023, 1, 10, 8, 24, 19, tzinfo=UTC)),
        ("2023-01-10T08:24:27.000Z", datetime(2023, 1, 10, 8, 24, 27, tzinfo=UTC)),
        ("2020-04-15T10:48:32.000+00:00", datetime(2020, 4, 15, 10, 48, 32, tzinfo=UTC)),
        (None, None),
        ("", None),
    ],
)
def test_parse_time(value: str | None, expected: datetime | None) -> None:
    assert parse_time(value) == expected


def test_token_comes_from_the_environment_and_is_never_shown() -> None:
    token = token_from_environment({"GH_TOKEN": " ghp_abc "})
    assert token == Token("ghp_abc", "GH_TOKEN")
    assert "ghp_abc" not in repr(token)
    assert token_from_environment({"GITHUB_TOKEN": "a", "GH_TOKEN": "b"}).variable == "GITHUB_TOKEN"
