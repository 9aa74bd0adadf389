"""Cache events end to end: `ingest logs`, `ingest github --logs`, `pilothouse cache`,
Store.cache_counts and the sample's logs, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import random
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from pilothouse.analysis.cache import advise_workflow
from pilothouse.github_sync import sync_github
from pilothouse.ingest_logs import spooled_input
from pilothouse.model import CacheCounts, RunInfo
from pilothouse.sources.github import GitHubApi, Policy, Token
from pilothouse.store import Store

from .conftest import DATA, FIXED_NOW, Cli
from .github_fake import FakeGitHub
from .test_logs import CARGO_KEY, OLD_CARGO_KEY, _cache_step

WORKFLOWS = DATA / "workflows"
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def _stamp(at: datetime) -> str:
    return f"{at:%Y-%m-%dT%H:%M:%S}.0000000Z"


def _job_log(outcome: str, *, minutes: float, start: datetime = T0) -> str:
    """A job log whose actions/cache restore went as *outcome*, lasting *minutes*."""
    lines = list(_cache_step())
    if outcome == "hit":
        lines += [f"Cache hit for: {CARGO_KEY}", f"Cache restored from key: {CARGO_KEY}"]
    elif outcome == "partial":
        lines += [f"Cache hit for restore-key: {OLD_CARGO_KEY}",
                  f"Cache restored from key: {OLD_CARGO_KEY}"]  # fmt: skip
    else:
        lines += [f"Cache not found for input keys: {CARGO_KEY}, Linux-cargo-"]
    text = "".join(f"{_stamp(start)} {line}\n" for line in lines)
    end = start + timedelta(minutes=minutes)
    text += f"{_stamp(end)} Post job cleanup.\n"
    if outcome != "hit":
        text += f"{_stamp(end)} Cache saved with key: {CARGO_KEY}\n"
    return text


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def test_ingest_logs_then_cache_report(cli: Cli, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    _write(logs / "r1", "build.txt", _job_log("hit", minutes=10))
    _write(logs / "r2", "build.txt", _job_log("partial", minutes=14))
    _write(logs / "r3", "build.txt", _job_log("miss", minutes=22))
    _write(logs / "r4", "build.txt", _job_log("hit", minutes=12))
    for run in ("r1", "r2", "r3", "r4"):
        code, out, err = cli("ingest", "logs", f"logs/{run}", "--run-id", run, "--workflow",
                             "ci-build", "--commit", "abc", "--branch", "main")  # fmt: skip
        assert code == 0, err
        assert out.startswith("1 log(s):")
    again = cli.json("ingest", "logs", "logs/r1/build.txt", "--run-id", "r1", "--workflow",
                     "ci-build")  # fmt: skip
    assert again == {"files": 1, "new": 0, "duplicates": 1, "events": 0}
    report = cli.json("cache", "--path", str(tmp_path))
    assert report["advice"] == []
    (row,) = report["caches"]
    assert {k: row[k] for k in ("workflow", "job", "key_prefix", "restores", "exact_hits",
                                "partial_hits", "misses", "hit_rate", "saves")} == {
        "workflow": "ci-build", "job": "build", "key_prefix": "Linux-cargo-", "restores": 4,
        "exact_hits": 2, "partial_hits": 1, "misses": 1, "hit_rate": 0.5, "saves": 2,
    }  # fmt: skip
    # exact hits took 11 min on average, the miss 22 and the partial 14 (the logs' spans)
    assert row["minutes_saved"] == pytest.approx(2 * 11, abs=0.1)
    assert row["minutes_lost"] == pytest.approx(11 + 3, abs=0.1)
    code, out, _err = cli("cache")
    assert code == 0 and "Linux-cargo-" in out and "hit rate 50.0%" in out


@pytest.mark.parametrize("width", [80, 100, 160])
def test_the_footer_explains_only_the_columns_shown(
    sqlite_cli: Cli, tmp_path: Path, width: int
) -> None:
    for run, outcome, minutes in (("r1", "hit", 10), ("r2", "miss", 22)):
        _write(tmp_path / run, "build.txt", _job_log(outcome, minutes=minutes))
        sqlite_cli("ingest", "logs", str(tmp_path / run), "--run-id", run, "--workflow", "ci-build")
    sqlite_cli.env = {"COLUMNS": str(width)}
    code, out, err = sqlite_cli("cache")
    assert code == 0, err
    headers = next(line for line in out.splitlines() if line.startswith("┃")).split("┃")
    shown = {cell.strip() for cell in headers}
    named = "/".join(header for header in ("saved", "lost") if header in shown)
    assert named == {80: "", 100: "lost", 160: "saved/lost"}[width]  # saved goes first
    footer = " ".join(out[out.index("2 restores:") :].split())
    assert footer.startswith("2 restores: 1 exact, 0 from a restore key, 1 missed; hit rate 50.0%")
    assert ("restores x the difference" in footer) == bool(named)
    assert (f"{named}: restores x the difference" in footer) == bool(named)
    assert max(len(line) for line in out.splitlines()) <= width


def test_ingest_logs_names_run_and_job_from_github_environment(cli: Cli, tmp_path: Path) -> None:
    _write(tmp_path, "job.log", _job_log("miss", minutes=3))
    cli.env.update(GITHUB_ACTIONS="true", GITHUB_RUN_ID="777", GITHUB_JOB="test",
                   GITHUB_WORKFLOW="tests-all", GITHUB_REF_NAME="main",
                   GITHUB_REPOSITORY="hypha-labs/hypha", GITHUB_SHA="f" * 40)  # fmt: skip
    assert cli.json("ingest", "logs", "job.log")["events"] == 2
    runs = cli.json("runs")["runs"]
    assert [(r["id"], r["workflow"], r["branch"]) for r in runs] == [("777", "tests-all", "main")]
    assert [j["name"] for j in runs[0]["jobs"]] == ["test"]
    (row,) = cli.json("cache")["caches"]
    assert (row["job"], row["misses"], row["hit_rate"]) == ("test", 1, 0.0)


def test_bad_paths_and_read_only(cli: Cli, tmp_path: Path) -> None:
    code, _out, err = cli("ingest", "logs", "nothing-here.log")
    assert code == 1 and "nothing-here.log: no such file or directory" in err
    code, _out, err = cli("cache")
    assert code == 1 and "no pilothouse store here" in err
    assert not (tmp_path / "store.db").exists()


def _run(workflow: str, job: str, at: datetime, branch: str = "main") -> RunInfo:
    key = f"{workflow}-{job}-{branch}-{at:%j%H}"
    return RunInfo(provider="github", repository="o/r", run_key=key, workflow=workflow,
                   branch=branch, job=job, created_at=at)  # fmt: skip


def _input(name: str, text: str):  # type: ignore[no-untyped-def]
    import io

    return spooled_input(name, io.BytesIO(text.encode()))


def test_cache_counts_for_the_scorecard(store: Store) -> None:
    day = timedelta(days=1)
    logs = [
        (_run("ci-build", "build", T0), "hit"),
        (_run("ci-build", "build", T0 - day), "partial"),
        (_run("ci-build", "build", T0 - 2 * day), "miss"),
        (_run("ci-build", "build", T0 - 20 * day), "miss"),  # outside the window
        (_run("ci-build", "build", T0, branch="feature"), "miss"),  # another branch
        (_run("tests-all", "test (1/4)", T0), "hit"),
        (_run("tests-all", "test (2/4)", T0), "partial"),
        (_run("release", "publish", T0), "miss"),  # another workflow
    ]
    stored = store.add_job_logs(
        [(run, _input(f"{i}.log", _job_log(o, minutes=5))) for i, (run, o) in enumerate(logs)],
        now=FIXED_NOW,
    )
    assert all(s.new for s in stored)
    since, until = T0 - 14 * day, T0 + day
    counts = store.cache_counts(since=since, until=until, workflows=["ci-build", "tests-all"],
                                branch="main")  # fmt: skip
    assert counts == CacheCounts(exact_hits=2, partial_hits=2, misses=1)
    assert counts.restores == 5 and counts.hit_rate == 0.4
    everything = store.cache_counts(since=T0 - 30 * day, until=until, workflows=None, branch=None)
    assert everything == CacheCounts(2, 2, 4)
    assert store.cache_counts(since=T0 + day, until=T0 + 2 * day, workflows=None,
                              branch=None) == CacheCounts()  # fmt: skip
    # the same logs again: nothing new
    again = store.add_job_logs(
        [(run, _input(f"{i}.log", _job_log(o, minutes=5))) for i, (run, o) in enumerate(logs)],
        now=FIXED_NOW,
    )
    assert not any(s.new for s in again)
    assert store.cache_counts(since=T0 - 30 * day, until=until, workflows=None,
                              branch=None) == everything  # fmt: skip


def test_cache_trend_against_the_previous_window(cli: Cli, tmp_path: Path) -> None:
    now = FIXED_NOW
    for days_ago, outcome in ((20, "miss"), (18, "hit"), (3, "hit"), (2, "hit")):
        at = now - timedelta(days=days_ago)
        folder = tmp_path / f"d{days_ago}"
        _write(folder, "build.log", _job_log(outcome, minutes=5, start=at))
        cli("ingest", "logs", str(folder), "--run-id", f"run{days_ago}", "--workflow", "ci")
    # runs made by `ingest logs` are created when ingested: date them as the logs say
    with Store.open(cli.db) as store, store.engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE runs SET created_at = (SELECT MIN(first_at) FROM job_logs JOIN jobs "
            "ON jobs.id = job_logs.job_id WHERE jobs.run_id = runs.id)"
        )
    (row,) = cli.json("cache", "--window", "14")["caches"]
    assert (row["restores"], row["hit_rate"], row["previous_hit_rate"]) == (2, 1.0, 0.5)
    code, _out, err = cli("cache", "--since", "2026-01-01", "--window", "3")
    assert code == 2 and "exclude each other" in err


# -- advice from real workflow files ------------------------------------------------------------


def _advice(name: str) -> list[tuple[int, str]]:
    path = WORKFLOWS / name
    return [(a.line, a.rule) for a in advise_workflow(name, path.read_text())]


def test_advice_on_real_workflows() -> None:
    # apache/incubator-devlake keys its buildx cache by github.run_id, without restore-keys
    devlake = _advice("apache__incubator-devlake__workflows__build.yml")
    assert (128, "key-never-hits") in devlake and (128, "no-restore-keys") in devlake
    # nextest's rust-cache runs on pull requests too, without save-if
    nextest = _advice("nextest-rs__nextest__workflows__ci.yml")
    assert (43, "saved-on-every-branch") in nextest
    assert (197, "saved-on-every-branch") not in nextest  # its `save-if: "false"` never saves
    assert all(rule == "saved-on-every-branch" for _line, rule in nextest)  # rust-cache keys
    # click caches mypy without restore-keys, on every branch
    assert _advice("pallets__click__workflows__tests.yaml") == [
        (58, "no-restore-keys"),
        (55, "saved-on-every-branch"),
    ]
    assert _advice("encode__httpx__workflows__test-suite.yml") == []  # no cache step


def test_advice_rules_on_their_own() -> None:
    text = """\
