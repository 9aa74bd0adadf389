"""`pilothouse ci baseline`: per-workflow baselines from the store, saved, and shown by
`score` beside the criteria they cover; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from pilothouse.analysis.test_stats import percentile
from pilothouse.ci import baseline as bl
from pilothouse.github_sync import sync_github
from pilothouse.model import Baseline, CacheCounts
from pilothouse.sources.github import GitHubApi, Token
from pilothouse.store import Store
from tests.conftest import Cli
from tests.github_fake import FakeGitHub

from .test_cache import _job_log, _write

REPO = "hypha-labs/hypha"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
DATA = Path(__file__).parent / "data"
REPORT = DATA / "junit" / "nextest" / "fixture-project-junit.xml"  # 3 tests, 1 failure


def _history(store_url: str) -> FakeGitHub:
    """Synced runs: 6 of tests-all on main (one failed, one cancelled), 3 of ci-build on
    main, 2 of tests-all on a branch, and one run 20 days ago (outside the window)."""
    fake = FakeGitHub(REPO, clock_start=NOW)
    for i in range(6):
        fake.add_run(
            workflow="tests-all",
            created_at=NOW - timedelta(days=6 - i),
            jobs=3,
            conclusion=["success", "failure", "cancelled"][i % 3] if i < 3 else "success",
        )
    for i in range(3):
        fake.add_run(workflow="ci-build", created_at=NOW - timedelta(days=3 - i, hours=1))
    for i in range(2):
        fake.add_run(
            workflow="tests-all", created_at=NOW - timedelta(days=2 - i), head_branch="dev"
        )
    fake.add_run(workflow="tests-all", created_at=NOW - timedelta(days=20))
    client = httpx.Client(transport=fake.transport())
    api = GitHubApi(client, Token(fake.token, "GH_TOKEN"), clock=lambda: NOW, sleep=lambda _s: None)
    with Store.open(store_url, create=True) as store:
        sync_github(store, api, REPO, now=NOW)
    return fake


def _expected(cli: Cli, workflow: str) -> tuple[list[float], list[float]]:
    """Durations of the timed runs and queue times of the jobs on main in the window, read
    back through `runs --json` (an independent path to the same numbers)."""
    runs = cli.json("runs")["runs"]
    chosen = [
        r for r in runs
        if r["workflow"] == workflow and r["branch"] == "main"
        and r["created_at"] >= (NOW - timedelta(days=14)).isoformat()
    ]  # fmt: skip
    timed = [r for r in chosen if r["conclusion"] != "cancelled" and r["status"] == "completed"]
    durations = [r["duration_seconds"] for r in timed if r["duration_seconds"] is not None]
    queues = [
        j["queued_seconds"] for r in chosen for j in r["jobs"] if j["queued_seconds"] is not None
    ]
    return durations, queues


def test_baseline_is_measured_saved_and_shown_by_score(cli: Cli, tmp_path: Path) -> None:
    cli.now = NOW - timedelta(hours=1)  # the reports and logs: ingested an hour ago
    fake = _history(cli.db)
    tests_runs = [r for r in fake._runs.values() if r.workflow["name"] == "tests-all"]
    newest_main = max(
        (r for r in tests_runs if r.payload["head_branch"] == "main"), key=lambda r: r.created_at
    )
    run_id = str(newest_main.id)
    code, _out, err = cli("ingest", "junit", str(REPORT), "--run-id", run_id, "--workflow",
                          "tests-all", "--branch", "main", "--repo", REPO)  # fmt: skip
    assert code == 0, err
    logs = tmp_path / "logs"
    for run, outcome in (("c1", "hit"), ("c2", "hit"), ("c3", "miss")):
        _write(logs / run, "test.txt", _job_log(outcome, minutes=5, start=NOW - timedelta(hours=5)))
        code, _out, err = cli("ingest", "logs", f"logs/{run}", "--run-id", run, "--workflow",
                              "tests-all", "--branch", "main")  # fmt: skip
        assert code == 0, err

    cli.now = NOW
    data = cli.json("ci", "baseline")
    assert data["missing"] == []
    by_name = {b["workflow"]: b for b in data["baselines"]}
    assert set(by_name) == {"ci-build", "tests-all"}
    tests = by_name["tests-all"]
    durations, queues = _expected(cli, "tests-all")
    assert tests["runs"] == len(durations) == 5  # 6 on main, the cancelled one not timed
    assert tests["duration_p50_seconds"] == pytest.approx(percentile(durations, 50), abs=1e-3)
    assert tests["duration_p90_seconds"] == pytest.approx(percentile(durations, 90), abs=1e-3)
    assert tests["queue_jobs"] == len(queues) and tests["queue_jobs"] > 0
    assert tests["queue_p50_seconds"] == pytest.approx(percentile(queues, 50), abs=1e-3)
    assert (tests["cache_restores"], tests["cache_hit_percent"]) == (3, 66.67)
    assert (tests["tests_executed"], tests["pass_percent"]) == (3, 66.667)
    assert tests["branch"] == "main" and tests["taken_at"] == NOW.isoformat()
    assert by_name["ci-build"]["runs"] == 3 and by_name["ci-build"]["tests_executed"] == 0

    score = cli.json("score")
    assert set(score["baseline"]) == {"build_time", "test_time", "cache_hit_rate", "test_pass_rate"}
    assert score["baseline"]["test_time"]["value"] == round(percentile(durations, 50) / 60, 2)
    assert score["baseline"]["test_pass_rate"]["value"] == 66.667
    assert score["baseline"]["build_time"]["workflows"] == ["ci-build"]
    code, out, _err = cli("score")
    assert code == 0 and "Baseline (`ci baseline`, 2026-11-30): Build time (p50) " in out
    code, out, _err = cli("score", "--format", "markdown")
    assert "Baseline (`ci baseline`, 2026-11-30)" in out

    # taken again: replaced, not added
    cli.now = NOW + timedelta(days=1)
    again = cli.json("ci", "baseline", "--workflow", "tests-all")
    assert [b["workflow"] for b in again["baselines"]] == ["tests-all"]
    with Store.open(cli.db) as store:
        saved = store.baselines()
    assert [(b.workflow, b.taken_at) for b in saved] == [
        ("ci-build", NOW),
        ("tests-all", NOW + timedelta(days=1)),
    ]


def test_a_workflow_without_runs_is_named_and_not_saved(cli: Cli) -> None:
    cli.now = NOW
    _history(cli.db)
    code, out, err = cli("ci", "baseline", "--workflow", "nightly", "--workflow", "ci-build")
    assert code == 0, err
    assert "nightly: no completed run on main in the last 14 days: no baseline saved" in err
    assert "Baselines saved: 1 workflow(s) on main" in out and "ci-build" in out
    with Store.open(cli.db) as store:
        assert [b.workflow for b in store.baselines()] == ["ci-build"]


def test_without_a_baseline_score_json_is_unchanged(cli: Cli) -> None:
    cli.now = NOW
    _history(cli.db)
    assert "baseline" not in cli.json("score")


def test_baseline_needs_a_store(tmp_path: Path) -> None:
    cli = Cli(cwd=tmp_path, db=f"sqlite:///{tmp_path / 'none.db'}", now=NOW)
    code, _out, err = cli("ci", "baseline")
    assert code == 1 and "no pilothouse store here" in err
    assert not (tmp_path / "none.db").exists()


# -- the pure parts ---------------------------------------------------------------------------


def _saved(workflow: str, runs: int, p50: float, hits: int, restores: int,
           passed: int, executed: int) -> Baseline:  # fmt: skip
    return Baseline(workflow, "main", NOW, NOW, NOW, runs, p50, p50, 0, None, None,
                    restores, hits, executed, passed)  # fmt: skip


def test_criterion_baselines_add_up_exactly() -> None:
    saved = [
        _saved("ci-build", 10, 600.0, 8, 10, 0, 0),
        _saved("tests-all", 4, 1200.0, 1, 10, 90, 100),
        _saved("integration", 1, 2400.0, 0, 0, 10, 10),
    ]
    found = bl.criterion_baselines(saved, build=["ci-build"], tests=["tests-all", "integration"])
    assert found["build_time"]["value"] == 10.0
    assert found["test_time"]["value"] == round((4 * 1200 + 2400) / 5 / 60, 2)
    assert found["cache_hit_rate"]["value"] == 45.0  # 9 of 20 restores
    assert found["test_pass_rate"]["value"] == 90.909  # 100 of 110
    assert bl.criterion_baselines(saved, build=["other"], tests=["none"]) == {}


def test_take_needs_a_timed_run() -> None:
    window = bl.Window("main", NOW - timedelta(days=14), NOW, NOW)
    assert bl.take("w", window, durations=[], queues=[1.0], cache=CacheCounts(),
                   passes=(1, 1)) is None  # fmt: skip
    taken = bl.take("w", window, durations=[60.0, 120.0, 600.0], queues=[],
                    cache=CacheCounts(2, 1, 1), passes=(9, 10))  # fmt: skip
    assert taken is not None
    assert (taken.duration_p50, taken.queue_p50, taken.cache_hit_percent) == (120.0, None, 50.0)
    assert json.loads(json.dumps(bl.as_dict(taken), default=str))["pass_percent"] == 90.0
