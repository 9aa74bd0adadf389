"""`pilothouse ci run`: dispatch a workflow, find its run, follow it, store it; against the
loopback fake GitHub (tests/github_fake.py, DispatchGitHub)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pilothouse.ci import watch
from pilothouse.ci.dispatch import pick_run
from pilothouse.ci.workflow import (
    DispatchInput,
    DispatchTrigger,
    check_inputs,
    dispatch_trigger,
    parse_inputs,
)
from pilothouse.errors import ConfigError, InputError
from tests.conftest import Cli
from tests.github_fake import DispatchGitHub, FakeGitHub

REPO = "hypha-labs/hypha"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
DATA = Path(__file__).parent / "data"
DISPATCHABLE = """\
name: nightly
on:
  schedule:
    - cron: "0 2 * * *"
  workflow_dispatch:
    inputs:
      level:
        type: choice
        options: [quick, full]
        default: quick
      note:
        required: false
permissions:
  contents: read
jobs:
  test:
    runs-on: ubuntu-latest
    timeout-minutes: 30
    steps:
      - run: echo hi
"""
PUSH_ONLY = """\
name: ci
on:
  push:
    branches: [main]
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: true
"""


def _fake(**kwargs: object) -> DispatchGitHub:
    fake = DispatchGitHub(REPO, clock_start=NOW, **kwargs)  # type: ignore[arg-type]
    fake.add_workflow_file("nightly", ".github/workflows/nightly.yml", DISPATCHABLE)
    fake.add_workflow_file("ci", ".github/workflows/ci.yml", PUSH_ONLY)
    return fake


def _cli(tmp_path: Path, fake: FakeGitHub, db: str | None = None) -> Cli:
    cli = Cli(cwd=tmp_path, db=db or f"sqlite:///{tmp_path / 'store.db'}", now=NOW)
    cli.env.update(GH_TOKEN=fake.token, GITHUB_REPOSITORY=REPO)
    return cli


def _run(cli: Cli, url: str, *args: str) -> tuple[int, str, str]:
    return cli("ci", "run", *args, "--api-url", url, "--interval", "0")


# -- the workflow file (pure) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "inputs"),
    [
        ("on: workflow_dispatch\njobs: {}", ()),
        ("on: [push, workflow_dispatch]\njobs: {}", ()),
        ('"on":\n  workflow_dispatch:\njobs: {}', ()),
        (DISPATCHABLE, ("level", "note")),
        (
            "on:\n  workflow_dispatch:\n    inputs:\n      debug:\n        type: boolean\n"
            "        default: true\n        required: true\njobs: {}",
            ("debug",),
        ),  # fmt: skip
    ],
)
def test_dispatch_trigger_is_read_in_every_form(text: str, inputs: tuple[str, ...]) -> None:
    trigger = dispatch_trigger(text, source="w.yml")
    assert trigger is not None
    assert tuple(i.name for i in trigger.inputs) == inputs


@pytest.mark.parametrize("text", [PUSH_ONLY, "on: push", "on: [push, pull_request]", "[]", ""])
def test_no_dispatch_trigger_is_none(text: str) -> None:
    assert dispatch_trigger(text, source="w.yml") is None


def test_a_boolean_default_is_sent_as_github_writes_it() -> None:
    text = "on:\n  workflow_dispatch:\n    inputs:\n      debug:\n        default: true\njobs: {}"
    trigger = dispatch_trigger(text, source="w.yml")
    assert trigger is not None and trigger.inputs[0].default == "true"


def test_broken_yaml_names_the_file_and_line() -> None:
    with pytest.raises(InputError, match=r"^w\.yml:3: not valid YAML \(mapping values"):
        dispatch_trigger("on: workflow_dispatch\njobs: a\n  b: c\n", source="w.yml")


def test_inputs_parse_and_refuse_what_github_would() -> None:
    assert parse_inputs(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_inputs(["novalue"])
    trigger = DispatchTrigger(
        (DispatchInput("level", options=("quick", "full")), DispatchInput("tag", required=True))
    )
    check_inputs(trigger, {"tag": "v1", "level": "full"}, source="w.yml")
    with pytest.raises(ConfigError, match="declares no input bogus"):
        check_inputs(trigger, {"tag": "v1", "bogus": "1"}, source="w.yml")
    with pytest.raises(ConfigError, match="input tag is required"):
        check_inputs(trigger, {}, source="w.yml")
    with pytest.raises(ConfigError, match="not one of quick, full"):
        check_inputs(trigger, {"tag": "v1", "level": "slow"}, source="w.yml")


def test_pick_run_matches_as_gh_workflow_run_does() -> None:
    since = NOW - timedelta(minutes=1)

    def run(run_id: int, **changes: object) -> dict[str, object]:
        base = {"id": run_id, "workflow_id": 7, "event": "workflow_dispatch",
                "head_branch": "main", "created_at": "2026-11-30T12:00:05Z"}  # fmt: skip
        return {**base, **changes}

    runs = [
        run(1, event="push"),
        run(2, head_branch="dev"),
        run(3, workflow_id=8),
        run(4, created_at="2026-11-30T11:50:00Z"),
        run(5),  # listed before the dispatch
        run(7, created_at="2026-11-30T12:00:09Z"),
        run(6),
    ]
    picked = pick_run(runs, workflow_id=7, ref="main", since=since, known={5})
    assert picked is not None and picked["id"] == 6
    assert pick_run(runs[:5], workflow_id=7, ref="main", since=since, known={5}) is None
    full = pick_run(runs, workflow_id=7, ref="refs/heads/main", since=since, known={5})
    assert full is not None and full["id"] == 6


# -- following a run ------------------------------------------------------------------------


def test_watch_follows_a_run_to_success_and_exits_0(tmp_path: Path) -> None:
    fake = _fake()
    cli = _cli(tmp_path, fake)
    with fake.serve() as url:
        code, out, err = _run(cli, url, "nightly.yml", "--input", "level=full", "--watch")
    assert code == 0, err
    assert fake.dispatches == [
        {"ref": "main", "inputs": {"level": "full"}, "return_run_details": True}
    ]
    run_id = next(iter(fake._runs))
    assert f"dispatched on main: run {run_id}" in err
    lines = out.splitlines()
    assert lines[0] == f"run {run_id} (nightly, attempt 1): queued"
    assert f"run {run_id} (nightly, attempt 1): in_progress" in lines
    assert f"run {run_id} (nightly, attempt 1): success" in lines
    assert lines[-1].startswith(f"https://github.com/{REPO}/actions/runs/{run_id}: success in ")
    # every job went through its states, and finished jobs and steps say how long they took
    for job in fake._runs[run_id].attempts[-1].jobs:
        assert any(line.startswith(f"job {job['name']}: success (") for line in lines)
    assert any(line.startswith("step ") and "success (" in line for line in lines)
    # unchanged answers between state changes came back as free 304s
    statuses = [r for r in fake.requests if "/actions/runs/" in r.url.path]
    assert any("if-none-match" in r.headers for r in statuses)
    assert fake.billable < len(fake.requests)
    assert fake.token not in out + err


@pytest.mark.parametrize("outcome", ["failure", "cancelled", "timed_out"])
def test_watch_exits_1_when_the_run_does_not_succeed(tmp_path: Path, outcome: str) -> None:
    fake = _fake()
    fake.outcome = outcome
    with fake.serve() as url:
        code, out, err = _run(_cli(tmp_path, fake), url, "nightly", "--watch")
    assert code == 1
    assert f": {outcome} in " in out.splitlines()[-1]
    assert f"ended {outcome}" in err


def test_an_older_server_gets_no_run_details_and_the_run_is_found(tmp_path: Path) -> None:
    fake = _fake(old_server=True, hidden_listings=3)
    with fake.serve() as url:
        code, out, err = _run(_cli(tmp_path, fake), url, ".github/workflows/nightly.yml", "--watch")
    assert code == 0, err
    assert fake.dispatches == [{"ref": "main", "inputs": {}}]
    listings = [r for r in fake.requests if r.url.path.endswith("/runs")]
    assert len(listings) >= 4  # one before the dispatch, then until the run showed up
    assert all(r.url.params["event"] == "workflow_dispatch" for r in listings)
    assert all(r.url.params["created"].startswith(">=2026-11-30T11:59") for r in listings)
    run_id = next(iter(fake._runs))
    assert f"run {run_id}" in err


def test_a_run_started_by_someone_else_before_is_not_taken(tmp_path: Path) -> None:
    fake = _fake(old_server=True, hidden_listings=2)
    other = fake.add_run(
        workflow="nightly", created_at=NOW - timedelta(seconds=20), event="workflow_dispatch"
    )
    with fake.serve() as url:
        code, _out, err = _run(_cli(tmp_path, fake), url, "nightly.yml")
    assert code == 0, err
    assert str(other["id"]) not in err
    assert max(fake._runs) != other["id"] and f"run {max(fake._runs)}" in err


def test_without_watch_it_dispatches_and_returns(tmp_path: Path) -> None:
    fake = _fake()
    with fake.serve() as url:
        code, out, err = _run(_cli(tmp_path, fake), url, "nightly.yml", "--ref", "main")
    assert code == 0, err
    assert out == "" and "dispatched on main" in err
    assert fake.count("/jobs") == 0


def test_default_ref_is_the_repository_default_branch(tmp_path: Path) -> None:
    fake = _fake(branches=("trunk",))
    with fake.serve() as url:
        code, _out, err = _run(_cli(tmp_path, fake), url, "nightly.yml")
    assert code == 0, err
    assert fake.dispatches[0]["ref"] == "trunk"


# -- refusals, before anything is dispatched -----------------------------------------------


def test_remote_workflow_without_the_trigger_names_the_file(tmp_path: Path) -> None:
    fake = _fake()
    with fake.serve() as url:
        code, _out, err = _run(_cli(tmp_path, fake), url, "ci.yml", "--watch")
    assert code == 1
    assert err.startswith(
        "pilothouse: error: .github/workflows/ci.yml@main: the workflow has no "
        "workflow_dispatch trigger"
    )
    assert fake.dispatches == [] and fake.count("/dispatches") == 0


def test_the_local_file_is_read_when_the_checkout_has_it(tmp_path: Path) -> None:
    fake = _fake()
    local = tmp_path / ".github" / "workflows" / "nightly.yml"
    local.parent.mkdir(parents=True)
    local.write_text(PUSH_ONLY)  # edited locally: the trigger removed
    with fake.serve() as url:
        code, _out, err = _run(_cli(tmp_path, fake), url, "nightly.yml")
    assert code == 1
    assert f"{local}: the workflow has no workflow_dispatch trigger" in err
    assert fake.count("/contents/") == 0 and fake.count("/dispatches") == 0


def test_github_refusing_the_trigger_names_the_file(tmp_path: Path) -> None:
    """The local file has the trigger, the pushed one does not: GitHub's 422 is explained."""
    fake = _fake()
    local = tmp_path / ".github" / "workflows" / "ci.yml"
    local.parent.mkdir(parents=True)
    local.write_text("on: workflow_dispatch\njobs: {}\n")
    with fake.serve() as url:
        code, _out, err = _run(_cli(tmp_path, fake), url, "ci.yml")
    assert code == 1
    assert (
        "error: .github/workflows/ci.yml: GitHub says the workflow has no workflow_dispatch" in err
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nightly.yml", "--input", "bogus=1"], "declares no input bogus"),
        (["nightly.yml", "--input", "level=slow"], "is not one of quick, full"),
        (["missing.yml"], "no workflow 'missing.yml' registered"),
        (["Nightly Build"], "no workflow named 'Nightly Build' (registered: ci, nightly)"),
        (
            ["nightly.yml", "--ref", "nope"],
            "nightly.yml@nope: not on GitHub (no branch or tag 'nope'",
        ),
    ],
)
def test_refusals_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    fake = _fake()
    with fake.serve() as url:
        code, _out, err = _run(_cli(tmp_path, fake), url, *args)
    assert code == 1, err
    assert message in err and len(err.splitlines()) == 1
    assert fake.dispatches == []


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    fake = _fake()
    cli = _cli(tmp_path, fake)
    code, _out, err = cli("ci", "run", "nightly.yml", "--input", "novalue")
    assert code == 2 and "NAME=VALUE" in err
    cli.env.pop("GITHUB_REPOSITORY")
    code, _out, err = cli("ci", "run", "nightly.yml", "--repo", "nope")
    assert code == 2 and "OWNER/NAME" in err