on: [push, pull_request]
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/cache@v4
        with:
          path: |
            ~/.cargo/registry
            target
          key: ${{ runner.os }}-cargo-${{ hashFiles('**/Cargo.toml') }}
          restore-keys: ${{ runner.os }}-cargo-
      - uses: actions/cache/restore@v4
        with:
          path: ~/.npm
          key: npm-${{ steps.date.outputs.date }}
      - uses: actions/cache/save@v4
        if: github.ref == 'refs/heads/main'
        with:
          path: target
          key: ${{ runner.os }}-cargo-${{ hashFiles('**/Cargo.lock') }}
"""
    found = [(a.line, a.rule) for a in advise_workflow("ci.yml", text)]
    assert found == [
        (11, "rust-key-without-lockfile"),
        (6, "saved-on-every-branch"),
        (16, "key-never-hits"),
    ]
    main_only = text.replace("on: [push, pull_request]", "on:\n  push:\n    branches: [main]")
    rules = [a.rule for a in advise_workflow("ci.yml", main_only)]
    assert "saved-on-every-branch" not in rules
    (saved,) = [a for a in advise_workflow("ci.yml", text) if a.rule == "saved-on-every-branch"]
    assert saved.message.startswith("the cache is saved by every branch pushed to and every pull "
                                    "request: their caches count")  # fmt: skip


@pytest.mark.parametrize(
    ("on", "saved_by"),
    [
        ("on: [push, pull_request]", "every branch pushed to and every pull request"),
        ("on: push", "every branch pushed to"),
        ("on:\n  push:\n    branches-ignore: [main]", "every branch pushed to"),
        ("on:\n  push:\n    branches: [main]\n  pull_request:", "every pull request"),
        ("on:\n  pull_request_target:\n  pull_request:", "every pull request"),
        ("on:\n  push:\n    branches: [main, 'release/*']", "pushes to release/*"),
        ("on: [merge_group, workflow_dispatch]", "every merge queue run"),
        ("on:\n  push:\n    branches: [master]\n  schedule:\n    - cron: '0 3 * * *'", None),
        ("on:\n  push:\n    tags: ['v*']", None),  # tags only: no branch push runs it
        ("on: workflow_dispatch", None),
    ],
)
def test_saved_on_every_branch_names_the_workflows_own_triggers(
    on: str, saved_by: str | None
) -> None:
    text = f"""\
{on}
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: Swatinem/rust-cache@v2
"""
    found = [
        a.message for a in advise_workflow("ci.yml", text) if a.rule == "saved-on-every-branch"
    ]
    if saved_by is None:
        assert found == []
    else:
        assert found[0].startswith(f"the cache is saved by {saved_by}: their caches count toward")
        if "pull request" not in saved_by:
            assert "pull request" not in found[0]


def test_unreadable_workflow_is_a_warning(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    shutil.copy(WORKFLOWS / "pallets__click__workflows__tests.yaml", folder / "tests.yaml")
    (folder / "broken.yml").write_text("jobs: [unclosed\n")
    (folder / "deep.yml").write_text("[" * 100_000 + "]" * 100_000)  # hostile: nesting
    _write(tmp_path, "build.log", _job_log("hit", minutes=1))
    cli("ingest", "logs", "build.log", "--run-id", "1")
    code, out, err = cli("cache")
    assert code == 0 and "broken.yml: not a workflow file" in err
    assert "deep.yml: not a workflow file" in err
    assert "no-restore-keys" in out
    advice = cli.json("cache")["advice"]
    assert {
        "file": ".github/workflows/tests.yaml",
        "line": 58,
        "rule": "no-restore-keys",
    }.items() <= advice[0].items()


def test_no_advice_says_where_it_looked(cli: Cli, tmp_path: Path) -> None:
    _write(tmp_path, "build.log", _job_log("hit", minutes=1))
    cli("ingest", "logs", "build.log", "--run-id", "1")
    code, out, _err = cli("cache")
    assert code == 0
    assert " ".join(out.split()).endswith(
        f"No cache advice: no workflow files in {tmp_path / '.github' / 'workflows'}"
    )
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    shutil.copy(WORKFLOWS / "encode__httpx__workflows__test-suite.yml", folder / "test.yml")
    assert "No cache advice: 1 workflow file(s) read in" in " ".join(cli("cache")[1].split())


# -- ingest github --logs -----------------------------------------------------------------------

STORAGE = "https://productionresultssa1.blob.core.windows.net"


def test_github_logs_follow_the_redirect_without_the_token(store: Store) -> None:
    fake = FakeGitHub("hypha-labs/hypha", token="ghp_SECRET", clock_start=FIXED_NOW)
    fake.add_workflow("ci-build", ".github/workflows/ci.yml")
    fake.add_run(workflow="ci-build", created_at=FIXED_NOW - timedelta(hours=3), jobs=3)
    seen: list[httpx.Request] = []
    expired: set[str] = set()

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path = request.url.path
        if request.url.host == httpx.URL(STORAGE).host:
            if request.headers.get("authorization"):
                return httpx.Response(400, text="token leaked to storage")
            return httpx.Response(200, text=_job_log("partial", minutes=4))
        if path.endswith("/logs"):
            job = path.split("/")[-2]
            if not expired:
                expired.add(job)  # the first job's log has expired
            if job in expired:
                return httpx.Response(410, json={"message": "Gone"})
            location = f"{STORAGE}/actions-results/{job}/logs.txt?sig=SIGNATURE&se=2026"
            return httpx.Response(302, headers={"location": location})
        return fake.handler(request)

    def api() -> GitHubApi:
        client = httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=True)
        return GitHubApi(client, Token("ghp_SECRET", "GITHUB_TOKEN"), policy=Policy(),
                         sleep=lambda _s: None, rng=random.Random(1))  # fmt: skip

    counts = sync_github(store, api(), "hypha-labs/hypha", now=FIXED_NOW, logs=True)
    assert (counts.logs, counts.logs_expired, counts.cache_events) == (2, 1, 4)
    to_storage = [r for r in seen if r.url.host != "api.github.com"]
    assert len(to_storage) == 2
    assert all("authorization" not in r.headers for r in to_storage)
    assert all(r.headers["authorization"] == "Bearer ghp_SECRET"
               for r in seen if r.url.host == "api.github.com")  # fmt: skip
    seen.clear()
    again = sync_github(store, api(), "hypha-labs/hypha", now=FIXED_NOW, logs=True)
    assert (again.logs, again.logs_expired) == (0, 0)
    assert not [r for r in seen if r.url.path.endswith("/logs")]  # read or expired: not asked
    day = timedelta(days=1)
    counts_now = store.cache_counts(since=FIXED_NOW - day, until=FIXED_NOW, workflows=None,
                                    branch=None)  # fmt: skip
    assert counts_now == CacheCounts(partial_hits=2)


def test_github_without_logs_asks_for_none(store: Store) -> None:
    fake = FakeGitHub("hypha-labs/hypha", clock_start=FIXED_NOW)
    fake.add_workflow("ci-build", ".github/workflows/ci.yml")
    fake.add_run(workflow="ci-build", created_at=FIXED_NOW - timedelta(hours=3), jobs=2)
    api = GitHubApi(httpx.Client(transport=fake.transport()), Token(fake.token, "GITHUB_TOKEN"))
    counts = sync_github(store, api, "hypha-labs/hypha", now=FIXED_NOW)
    assert counts.logs == 0 and fake.count("/logs") == 0


# -- the sample ---------------------------------------------------------------------------------


def test_sample_carries_cache_logs(cli: Cli) -> None:
    loaded = cli.json("sample", "--days", "20", "--end", "2026-11-27")
    assert loaded["job_logs"] > 0 and loaded["cache_events"] > loaded["job_logs"]
    report = cli.json("cache", "--window", "20")
    restores = [r for r in report["caches"] if r["restores"]]
    assert {(r["workflow"], r["job"]) for r in restores} == {
        ("ci-build", "build"),
        ("tests-all", "test"),
    }
    assert sum(r["exact_hits"] for r in restores) > 5 * sum(r["misses"] for r in restores) > 0
    assert sum(r["partial_hits"] for r in restores) > 0
    assert any(r["key_prefix"].startswith("sccache") for r in report["caches"])
    assert all(r["minutes_saved"] and r["minutes_saved"] > 0 for r in restores)
    # the scorecard's numbers are the command's: both read up to now, though the
    # sample's last day has runs after noon
    with Store.open(cli.db) as store:
        counts = store.cache_counts(since=FIXED_NOW - timedelta(days=20), until=FIXED_NOW,
                                    workflows=["ci-build", "tests-all"], branch="main")  # fmt: skip
        later = store.cache_counts(since=FIXED_NOW, until=FIXED_NOW + timedelta(days=1),
                                   workflows=None, branch=None)  # fmt: skip
    assert later.restores > 0
    assert counts.exact_hits == sum(r["exact_hits"] for r in restores)
    assert counts.partial_hits == sum(r["partial_hits"] for r in restores)
    assert counts.misses == sum(r["misses"] for r in restores)
    again = cli.json("sample", "--days", "20", "--end", "2026-11-27")
    assert again["cache_events"] == 0


def _restores(report: dict[str, Any]) -> CacheCounts:
    rows = [row for row in report["caches"] if row["restores"]]
    return CacheCounts(sum(r["exact_hits"] for r in rows), sum(r["partial_hits"] for r in rows),
                       sum(r["misses"] for r in rows))  # fmt: skip


def test_cache_on_the_target_branch_is_the_scorecards_criterion(cli: Cli, tmp_path: Path) -> None:
    cli.json("sample", "--days", "20", "--end", "2026-11-27")
    # a feature branch's run, restoring from a restore key: counted by `cache` alone
    _write(tmp_path, "build.log", _job_log("partial", minutes=3))
    cli.now = FIXED_NOW - timedelta(hours=2)  # `ingest logs` dates its run by the clock
    cli("ingest", "logs", "build.log", "--run-id", "feature-1", "--workflow", "ci-build",
        "--branch", "feature/x")  # fmt: skip
    cli.now = FIXED_NOW
    (criterion,) = [c for c in cli.json("score")["criteria"] if c["id"] == "cache_hit_rate"]
    on_main = cli.json("cache", "--branch", "main")
    everywhere = cli.json("cache")
    assert (on_main["branch"], on_main["scope"]) == ("main", "branch main")
    assert (everywhere["branch"], everywhere["scope"]) == (None, "all branches")
    main, every = _restores(on_main), _restores(everywhere)
    assert criterion["samples"] == main.restores > 0
    assert criterion["value"] == round(100 * main.exact_hits / main.restores, 2)
    assert (every.restores, every.partial_hits) == (main.restores + 1, main.partial_hits + 1)
    assert _restores(cli.json("cache", "--branch", "feature/x")) == CacheCounts(0, 1, 0)
    code, out, _err = cli("cache", "--branch", "main")
    assert code == 0 and "Cache restores in the last 14 days" in out
    assert out.splitlines()[0].endswith(", branch main")
    assert cli("cache")[1].splitlines()[0].endswith(", all branches")
    code, out, _err = cli("cache", "--branch", "nope")
    assert code == 0 and out.startswith("No cache events on branch nope stored yet")


def test_sample_logs_are_deterministic() -> None:
    from pilothouse import sample

    run = RunInfo(provider="github", repository=sample.REPOSITORY, run_key="1",
                  workflow="tests-all", job="test (2/4)", created_at=T0,
                  job_started_at=T0, job_finished_at=T0 + timedelta(minutes=9))  # fmt: skip
    first = sample.job_log(run, 7)
    assert first is not None and first == sample.job_log(run, 7)
    assert sample.job_log(replace(run, workflow="release"), 7) is None


def test_a_log_and_a_report_of_one_job_meet_in_one_job(cli: Cli, tmp_path: Path) -> None:
    report = DATA / "junit" / "nextest" / "fixture-project-junit.xml"
    code, _out, err = cli("ingest", "junit", str(report), "--run-id", "42", "--job", "test")
    assert code == 0, err
    _write(tmp_path, "test.log", _job_log("hit", minutes=2))
    assert cli.json("ingest", "logs", "test.log", "--run-id", "42", "--job", "test",
                    "--workflow", "tests-all", "--branch", "main")["events"] == 1  # fmt: skip
    (run,) = cli.json("runs")["runs"]
    assert (run["workflow"], run["branch"]) == ("tests-all", "main")  # filled in by the log
    assert [job["name"] for job in run["jobs"]] == ["test"]
    assert cli.json("cache")["caches"][0]["exact_hits"] == 1
