"""The GitHub Actions sync against a faithful fake of the API (tests/github_fake.py)."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from pilothouse.github_sync import SEARCH_CAP, plan_sync, sync_github
from pilothouse.sources.github import GitHubApi, GitHubError, Policy, Token
from pilothouse.store import Store

from .conftest import JUNIT, Cli
from .github_fake import FakeGitHub

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
REPO = "hypha-labs/hypha"


@dataclass
class Harness:
    fake: FakeGitHub
    store: Store
    waits: list[float] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    max_wait: float = 900.0

    def api(self) -> GitHubApi:
        def sleep(seconds: float) -> None:
            self.waits.append(seconds)
            self.fake.now += timedelta(seconds=seconds)

        return GitHubApi(
            httpx.Client(transport=self.fake.transport()),
            Token(self.fake.token, "GITHUB_TOKEN"),
            policy=Policy(max_wait_seconds=self.max_wait),
            sleep=sleep,
            clock=lambda: self.fake.now,
            rng=random.Random(1),
            notify=self.messages.append,
        )

    def sync(self, **kwargs: object):  # type: ignore[no-untyped-def]
        return sync_github(self.store, self.api(), REPO, now=self.fake.now, **kwargs)


@pytest.fixture
def gh(store: Store) -> Iterator[Harness]:
    yield Harness(FakeGitHub(REPO, clock_start=NOW), store)


def _history(fake: FakeGitHub, runs: int, *, jobs: int = 4, days: float = 10) -> list[dict]:
    fake.add_workflow("tests-all", ".github/workflows/tests.yml")
    made = []
    for i in range(runs):
        created = NOW - timedelta(days=days) + timedelta(days=days) * i / max(runs, 1)
        made.append(fake.add_run(workflow="tests-all", created_at=created, jobs=jobs))
    return made


def test_first_sync_stores_everything(gh: Harness) -> None:
    runs = _history(gh.fake, 5, jobs=3)
    gh.fake.add_artifact(runs[0]["id"], "wheels", 12_345_678)
    gh.fake.add_artifact(runs[1]["id"], "coverage", 99_000)
    gh.fake.set_cache_usage(12, 3_400_000_000)
    counts = gh.sync()
    stored = gh.store.counts()
    assert (counts.runs, counts.jobs, counts.artifacts) == (5, 15, 2)
    assert counts.steps == stored["steps"] > 15 * 3 - 1
    assert (stored["workflows"], stored["cache_usage"]) == (1, 1)
    assert counts.requests == gh.fake.count() == 1 + 5 + 1 + 1 + 1
    listed = gh.store.list_runs()
    assert {r.id for r in listed} == {str(r["id"]) for r in runs}
    job = listed[0].jobs[0]
    assert job.runner_labels == ("ubuntu-latest",)
    assert job.queued_seconds is not None and job.queued_seconds > 0
    assert listed[0].duration_seconds is not None and listed[0].duration_seconds > 0


def test_second_sync_with_no_change_costs_a_handful_of_free_requests(gh: Harness) -> None:
    _history(gh.fake, 30)
    gh.sync()
    before, billable = gh.store.counts(), gh.fake.billable
    counts = gh.sync()
    assert gh.store.counts()["runs"] == before["runs"]
    assert (counts.runs, counts.jobs, counts.steps, counts.artifacts) == (0, 0, 0, 0)
    assert counts.requests <= 4
    # The first incremental sync lists by date (a new URL); from then on the
    # listings answer 304 Not Modified, free of quota: only the cache snapshot costs.
    assert gh.fake.billable - billable <= 2
    billable = gh.fake.billable
    assert gh.sync().requests <= 4
    assert gh.fake.billable - billable == 1


def test_pagination_follows_link_headers(gh: Harness) -> None:
    _history(gh.fake, 250, jobs=1)
    counts = gh.sync()
    assert counts.runs == 250 and gh.store.run_count() == 250
    assert gh.fake.count("/actions/runs?") == 3


def test_window_over_the_search_cap_is_bisected(gh: Harness) -> None:
    _history(gh.fake, 1_200, jobs=0, days=4)
    counts = gh.sync(since=NOW - timedelta(days=5))
    assert counts.runs == 1_200 and gh.store.run_count() == 1_200
    listed = [r for r in gh.fake.requests if r.url.path.endswith("/actions/runs")]
    assert any(".." in r.url.params.get("created", "") for r in listed)
    assert all(int(r.url.params.get("page", "1")) <= SEARCH_CAP // 100 for r in listed)


def test_502_is_retried_with_backoff(gh: Harness) -> None:
    _history(gh.fake, 2)
    gh.fake.fail(f"/repos/{REPO}/actions/runs", status=502, times=2)
    counts = gh.sync()
    assert counts.runs == 2
    assert len(gh.waits) == 2 and 1.0 <= gh.waits[0] < 2.0 and 2.0 <= gh.waits[1] < 4.0


def test_network_errors_are_retried_then_reported(gh: Harness) -> None:
    _history(gh.fake, 1)
    gh.fake.disconnect(f"/repos/{REPO}/actions", times=2)
    assert gh.sync().runs == 1
    gh.fake.disconnect(f"/repos/{REPO}/actions", times=20)
    with pytest.raises(GitHubError, match=r"cannot reach GitHub \(network error"):
        gh.sync(full=True)


def test_secondary_rate_limit_waits_retry_after(gh: Harness) -> None:
    _history(gh.fake, 2)
    gh.fake.secondary_rate_limit(f"/repos/{REPO}/actions/runs", retry_after=7)
    assert gh.sync().runs == 2
    assert gh.waits == [7.0]
    assert gh.messages == ["GitHub secondary rate limit: waiting 7 s"]


def test_primary_rate_limit_waits_until_reset(gh: Harness) -> None:
    _history(gh.fake, 2)
    gh.fake.primary_rate_limit(f"/repos/{REPO}/actions/runs", reset_in=30, status=429)
    assert gh.sync().runs == 2
    assert gh.waits == [pytest.approx(31.0, abs=1.0)]
    assert gh.messages[0].startswith("GitHub rate limit exhausted: waiting")


def test_rate_limit_wait_is_bounded(gh: Harness) -> None:
    _history(gh.fake, 1)
    gh.max_wait = 60
    gh.fake.primary_rate_limit(f"/repos/{REPO}/actions/runs", reset_in=3600)
    with pytest.raises(GitHubError, match="would exceed the bound of 60 s"):
        gh.sync()
    assert gh.waits == []


def test_run_in_progress_at_first_sync_is_finished_at_second(gh: Harness) -> None:
    _history(gh.fake, 2)
    running = gh.fake.add_run(
        workflow="tests-all",
        created_at=NOW - timedelta(days=6),
        status="in_progress",
        conclusion=None,
    )
    gh.sync()
    assert gh.store.unfinished_runs(REPO) == [str(running["id"])]
    gh.fake.now += timedelta(days=5)  # the run is now older than the lookback window
    gh.fake.finish_run(running["id"], "failure", at=gh.fake.now)
    gh.sync()
    assert gh.store.unfinished_runs(REPO) == []
    (run,) = [r for r in gh.store.list_runs() if r.id == str(running["id"])]
    assert (run.status, run.conclusion) == ("completed", "failure")
    assert gh.fake.count(f"/actions/runs/{running['id']}") >= 2


def test_rerun_adds_attempt_two(gh: Harness) -> None:
    (first, second) = _history(gh.fake, 2, jobs=2, days=1)
    gh.sync()
    gh.fake.rerun(first["id"], at=NOW + timedelta(hours=1))
    gh.fake.now += timedelta(hours=2)
    counts = gh.sync()
    assert (counts.runs, counts.jobs) == (1, 2)
    run = next(r for r in gh.store.list_runs() if r.id == str(first["id"]))
    assert run.attempt == 2 and [a.attempt for a in run.attempts] == [1, 2]
    assert sorted(j.attempt for j in run.jobs) == [1, 1, 2, 2]


def test_a_run_first_seen_at_attempt_three_gets_all_attempts(gh: Harness) -> None:
    (run,) = _history(gh.fake, 1, jobs=1, days=1)
    gh.fake.rerun(run["id"], at=NOW)
    gh.fake.rerun(run["id"], at=NOW + timedelta(minutes=30))
    counts = gh.sync()
    assert (counts.runs, counts.jobs) == (3, 3)
    assert gh.fake.count("/attempts/1") == 1 and gh.fake.count("/attempts/2") == 1


def test_failure_mid_sync_leaves_whole_runs_and_keeps_the_cursor(gh: Harness) -> None:
    runs = _history(gh.fake, 3, jobs=2)
    gh.fake.fail(f"/repos/{REPO}/actions/runs/{runs[1]['id']}/jobs", status=500, times=50)
    with pytest.raises(GitHubError, match="answered HTTP 500 after 6 tries"):
        gh.sync()
    stored = {r.id: len(r.jobs) for r in gh.store.list_runs()}
    assert stored == {str(runs[2]["id"]): 2}  # newest first; the failing one is absent
    assert gh.store.sync_state(REPO).cursor is None
    gh.fake._faults.clear()
    gh.sync()
    assert gh.store.run_count() == 3 and gh.store.sync_state(REPO).cursor is not None


@pytest.mark.parametrize(
    ("token", "repo", "match"),
    [
        ("wrong", REPO, r"refused the token from \$GITHUB_TOKEN \(401"),
        (None, "hypha-labs/nope", "not found .404.: the repository does not exist or the token"),
    ],
)
def test_auth_and_missing_repository(gh: Harness, token: str | None, repo: str, match: str) -> None:
    api = gh.api()
    if token:
        api.token = Token(token, "GITHUB_TOKEN")
    with pytest.raises(GitHubError, match=match) as caught:
        sync_github(gh.store, api, repo, now=NOW)
    assert gh.fake.token not in str(caught.value)


def test_workflow_filter(gh: Harness) -> None:
    _history(gh.fake, 3)
    gh.fake.add_workflow("release", ".github/workflows/release.yml")
    gh.fake.add_run(workflow="release", created_at=NOW - timedelta(hours=1))
    counts = gh.sync(workflow="release")
    assert counts.runs == 1
    assert {r.workflow for r in gh.store.list_runs()} == {"release"}


def test_plan_sync_windows() -> None:
    cursor = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
    assert plan_sync(cursor=None, since=None, full=False, workflow=None).start is None
    assert plan_sync(cursor=cursor, since=None, full=True, workflow=None).start is None
    incremental = plan_sync(cursor=cursor, since=None, full=False, workflow=None)
    assert incremental.created_filter == ">=2026-11-17"
    since = plan_sync(cursor=cursor, since=cursor - timedelta(days=30), full=False, workflow=None)
    assert since.created_filter == ">=2026-10-21"


# -- the CLI over a real loopback HTTP server ----------------------------------------------


def test_cli_over_loopback_never_shows_the_token(tmp_path: Path) -> None:
    fake = FakeGitHub(REPO, token="ghp_SECRET_never_print_me", clock_start=NOW)
    _history(fake, 4, jobs=2)
    db = tmp_path / "store.db"
    cli = Cli(cwd=tmp_path, db=f"sqlite:///{db}", now=NOW)
    cli.env["GH_TOKEN"] = fake.token
    with fake.serve() as url:
        code, out, err = cli(
            "--debug", "ingest", "github", "--repo", REPO, "--api-url", url, "--json"
        )
        assert code == 0, err
        assert '"runs": 4' in out and '"jobs": 8' in out
        code, out2, err2 = cli("ingest", "github", "--repo", REPO, "--api-url", url)
        assert code == 0 and "0 run attempts" in out2
    for text in (out, err, out2, err2):
        assert fake.token not in text
    assert fake.token.encode() not in db.read_bytes()
    runs = cli.json("runs")["runs"]
    assert len(runs) == 4 and all(len(r["jobs"]) == 2 for r in runs)
    assert all(j["queued_seconds"] is not None for r in runs for j in r["jobs"])


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    cli = Cli(cwd=tmp_path, db=f"sqlite:///{tmp_path / 's.db'}")
    code, _out, err = cli("ingest", "github", "--repo", REPO)
    assert code == 1 and err == (
        "pilothouse: error: no GitHub token: set GITHUB_TOKEN (or GH_TOKEN) to a token "
        "with actions:read\n"
    )
    cli.env["GITHUB_TOKEN"] = "t"
    code, _out, err = cli(
        "ingest", "github", "--repo", REPO, "--api-url", "http://127.0.0.1:9", "--max-wait", "0"
    )
    assert code == 1 and "cannot reach GitHub" in err and err.count("\n") == 1
    code, _out, err = cli("ingest", "github", "--repo", "nope", "--api-url", "http://127.0.0.1:9")
    assert code == 2 and "expected OWNER/NAME" in err


def test_junit_ingested_in_a_job_joins_the_synced_run(tmp_path: Path) -> None:
    fake = FakeGitHub(REPO, clock_start=NOW)
    (run,) = _history(fake, 1, jobs=2, days=1)
    job_names = [
        j["name"]
        for j in fake.handler(
            httpx.Request(
                "GET",
                f"https://api.github.com/repos/{REPO}/actions/runs/{run['id']}/jobs",
                headers={"Authorization": f"Bearer {fake.token}"},
            )
        ).json()["jobs"]
    ]
    cli = Cli(cwd=tmp_path, db=f"sqlite:///{tmp_path / 's.db'}", now=NOW)
    cli.env.update(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_RUN_ID": str(run["id"]),
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_JOB": job_names[0],
            "GITHUB_TOKEN": fake.token,
        }
    )
    cli.json("ingest", "junit", str(JUNIT / "nextest" / "fixture-project-junit.xml"))
    with fake.serve() as url:
        code, _out, err = cli("ingest", "github", "--repo", REPO, "--api-url", url)
        assert code == 0, err
    (stored,) = cli.json("runs")["runs"]
    assert sorted(j["name"] for j in stored["jobs"]) == sorted(job_names)
    assert stored["tests"] > 0 and stored["workflow"] == "tests-all"


# -- regressions found in review ---------------------------------------------------------------


def test_workflow_filter_does_not_hide_other_runs_from_a_later_sync(gh: Harness) -> None:
    gh.fake.add_workflow("a", ".github/workflows/a.yml")
    gh.fake.add_workflow("b", ".github/workflows/b.yml")
    for i in range(3):
        gh.fake.add_run(workflow="a", created_at=NOW - timedelta(days=1, hours=i), jobs=1)
        gh.fake.add_run(workflow="b", created_at=NOW - timedelta(days=1, hours=i), jobs=1)
    gh.sync(since=NOW - timedelta(days=2), workflow="a")
    assert gh.store.run_count() == 3
    gh.sync(since=NOW - timedelta(days=2))
    assert gh.store.run_count() == 6


def test_an_attempt_stored_while_running_is_refreshed_after_a_rerun(gh: Harness) -> None:
    gh.fake.add_workflow("a", ".github/workflows/a.yml")
    run = gh.fake.add_run(workflow="a", created_at=NOW - timedelta(hours=2), status="in_progress",
                          conclusion=None, jobs=2)  # fmt: skip
    gh.sync()
    gh.fake.now += timedelta(hours=1)
    gh.fake.finish_run(run["id"], "failure", at=gh.fake.now - timedelta(minutes=30))
    gh.fake.rerun(run["id"], at=gh.fake.now - timedelta(minutes=20))
    gh.sync()
    (stored,) = gh.store.list_runs()
    assert [(a.attempt, a.status, a.conclusion) for a in stored.attempts] == [
        (1, "completed", "failure"),
        (2, "completed", "success"),
    ]
    assert all(job.status == "completed" for job in stored.jobs)


def test_a_deleted_unfinished_run_does_not_break_later_syncs(gh: Harness) -> None:
    _history(gh.fake, 2)
    running = gh.fake.add_run(workflow="tests-all", created_at=NOW - timedelta(days=9),
                              status="in_progress", conclusion=None)  # fmt: skip
    gh.sync()
    assert gh.store.unfinished_runs(REPO) == [str(running["id"])]
    gh.fake._runs.pop(running["id"])  # deleted on GitHub
    gh.fake.now += timedelta(days=1)
    gh.sync()
    assert gh.store.unfinished_runs(REPO) == []
    assert gh.store.sync_state(REPO).cursor is not None


def test_an_interrupted_artifact_walk_is_completed_later(gh: Harness) -> None:
    runs = _history(gh.fake, 150, jobs=0, days=20)
    for run in runs:
        gh.fake.add_artifact(run["id"], "wheels", 1000)
    inner = gh.fake.handler
    failed = {"once": False}

    def flaky_page_two(request: httpx.Request) -> httpx.Response:
        if (
            request.url.path.endswith("/actions/artifacts")
            and request.url.params.get("page") == "2"
            and not failed["once"]
        ):
            failed["once"] = True
            return httpx.Response(401, json={"message": "Bad credentials"})
        return inner(request)

    gh.fake.handler = flaky_page_two  # type: ignore[method-assign]
    with pytest.raises(GitHubError):
        gh.sync()
    gh.sync()
    assert gh.store.counts()["artifacts"] == 150


def test_the_token_never_leaves_the_api_host(gh: Harness) -> None:
    api = gh.api()
    with pytest.raises(GitHubError, match="refusing to send the token to a host other than"):
        api.get("https://evil.example/repos/x")
    assert gh.fake.count() == 0


# -- what is retried: only what can succeed on retry -----------------------------------------


@dataclass
class Recorded:
    """A client whose waits are recorded instead of slept."""

    waits: list[float] = field(default_factory=list)

    def api(self, client: httpx.Client, api_url: str = "https://api.github.com") -> GitHubApi:
        return GitHubApi(
            client,
            Token("t", "GITHUB_TOKEN"),
            api_url=api_url,
            sleep=self.waits.append,
            clock=lambda: NOW,
            rng=random.Random(1),
        )


def _closed_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_name_that_does_not_resolve_is_not_retried() -> None:
    recorded = Recorded()
    api = recorded.api(httpx.Client(), "https://api.pilothouse-test.invalid")
    with pytest.raises(GitHubError, match=r"cannot resolve the host name .*; not retried"):
        api.get(f"/repos/{REPO}/actions/runs")
    assert (api.requests, recorded.waits) == (1, [])


def test_a_refused_connection_gets_a_couple_of_quick_tries() -> None:
    recorded = Recorded()
    api = recorded.api(httpx.Client(), f"http://127.0.0.1:{_closed_loopback_port()}")
    with pytest.raises(GitHubError, match=r"connection refused\) after 3 tries"):
        api.get(f"/repos/{REPO}/actions/runs")
    assert api.requests == 3 and len(recorded.waits) == 2
    assert 0.5 <= recorded.waits[0] < 1.0 and 1.0 <= recorded.waits[1] < 2.0


def test_timeouts_are_retried_with_backoff() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) <= 2:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, json={"total_count": 0, "workflow_runs": []})

    recorded = Recorded()
    api = recorded.api(httpx.Client(transport=httpx.MockTransport(handler)))
    assert api.get(f"/repos/{REPO}/actions/runs").data == {"total_count": 0, "workflow_runs": []}
    assert len(recorded.waits) == 2 and 1.0 <= recorded.waits[0] < 2.0


@pytest.mark.parametrize(
    ("status", "body", "match"),
    [
        (400, {"message": "Bad Request"}, "HTTP 400: Bad Request"),
        (403, {"message": "Resource not accessible by integration"}, "forbidden"),
        (404, {"message": "Not Found"}, "not found"),
        (410, {"message": "Gone"}, "HTTP 410"),
        (422, {"message": "Validation Failed"}, "HTTP 422: Validation Failed"),
    ],
)
def test_client_errors_other_than_rate_limits_are_not_retried(
    status: int, body: dict[str, str], match: str
) -> None:
    transport = httpx.MockTransport(lambda _request: httpx.Response(status, json=body))
    recorded = Recorded()
    api = recorded.api(httpx.Client(transport=transport))
    with pytest.raises(GitHubError, match=match):
        api.get(f"/repos/{REPO}/actions/runs")
    assert (api.requests, recorded.waits) == (1, [])


@pytest.mark.parametrize(
    "url",
    ["not-a-url", "ftp://api.github.com", "https://", "api.github.com", "https://u:p@ghe.example"],
)
def test_the_api_url_is_checked_before_any_request(tmp_path: Path, url: str) -> None:
    cli = Cli(cwd=tmp_path, db=f"sqlite:///{tmp_path / 's.db'}")
    cli.env["GITHUB_TOKEN"] = "t"
    code, out, err = cli("ingest", "github", "--repo", REPO, "--api-url", url)
    assert (code, out) == (2, "")
    assert "Invalid value for --api-url:" in err
    assert "not an http(s) URL" in err or "takes no credentials" in err
    assert ":p@" not in err
    with pytest.raises(GitHubError, match="http"):
        Recorded().api(httpx.Client(), url)


@pytest.mark.parametrize("status", [200, 400])
def test_json_nested_too_deeply_is_no_api_answer(status: int) -> None:
    deep = b"[" * 200_000  # json's recursion limit, not a ValueError
    transport = httpx.MockTransport(lambda _request: httpx.Response(status, content=deep))
    api = Recorded().api(httpx.Client(transport=transport))
    with pytest.raises(GitHubError, match=r"answer is not JSON \(HTTP 200\)|HTTP 400: \[\[\["):
        api.get(f"/repos/{REPO}/actions/runs")