def test_no_token_is_a_clear_error(tmp_path: Path) -> None:
    fake = _fake()
    cli = _cli(tmp_path, fake)
    cli.env.pop("GH_TOKEN")
    code, _out, err = cli("ci", "run", "nightly.yml", "--api-url", "http://127.0.0.1:9")
    assert code == 1 and "no GitHub token" in err


# -- --ingest: the finished run and its JUnit artifacts into the store ----------------------


def test_ingest_stores_the_run_and_its_junit_artifacts(tmp_path: Path, store_url: str) -> None:
    fake = _fake()
    report = (DATA / "junit" / "nextest" / "fixture-project-junit.xml").read_bytes()
    fake.uploads = [
        ("junit-linux", {"target/nextest/ci/junit.xml": report, "notes.txt": b"x"}),
        ("dist", {"a.xml": b"<not-a-report/>"}),
    ]
    cli = _cli(tmp_path, fake, store_url)
    with fake.serve() as url:
        code, out, err = _run(cli, url, "nightly.yml", "--ingest")
    assert code == 0, err
    run_id = next(iter(fake._runs))
    assert f"run {run_id} stored: 1 run attempts, 3 jobs" in out
    assert "1 JUnit report(s) from 1 artifact(s)" in out
    runs = cli.json("runs")["runs"]
    assert [r["id"] for r in runs] == [str(run_id)]
    assert runs[0]["conclusion"] == "success" and len(runs[0]["jobs"]) == 3
    assert runs[0]["tests"] == 3 and runs[0]["failed_tests"] == 1  # the report joined the run
    tests = cli.json("tests")
    assert tests["tests"] and all(t["runs"] == 1 for t in tests["tests"])
    # the storage host got no token; the signed URL's query was never shown
    storage = [r for r in fake.requests if r.url.path.startswith("/_storage/")]
    assert storage and all("authorization" not in r.headers for r in storage)
    assert "secret-signature" not in out + err


