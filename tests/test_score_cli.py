"""`pilothouse score` and `artifacts` end to end on constructed histories, both backends:
each criterion met, missed or without data, the previous window, the JSON shape, the
gate's exit codes, Markdown and the job summary."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy

from pilothouse.analysis.test_stats import percentile
from pilothouse.cli.score import NO_CACHE_DATA
from pilothouse.model import ArtifactRecord, CostLine, RunAttempt, WorkflowRecord
from pilothouse.store import Store

from .conftest import FIXED_NOW, PG_URL, Cli

REPO = "acme/widgets"
MB = 1_000_000
CURRENT = FIXED_NOW - timedelta(days=7)  # inside the 14-day window
EARLIER = FIXED_NOW - timedelta(days=21)  # inside the previous one
_keys = iter(range(1000, 10_000))


def _run(
    store: Store,
    workflow: str,
    at: datetime,
    minutes: float,
    *,
    branch: str = "main",
    conclusion: str = "success",
    reruns: tuple[float, ...] = (),
) -> str:
    """A synced run (and its re-run attempts) lasting *minutes* (the last: *reruns*)."""
    key = str(next(_keys))
    attempts = [
        RunAttempt(
            key,
            n,
            workflow,
            "w-" + workflow,
            1,
            "push",
            branch,
            "abc",
            "completed",
            conclusion if n == 1 else "success",
            at,
            at + timedelta(hours=n - 1),
            at + timedelta(hours=n - 1, minutes=length),
        )  # fmt: skip
        for n, length in enumerate((minutes, *reruns), start=1)
    ]
    store.store_github_run(REPO, attempts, [])
    return key


def _artifacts(store: Store, run_key: str, *sizes_mb: float) -> None:
    store.upsert_artifacts(
        REPO,
        [
            ArtifactRecord(
                f"{run_key}-{i}",
                run_key,
                f"artifact-{i}",
                int(mb * MB),
                None,
                False,
                None,
                None,
                None,
            )  # fmt: skip
            for i, mb in enumerate(sizes_mb)
        ],
    )


def _workflows(store: Store) -> None:
    store.upsert_workflows(
        REPO,
        [
            WorkflowRecord("w-ci-build", "ci-build", ".github/workflows/ci-build.yml", "active",
                           None, None),
            WorkflowRecord("w-tests-all", "tests-all", ".github/workflows/tests-all.yml",
                           "active", None, None),
            WorkflowRecord("w-nightly", "nightly", ".github/workflows/nightly.yml",
                           "disabled_manually", None, None),
        ],
    )  # fmt: skip


def _spend(store: Store) -> None:
    today = FIXED_NOW.date()

    def line(day: date, amount: str) -> CostLine:
        return CostLine("focus", f"l-{day}", day, "EC2", Decimal(amount), "USD")

    lines = [line(today - timedelta(days=d), "50") for d in range(1, 15)]
    lines += [line(today - timedelta(days=d), "80") for d in range(15, 29)]
    lines.append(line(today, "120"))
    store.add_cost_lines(lines)


def _report(path: Path, failed: int) -> Path:
    cases = "".join(f'<testcase classname="c" name="t{i}"/>' for i in range(3))
    cases += "".join(
        f'<testcase classname="c" name="f{i}"><failure message="x"/></testcase>'
        for i in range(failed)
    )
    path.write_text(f'<testsuite name="s">{cases}</testsuite>')
    return path


@pytest.fixture
def history(cli: Cli, tmp_path: Path) -> Cli:
    """Two windows of a repository's CI, with every criterion's input."""
    with Store.open(cli.db, create=True) as store:
        for minutes in (20, 22, 24):
            _artifacts(store, _run(store, "ci-build", CURRENT, minutes), 100, 50)
        rerun = _run(store, "ci-build", CURRENT, 90, conclusion="failure", reruns=(26,))
        _artifacts(store, rerun, 250)
        _run(store, "ci-build", CURRENT, 1, conclusion="cancelled")  # not a whole run
        _run(store, "ci-build", CURRENT, 100, branch="feature")  # another branch
        _artifacts(store, _run(store, "ci-build", EARLIER, 35), 120)
        _run(store, "ci-build", EARLIER, 45)
        tests = _run(store, "tests-all", CURRENT, 50)
        _artifacts(store, tests, 5)
        _workflows(store)
        _spend(store)
    for when, failed in ((CURRENT, 1), (EARLIER, 0)):
        report = _report(tmp_path / f"report-{failed}.xml", failed)
        code, _out, err = cli("ingest", "junit", str(report), "--run-id", f"j{failed}",
                              "--workflow", "tests-all", "--branch", "main",
                              "--started", when.isoformat())  # fmt: skip
        assert code == 0, err
    return cli


def _criteria(cli: Cli, *args: str) -> dict[str, dict[str, object]]:
    data = cli.json("score", *args)
    return {item["id"]: item for item in data["criteria"]}


def test_each_criterion_on_a_constructed_history(history: Cli) -> None:
    got = _criteria(history)
    assert list(got) == ["build_time", "test_time", "cache_hit_rate", "artifact_size",
                         "test_pass_rate", "daily_cost", "workflows_active"]  # fmt: skip
    build = got["build_time"]
    # 20, 22, 24 and the re-run's latest attempt (26); not the cancelled run, not `feature`.
    assert (build["value"], build["samples"], build["status"]) == (23.0, 4, "met")
    assert build["previous"] == 40.0
    test = got["test_time"]
    assert (test["value"], test["status"], test["previous"]) == (50.0, "missed", None)
    assert "stretch < 40 min not met" in str(test["detail"])
    artifacts = got["artifact_size"]  # runs of 150, 150, 150, 250 MB
    assert (artifacts["value"], artifacts["samples"], artifacts["status"]) == (150.0, 4, "met")
    assert artifacts["previous"] == 120.0
    rate = got["test_pass_rate"]
    assert (rate["value"], rate["samples"], rate["status"]) == (75.0, 4, "missed")
    assert rate["previous"] == 100.0
    cost = got["daily_cost"]
    assert (cost["value"], cost["samples"], cost["status"], cost["previous"]) == (
        50.0, 14, "met", 80.0)  # fmt: skip
    assert "today 120.00 (over the limit), alert above 105.00" in str(cost["detail"])
    flows = got["workflows_active"]
    assert (flows["value"], flows["target"], flows["status"]) == (2.0, 3.0, "missed")
    assert flows["detail"] == "nightly disabled_manually"
    cache = got["cache_hit_rate"]
    assert (cache["status"], cache["samples"], cache["detail"]) == ("no-data", 0, NO_CACHE_DATA)


def test_json_shape(history: Cli) -> None:
    data = history.json("score")
    assert set(data) == {"window_days", "criteria", "met", "missed", "no_data"}
    assert data["window_days"] == 14
    keys = {"id", "title", "value", "unit", "target", "comparison", "status", "samples",
            "previous", "detail"}  # fmt: skip
    assert all(set(item) == keys for item in data["criteria"])
    statuses = [item["status"] for item in data["criteria"]]
    assert (data["met"], data["missed"], data["no_data"]) == (
        statuses.count("met"), statuses.count("missed"), statuses.count("no-data"))  # fmt: skip
    assert data == json.loads(history("score", "--format", "json")[1])


def test_targets_and_window_come_from_settings_and_flags(history: Cli) -> None:
    (history.cwd / "pilothouse.toml").write_text(
        "[targets]\nbuild_minutes = 20\ntest_minutes = 60\nartifact_mb = 100\n"
        'pass_rate_percent = 70\nbranch = "feature"\n'
    )
    got = _criteria(history)
    assert got["build_time"]["value"] == 100.0 and got["build_time"]["status"] == "missed"
    history.env["PILOTHOUSE_TARGETS_BRANCH"] = "main"
    got = _criteria(history)
    assert (got["build_time"]["status"], got["test_time"]["status"]) == ("missed", "met")
    assert (got["artifact_size"]["status"], got["test_pass_rate"]["status"]) == ("missed", "met")
    wide = history.json("score", "--window", "30")
    assert wide["window_days"] == 30
    assert {c["id"]: c["samples"] for c in wide["criteria"]}["build_time"] == 6


def test_bad_targets_are_refused(history: Cli) -> None:
    (history.cwd / "pilothouse.toml").write_text("[targets]\ncache_hit_percent = 0.75\n")
    code, _out, err = history("score")
    assert code == 1 and "targets.cache_hit_percent must be a percentage" in err
    (history.cwd / "pilothouse.toml").write_text("[targets]\nbuild_workflows = []\n")
    code, _out, err = history("score")
    assert code == 1 and "targets.build_workflows must name at least one workflow" in err
    (history.cwd / "pilothouse.toml").unlink()
    code, _out, err = history("score", "--window", "0")
    assert code == 2 and "--window" in err


def test_check_and_strict_exit_codes(history: Cli) -> None:
    code, out, err = history("score", "--check")
    assert code == 1 and "Scorecard" in out
    missed = [line for line in err.splitlines() if line.startswith("pilothouse: score check:")]
    assert [line.split()[3] for line in missed] == [
        "test_time", "test_pass_rate", "workflows_active"]  # fmt: skip
    (history.cwd / "pilothouse.toml").write_text(
        "[targets]\ntest_minutes = 60\npass_rate_percent = 70\n"
    )
    history.env["PILOTHOUSE_TARGETS_BRANCH"] = "main"
    code, _out, err = history("score", "--check", "--path", str(_workflow_dir(history.cwd)))
    assert code == 1 and "workflows_active missed" in err
    code, _out, err = history("score", "--check", "--window", "30")
    assert code == 1 and "workflows_active" in err  # nightly stays disabled
    with Store.open(history.db) as store:
        gone = WorkflowRecord("w-nightly", "nightly", ".github/workflows/nightly.yml",
                              "deleted", None, None)  # fmt: skip
        store.upsert_workflows(REPO, [gone])
    code, _out, err = history("score", "--check")
    assert (code, err) == (0, "")  # only the cache has no data
    code, _out, err = history("score", "--check", "--strict")
    assert code == 1 and err.startswith("pilothouse: score check: cache_hit_rate no data")
    assert history("score", "--strict")[0] == 1


def _workflow_dir(root: Path) -> Path:
    folder = root / "repo" / ".github" / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("ci-build.yml", "tests-all.yml", "release.yaml", "README.md"):
        (folder / name).write_text("on: push\n")
    return root / "repo"


def test_local_workflow_files_must_be_registered(history: Cli) -> None:
    root = _workflow_dir(history.cwd)
    flows = _criteria(history, "--path", str(root))["workflows_active"]
    assert flows["detail"] == (
        ".github/workflows/release.yaml not registered; nightly disabled_manually"
    )
    assert (flows["value"], flows["target"]) == (2.0, 4.0)
    history.cwd = root  # the working directory's own files count without --path
    assert _criteria(history)["workflows_active"]["target"] == 4.0
    code, _out, err = history("score", "--path", str(root / "nowhere"))
    assert code == 2 and "has no .github/workflows folder" in err


def test_markdown_and_the_job_summary(history: Cli, tmp_path: Path) -> None:
    code, out, _err = history("score", "--format", "markdown")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("### Scorecard, last 14 days")
    assert "3 met, 3 missed, 1 no data" in lines[0]
    assert lines[2] == "| | criterion | value | target | previous | samples | detail |"
    assert "| ✅ met | Build time (p50) | 23.0 min | &lt; 30 min | 40.0 min | 4 |" in out
    assert "| ⚪ no data | Cache hit rate | - | &gt; 75 % | - | 0 |" in out
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    history.env["GITHUB_STEP_SUMMARY"] = str(summary)
    code, table, _err = history("score", "--summary")
    assert code == 0 and "┃ criterion" in table
    assert summary.read_text() == "earlier step\n" + out + "\n"
    history.env.pop("GITHUB_STEP_SUMMARY")
    code, _out, err = history("score", "--summary")
    assert code == 0 and "GITHUB_STEP_SUMMARY is not set" in err


def test_table_fits_the_width(history: Cli) -> None:
    for width in (60, 100, 200):
        history.env["COLUMNS"] = str(width)
        code, out, _err = history("score")
        assert code == 0
        assert max(len(line) for line in out.splitlines()) <= width
        assert "Build time (p50)" in out and "no data" in out and "samples" in out


def test_default_branch_from_the_github_event(history: Cli, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"repository": {"default_branch": "feature"}}))
    history.env["GITHUB_EVENT_PATH"] = str(event)
    assert _criteria(history)["build_time"]["value"] == 100.0
    event.write_text("not json")
    assert _criteria(history)["build_time"]["value"] == 23.0  # unknown: main


def test_an_empty_store_has_no_data_and_a_missing_store_is_an_error(cli: Cli) -> None:
    code, _out, err = cli("score")
    assert code == 1 and "no pilothouse store here" in err  # as `report` says
    Store.upgrade(cli.db)
    data = cli.json("score")
    assert (data["met"], data["missed"], data["no_data"]) == (0, 0, 7)
    assert all(item["samples"] == 0 for item in data["criteria"])
    assert cli("score", "--check")[0] == 0
    assert cli("score", "--check", "--strict")[0] == 1


def test_artifacts_per_workflow(history: Cli) -> None:
    data = history.json("artifacts")
    assert (data["window_days"], data["branch"], data["target_mb"]) == (14, "main", 200.0)
    build, tests = data["workflows"]
    assert (build["workflow"], build["runs"], build["p50_mb"]) == ("ci-build", 4, 150.0)
    assert (build["newest_mb"], build["first_mb"], build["growth_mb"]) == (250.0, 150.0, 100.0)
    assert (build["previous_p50_mb"], build["status"]) == (120.0, "met")
    assert build["largest"] == [{"name": "artifact-0", "mb": 250.0, "first_mb": 100.0}]
    assert (tests["workflow"], tests["newest_mb"], tests["previous_p50_mb"]) == (
        "tests-all", 5.0, None)  # fmt: skip
    code, out, _err = history("artifacts")
    assert code == 0 and "ci-build" in out and "250.0 MB" in out


def test_artifacts_without_any(cli: Cli) -> None:
    Store.upgrade(cli.db)
    assert cli.json("artifacts")["workflows"] == []
    code, out, _err = cli("artifacts")
    assert code == 0 and "No artifacts of runs on main in the last 14 days" in out


# -- the sample: the scorecard agrees with the commands that own each number ------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def sample_cli(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("score-sample")
    if request.param == "sqlite":
        cli = Cli(cwd=folder, db=f"sqlite:///{folder / 'store.db'}")
        cli.json("sample", "--days", "28", "--end", FIXED_NOW.date().isoformat())
        yield cli
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(PG_URL)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        cli = Cli(cwd=folder, db=f"{PG_URL}?options=-csearch_path%3D{schema}")
        cli.json("sample", "--days", "28", "--end", FIXED_NOW.date().isoformat())
        yield cli
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def test_run_times_agree_with_runs(sample_cli: Cli) -> None:
    got = _criteria(sample_cli)
    runs = sample_cli.json("runs", "--window", "14")["runs"]
    for criterion, workflow in (("build_time", "ci-build"), ("test_time", "tests-all")):
        durations = [
            run["duration_seconds"]
            for run in runs
            if run["workflow"] == workflow and run["branch"] == "main"
            and run["status"] == "completed" and run["conclusion"] not in ("cancelled", "skipped")
        ]  # fmt: skip
        assert got[criterion]["samples"] == len(durations) > 10
        assert got[criterion]["value"] == round(percentile(durations, 50) / 60, 2)
        assert got[criterion]["status"] == "met"


def test_pass_rate_agrees_with_flaky(sample_cli: Cli) -> None:
    rate = _criteria(sample_cli)["test_pass_rate"]
    flaky = sample_cli.json("flaky", "--window", "14")
    assert rate["value"] == round(100 * flaky["pass_rate"]["overall"]["gate"], 3)
    assert rate["samples"] > 10_000


def test_daily_cost_agrees_with_cost(sample_cli: Cli) -> None:
    cost = _criteria(sample_cli)["daily_cost"]
    today = FIXED_NOW.date()
    ledger = sample_cli.json("cost", "--since", str(today - timedelta(days=14)),
                             "--until", str(today - timedelta(days=1)))  # fmt: skip
    usd = ledger["currencies"]["USD"]
    assert cost["samples"] == ledger["days"] == 14
    assert cost["value"] == round(float(Decimal(usd["total"]) / 14), 2)
    assert cost["status"] == "missed"  # the first user's $85-96 a day
    assert f"today {ledger_today(sample_cli, today)}" in str(cost["detail"])


def ledger_today(cli: Cli, today: date) -> str:
    return str(cli.json("cost", "--days", "1", "--until", str(today))["currencies"]["USD"]["today"])


def test_artifact_size_agrees_with_artifacts(sample_cli: Cli) -> None:
    size = _criteria(sample_cli)["artifact_size"]
    (build,) = (w for w in sample_cli.json("artifacts")["workflows"] if w["workflow"] == "ci-build")
    assert size["samples"] == build["runs"] > 10
    assert abs(size["value"] - build["p50_mb"]) < 0.006
    assert abs(size["previous"] - build["previous_p50_mb"]) < 0.006
    assert size["status"] == build["status"] == "missed"
    assert build["growth_mb"] > 0 and 150 < build["p50_mb"] < 265


def test_the_sample_as_a_ci_gate(sample_cli: Cli) -> None:
    code, _out, err = sample_cli("score", "--check")
    assert code == 1
    assert "artifact_size missed" in err and "daily_cost missed" in err
    got = _criteria(sample_cli)
    assert got["workflows_active"]["status"] == "met"
    assert got["workflows_active"]["detail"] == "all 4 workflows active and ran in the window"
