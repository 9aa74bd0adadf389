"""`pilothouse changes` end to end on a real store (SQLite and PostgreSQL): runs
with a known level shift, a spike, a new commit and a new runner label, read back
through the store's SQL and the detector."""

from __future__ import annotations

import random
import subprocess
from collections.abc import Callable
from datetime import timedelta

import pytest

from pilothouse.ingest import ingest_reports
from pilothouse.model import RunInfo
from pilothouse.store import Store

from .conftest import FIXED_NOW, Cli

DAYS = 40
SHIFT_DAY = 25
SPIKE_DAY = 10


def _first_day():
    return (FIXED_NOW - timedelta(days=DAYS)).replace(hour=9, minute=0, second=0, microsecond=0)


def _commit(day: int) -> str:
    return f"{day:02d}" + "ab" * 19


def _load(store_url: str, commit: Callable[[int], str] = _commit) -> None:
    rng = random.Random(8)
    with Store.open(store_url, create=True) as store:
        for day in range(DAYS):
            at = _first_day() + timedelta(days=day)
            minutes = (28.0 if day >= SHIFT_DAY else 20.0) + rng.uniform(-0.5, 0.5)
            if day == SPIKE_DAY:
                minutes = 60.0
            run = RunInfo(
                provider="github",
                repository="acme/app",
                run_key=str(1000 + day),
                workflow="ci-build",
                branch="main",
                commit=commit(day),
                job="build",
                created_at=at,
                started_at=at,
                finished_at=at + timedelta(minutes=minutes),
                job_started_at=at + timedelta(seconds=15),
                job_finished_at=at + timedelta(minutes=minutes),
                runner_labels=("ubuntu-arm",) if day >= SHIFT_DAY else ("ubuntu-latest",),
            )
            ingest_reports(store, [], run, now=FIXED_NOW)


def test_changes_finds_the_shift_with_its_commit_and_runner_label(cli: Cli, store_url: str) -> None:
    _load(store_url)
    data = cli.json("changes", "--metric", "build_time", "--metric", "queue_time")
    assert data["metrics"] == ["build_time", "queue_time"]
    # jobs known from reports alone have no queue time: only a sync gives one
    assert [(s["metric"], s["workflow"]) for s in data["series"]] == [("build_time", "ci-build")]
    (change,) = data["changes"]
    shift_day = (_first_day() + timedelta(days=SHIFT_DAY)).date().isoformat()
    assert change["metric"] == "build_time" and change["verdict"] == "regression"
    assert change["day"] == shift_day
    assert change["commits"] == [f"{SHIFT_DAY:02d}" + "ab" * 19]
    assert change["runner_labels"] == {"added": ["ubuntu-arm"], "removed": ["ubuntu-latest"]}
    assert change["before"]["median"] == pytest.approx(1200, abs=30)
    assert change["after"]["median"] == pytest.approx(1680, abs=30)
    before, after = change["before"]["interval"], change["after"]["interval"]
    assert before[1] < after[0]  # the intervals are apart: a real shift
    assert change["relative"] == pytest.approx(0.4, abs=0.03)
    (spike,) = data["anomalies"]
    assert spike["day"] == (_first_day() + timedelta(days=SPIKE_DAY)).date().isoformat()
    assert spike["value"] == pytest.approx(3600, abs=1)


def test_changes_table_and_markdown(cli: Cli, store_url: str) -> None:
    _load(store_url)
    code, out, err = cli("changes", "--metric", "build_time")
    assert code == 0, err
    assert "1 level shifts (1 regressions), 1 one-day anomalies" in out
    assert "+ubuntu-arm" in out
    code, out, err = cli("changes", "--metric", "build_time", "--format", "markdown")
    assert code == 0, err
    assert out.startswith("### Changes in the last 90 days")
    assert "| regression | build_time | ci-build | 19m" in out or "| ci-build | 20m" in out


def test_changes_window_and_workflow_filters(cli: Cli, store_url: str) -> None:
    _load(store_url)
    data = cli.json("changes", "--metric", "build_time", "--window", "10")
    assert data["changes"] == []  # ten days hold only the new level
    assert cli.json("changes", "--workflow", "nope")["series"] == []


def test_changes_refuses_unknown_metrics(sqlite_cli: Cli) -> None:
    code, _out, err = sqlite_cli("changes", "--metric", "speed")
    assert code == 2 and "speed: not one of build_time" in err


def test_changes_needs_a_store(sqlite_cli: Cli) -> None:
    code, _out, err = sqlite_cli("changes")
    assert code == 1 and "pilothouse" in err
    assert not (sqlite_cli.cwd / "store.db").exists()


def _git(root, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@example.com",
           "GIT_COMMITTER_NAME": "A", "GIT_COMMITTER_EMAIL": "a@example.com",
           "HOME": str(root), "PATH": "/usr/bin:/bin"}  # fmt: skip
    done = subprocess.run(["git", "-C", str(root), *args], check=True, env=env,
                          capture_output=True, text=True)  # fmt: skip
    return done.stdout.strip()


def test_a_workflow_edit_in_the_checkout_is_named_with_its_commit(cli: Cli, store_url: str) -> None:
    root = cli.cwd
    _git(root, "init", "-q", "-b", "main")
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "build.yml").write_text("on: push\n")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "ci: build")
    before = _git(root, "rev-parse", "HEAD")
    (root / ".github" / "workflows" / "build.yml").write_text("on: push\njobs: {}\n")
    (root / "src.txt").write_text("x")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "ci: arm runners")
    edit = _git(root, "rev-parse", "HEAD")
    _load(
        store_url,
        lambda day: edit if day == SHIFT_DAY else before if day < SHIFT_DAY else _commit(day),
    )
    (change,) = cli.json("changes", "--metric", "build_time")["changes"]
    assert change["commits"] == [edit]
    assert change["workflow_files"] == [f".github/workflows/build.yml (changed in {edit[:7]})"]


def test_every_metric_reads_from_the_sample(cli: Cli) -> None:
    """Pass rates from report suites, cache hits from job logs and spend from the ledger,
    summed by each backend's SQL: a series per metric, with days of sane values."""
    code, _out, err = cli("sample", "--days", "12")
    assert code == 0, err
    data = cli.json("changes", "--window", "12")
    series = {(s["metric"], s["workflow"]): s["days"] for s in data["series"]}
    assert series[("build_time", "ci-build")] == 12
    assert series[("test_time", "tests-all")] == 12
    assert ("run_time", "integration-tests") in series
    assert series[("pass_rate", "tests-all")] == 12
    assert series[("cache_hit_rate", "ci-build")] == 12
    assert ("daily_cost", "(all)") in series
    for item in data["anomalies"]:
        assert item["unit"] != "%" or 0 <= item["value"] <= 100