def test_ingest_leaves_the_sync_cursor_alone(tmp_path: Path) -> None:
    fake = _fake()
    cli = _cli(tmp_path, fake)
    with fake.serve() as url:
        assert _run(cli, url, "nightly.yml", "--ingest")[0] == 0
    from pilothouse.store import Store

    with Store.open(cli.db) as store:
        assert store.sync_state(REPO).cursor is None


# -- rendering (pure) -----------------------------------------------------------------------


def _view(status: str, conclusion: str | None, job_state: str) -> watch.RunView:
    t0 = NOW
    done = job_state == "completed"
    end = t0 + timedelta(seconds=42) if done else None
    step = watch.StepView(1, "Run pytest", job_state, "success" if done else None, t0, end)
    job = watch.JobView(9, "test", job_state, step.conclusion, t0, step.completed, (step,))
    return watch.RunView(1, "nightly", 1, status, conclusion, "https://x/1", t0,
                         t0 + timedelta(seconds=65), (job,))  # fmt: skip


def test_changes_are_one_line_each_and_only_what_changed() -> None:
    first = _view("in_progress", None, "in_progress")
    assert watch.changes(None, first) == [
        "run 1 (nightly, attempt 1): in_progress",
        "job test: in_progress",
        "step test / Run pytest: in_progress",
    ]
    assert watch.changes(first, first) == []
    done = _view("completed", "success", "completed")
    assert watch.changes(first, done) == [
        "run 1 (nightly, attempt 1): success",
        "job test: success (42s)",
        "step test / Run pytest: success (42s)",
        "https://x/1: success in 1m05s",
    ]
    assert watch.exit_code(done) == 0
    assert watch.exit_code(_view("completed", "failure", "completed")) == 1


