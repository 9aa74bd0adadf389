"""Store side of the GitHub sync, on both backends: upserts, attempts, steps, JUnit joins."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from pilothouse.model import (
    ArtifactRecord,
    CacheUsage,
    JobRecord,
    RunAttempt,
    RunInfo,
    StepRecord,
    TestCase,
    WorkflowRecord,
)
from pilothouse.store import ReportInput, Store
from pilothouse.store.github import match_job

from .conftest import FIXED_NOW

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
REPO = "acme/widgets"


def _attempt(n: int = 1, status: str = "completed", updated: int = 10) -> RunAttempt:
    return RunAttempt(
        run_key="555",
        attempt=n,
        workflow="tests-all",
        workflow_key="77",
        run_number=12,
        event="push",
        branch="main",
        commit="abc",
        status=status,
        conclusion="success" if status == "completed" else None,
        created_at=T0,
        started_at=T0 + timedelta(seconds=5 + 3600 * (n - 1)),
        updated_at=T0 + timedelta(minutes=updated + 60 * (n - 1)),
        html_url="https://github.com/acme/widgets/actions/runs/555",
    )


def _job(key: str, name: str, attempt: int = 1, steps: int = 3) -> JobRecord:
    return JobRecord(
        job_key=key,
        run_key="555",
        attempt=attempt,
        name=name,
        status="completed",
        conclusion="success",
        created_at=T0 + timedelta(seconds=10),
        started_at=T0 + timedelta(seconds=70),
        finished_at=T0 + timedelta(minutes=9),
        runner_labels=("ubuntu-latest",),
        runner_name="GitHub Actions 12",
        steps=tuple(
            StepRecord(i, f"step {i}", "completed", "success", T0, T0 + timedelta(seconds=i))
            for i in range(1, steps + 1)
        ),
    )


def test_store_run_is_idempotent_and_counts_new_rows(store: Store) -> None:
    jobs = [_job("1", "test (1/2)"), _job("2", "test (2/2)")]
    added = store.store_github_run(REPO, [_attempt()], jobs)
    assert (added.runs, added.jobs, added.steps) == (1, 2, 6)
    again = store.store_github_run(REPO, [_attempt()], jobs)
    assert (again.runs, again.jobs, again.steps) == (0, 0, 0)
    counts = store.counts()
    assert (counts["runs"], counts["jobs"], counts["steps"]) == (1, 2, 6)


def test_in_progress_run_is_updated_in_place(store: Store) -> None:
    store.store_github_run(
        REPO, [_attempt(status="in_progress", updated=2)], [_job("1", "a", steps=1)]
    )
    assert store.unfinished_runs(REPO) == ["555"]
    added = store.store_github_run(REPO, [_attempt()], [_job("1", "a", steps=4)])
    assert (added.runs, added.jobs, added.steps) == (0, 0, 3)
    assert store.unfinished_runs(REPO) == []
    (run,) = store.list_runs()
    assert run.status == "completed" and run.finished_at == T0 + timedelta(minutes=10)


def test_rerun_adds_attempt_two_and_runs_lists_jobs_of_both(store: Store) -> None:
    store.store_github_run(REPO, [_attempt()], [_job("1", "a")])
    store.store_github_run(REPO, [_attempt(2), _attempt()], [_job("1", "a"), _job("9", "a", 2)])
    versions = store.run_versions(REPO)
    assert versions["555"].attempts == frozenset({1, 2})
    assert versions["555"].latest_attempt == 2
    (run,) = store.list_runs()
    assert run.attempt == 2 and [a.attempt for a in run.attempts] == [1, 2]
    assert [(j.name, j.attempt) for j in run.jobs] == [("a", 1), ("a", 2)]
    assert run.jobs[0].queued_seconds == 60.0
    assert store.run_count() == 1


def test_junit_report_made_before_the_sync_joins_the_synced_job(store: Store) -> None:
    run = RunInfo("github", REPO, "555", 1, job="test")
    case = TestCase("s", "c", "t", "", 0.1, "failed")
    store.add_reports(run, [ReportInput("r.xml", "d", 1, [case])], now=FIXED_NOW)
    store.store_github_run(REPO, [_attempt()], [_job("1", "test (ubuntu)"), _job("2", "lint")])
    (summary,) = store.list_runs()
    assert sorted(j.name for j in summary.jobs) == ["lint", "test (ubuntu)"]
    assert summary.conclusion == "success"  # the provider's word, not the reports'
    assert summary.tests == 1


def test_junit_report_after_the_sync_joins_the_synced_job(store: Store) -> None:
    store.store_github_run(REPO, [_attempt()], [_job("1", "test"), _job("2", "lint")])
    run = RunInfo("github", REPO, "555", 1, job="test")
    store.add_reports(
        run,
        [ReportInput("r.xml", "d", 1, [TestCase("s", "c", "t", "", 0.1, "passed")])],
        now=FIXED_NOW,
    )
    (summary,) = store.list_runs()
    assert sorted(j.name for j in summary.jobs) == ["lint", "test"]


@pytest.mark.parametrize(
    ("names", "wanted", "expected"),
    [
        ([(1, "test"), (2, "test (a)")], "test", 1),
        ([(1, "test (a)"), (2, "lint")], "test", 1),
        ([(1, "test (a)"), (2, "test (b)")], "test", None),
        ([(1, "lint")], "test", None),
        ([(1, "tests")], "test", None),
    ],
)
def test_match_job(names: list[tuple[int, str]], wanted: str, expected: int | None) -> None:
    assert match_job(names, wanted) == expected


def test_artifacts_workflows_cache_and_cursor(store: Store) -> None:
    artifact = ArtifactRecord("7", "555", "wheels", 123_456, "sha256:ab", False, T0, T0, T0)
    assert store.upsert_artifacts(REPO, [artifact]) == 1
    assert store.upsert_artifacts(REPO, [replace(artifact, expired=True)]) == 0
    workflow = WorkflowRecord("77", "tests-all", ".github/workflows/tests.yml", "active", T0, T0)
    assert store.upsert_workflows(REPO, [workflow, workflow]) == 1
    store.add_cache_usage(REPO, CacheUsage(3, 9_000_000), taken_at=FIXED_NOW)
    assert store.sync_state(REPO).cursor is None
    store.set_sync_state(REPO, cursor=T0, synced_at=FIXED_NOW)
    store.set_sync_state(REPO, cursor=T0 + timedelta(days=1), synced_at=FIXED_NOW)
    assert store.sync_state(REPO).cursor == T0 + timedelta(days=1)
    counts = store.counts()
    assert (counts["artifacts"], counts["workflows"], counts["cache_usage"]) == (1, 1, 1)


def test_etag_cache_round_trip(store: Store) -> None:
    url = "https://api.github.com/repos/acme/widgets/actions/runs?per_page=100"
    assert store.cached_etag(REPO, url) is None
    store.save_etag(REPO, url, 'W/"1"', None)
    store.save_etag(REPO, url, 'W/"2"', url + "&page=2")
    cached = store.cached_etag(REPO, url)
    assert cached is not None and (cached.etag, cached.next_url) == ('W/"2"', url + "&page=2")