def test_table_shows_steps_of_running_jobs_only() -> None:
    from rich.console import Console

    console = Console(width=100, record=True)
    console.print(
        watch.table(_view("in_progress", None, "in_progress"), NOW + timedelta(seconds=7))
    )
    text = console.export_text()
    assert "Run pytest" in text and "in_progress" in text and "7s" in text
    console = Console(width=100, record=True)
    console.print(watch.table(_view("completed", "success", "completed"), NOW))
    assert "Run pytest" not in console.export_text()


# -- polling respects rate limits; a terminal gets the live table ------------------------------


def test_a_rate_limited_poll_is_waited_out_and_said(tmp_path: Path) -> None:
    fake = _fake()
    fake.secondary_rate_limit(f"/repos/{REPO}/actions/runs/", retry_after=1)
    with fake.serve() as url:
        code, out, err = _run(_cli(tmp_path, fake), url, "nightly.yml", "--watch")
    assert code == 0, err
    assert "GitHub secondary rate limit: waiting 1 s" in err
    assert out.splitlines()[-1].endswith(" in 0s") or ": success in " in out


def test_a_rate_limit_beyond_max_wait_is_a_clear_error(tmp_path: Path) -> None:
    fake = _fake()
    fake.primary_rate_limit(f"/repos/{REPO}/actions/runs/", reset_in=600)
    with fake.serve() as url:
        code, _out, err = _run(
            _cli(tmp_path, fake), url, "nightly.yml", "--watch", "--max-wait", "30"
        )
    assert code == 1
    assert "rate limit exhausted: waiting 601 s more would exceed the bound of 30 s" in err


def test_on_a_terminal_the_run_is_a_live_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from rich.console import Console

    from pilothouse.cli import ci as ci_cli

    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=100, color_system=None)
    monkeypatch.setattr(ci_cli, "stdout_console", lambda _env=None: terminal)
    fake = _fake()
    with fake.serve() as url:
        code, out, err = _run(_cli(tmp_path, fake), url, "nightly.yml", "--watch")
    assert code == 0, err
    shown = screen.getvalue()
    run_id = next(iter(fake._runs))
    assert f"nightly run {run_id} (attempt 1): success" in shown
    assert "job / step" in shown and "duration" in shown
    assert f"run {run_id} (nightly, attempt 1): queued" not in shown  # no per-change lines


# -- the fake's dispatch block answers as GitHub does -----------------------------------------


def _client(fake: FakeGitHub):  # type: ignore[no-untyped-def]
    import httpx

    headers = {"Authorization": f"Bearer {fake.token}", "Accept": "application/vnd.github+json"}
    return httpx.Client(transport=fake.transport(), base_url="https://api.github.com",
                        headers=headers)  # fmt: skip


def test_fake_dispatch_answers_204_or_the_run_details_and_plays_the_run_out() -> None:
    from tests.github_fake import RUN_FILE, load

    fake = _fake(polls_per_state=1)
    with _client(fake) as client:
        path = f"/repos/{REPO}/actions/workflows/nightly.yml/dispatches"
        plain = client.post(path, json={"ref": "main"})
        assert (plain.status_code, plain.content) == (204, b"")
        detailed = client.post(path, json={"ref": "main", "return_run_details": True})
        assert detailed.status_code == 200
        body = detailed.json()
        assert list(body) == ["workflow_run_id", "run_url", "html_url"]
        run_path = f"/repos/{REPO}/actions/runs/{body['workflow_run_id']}"
        assert body["run_url"].endswith(run_path)
        listed = client.get(f"/repos/{REPO}/actions/runs", params={"event": "workflow_dispatch"})
        assert listed.json()["total_count"] == 0  # not listed yet: GitHub is creating them
        seen = []
        for _poll in range(3):
            run = client.get(run_path).json()
            jobs = client.get(f"{run_path}/jobs").json()["jobs"]
            seen.append((run["status"], run["conclusion"], {j["status"] for j in jobs}))
        assert list(run) == list(load(RUN_FILE))
        assert run["event"] == "workflow_dispatch" and run["display_title"] == "nightly"
    assert seen == [
        ("in_progress", None, {"completed", "in_progress"}),
        ("completed", "success", {"completed"}),
        ("completed", "success", {"completed"}),
    ]


def test_fake_contents_are_base64_as_github_serves_them() -> None:
    import base64

    fake = _fake()
    with _client(fake) as client:
        answer = client.get(f"/repos/{REPO}/contents/.github/workflows/nightly.yml",
                            params={"ref": "main"}).json()  # fmt: skip
        missing = client.get(f"/repos/{REPO}/contents/.github/workflows/nightly.yml",
                             params={"ref": "nope"})  # fmt: skip
        repository = client.get(f"/repos/{REPO}").json()
    assert list(answer)[:10] == ["name", "path", "sha", "size", "url", "html_url", "git_url",
                                 "download_url", "type", "content"]  # fmt: skip
    assert base64.b64decode(answer["content"]).decode() == DISPATCHABLE
    assert all(len(line) <= 60 for line in answer["content"].splitlines())
    assert missing.status_code == 404
    assert repository["default_branch"] == "main" and repository["full_name"] == REPO


def test_a_bad_report_in_an_artifact_is_named_and_nothing_of_it_is_stored(
    tmp_path: Path, store_url: str
) -> None:
    fake = _fake()
    good = (DATA / "junit" / "nextest" / "fixture-project-junit.xml").read_bytes()
    fake.uploads = [("junit-linux", {"a/junit.xml": good, "b/broken.xml": b"<testsuite><testcase"})]
    cli = _cli(tmp_path, fake, store_url)
    with fake.serve() as url:
        code, _out, err = _run(cli, url, "nightly.yml", "--ingest")
    assert code == 1
    assert "junit-linux-" in err and "broken.xml" in err and "malformed XML" in err
    runs = cli.json("runs")["runs"]
    assert len(runs) == 1 and runs[0]["tests"] == 0  # the run is stored, no report of it


def test_huge_archives_are_refused_before_unpacking() -> None:
    import io
    import zipfile

    from pilothouse.ci import artifacts

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(3):
            archive.writestr(f"r{i}.xml", b"<testsuite/>")
    with zipfile.ZipFile(buffer) as archive:
        assert len(artifacts.xml_members(archive, "a.zip")) == 3
        archive.infolist()[0].file_size = artifacts.MAX_UNPACKED_BYTES + 1  # as a bomb says
        with pytest.raises(InputError, match="a.zip: unpacks to more than 2048 MiB"):
            artifacts.xml_members(archive, "a.zip")


@pytest.mark.parametrize(
    ("key", "body"),
    [
        ("nightly.yml", {"name": "<script>x</script>", "path": ".github/workflows/n.yml"}),
        ("nightly.yml", ["not", "an", "object"]),
        ("Nightly", {"total_count": 1, "workflows": [{"id": "x", "name": "n"}]}),
        ("Nightly", {"total_count": 1, "workflows": "<html>"}),
    ],
)
def test_a_workflow_answer_not_shaped_like_githubs_is_one_line(key: str, body: object) -> None:
    import httpx

    from pilothouse.ci.dispatch import find_workflow
    from pilothouse.sources.github import GitHubApi, GitHubError, Token

    transport = httpx.MockTransport(lambda _request: httpx.Response(200, json=body))
    api = GitHubApi(
        httpx.Client(transport=transport), Token("t", "GITHUB_TOKEN"), sleep=lambda _s: None
    )
    with pytest.raises(GitHubError) as info:
        find_workflow(api, REPO, key)
    assert f"/repos/{REPO}/actions/workflows: unexpected answer from GitHub" in str(info.value)


def test_a_step_named_like_rich_markup_is_shown_as_written() -> None:
    from rich.console import Console

    view = _view("in_progress", None, "in_progress")
    step = watch.StepView(1, "[/]echo [bold]hi", "in_progress", None, NOW, None)
    job = watch.JobView(9, view.jobs[0].name, "in_progress", None, NOW, None, (step,))
    running = watch.RunView(1, "nightly", 1, "in_progress", None, "https://x/1", NOW, NOW, (job,))
    console = Console(width=100, record=True)
    console.print(watch.table(running, NOW + timedelta(seconds=7)))
    assert "[/]echo [bold]hi" in console.export_text()
