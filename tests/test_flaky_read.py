"""`flaky` reads counts in SQL and only the tests that failed or retried, test after test:
its output must be exactly what detection over every result of the window gives."""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy

from pilothouse.analysis import flaky as analysis
from pilothouse.cli.flaky import _report_dict
from pilothouse.cli.output import _default
from pilothouse.model import Retry, RunInfo, TestCase
from pilothouse.sources import durations
from pilothouse.store import Store, history
from pilothouse.store.engine import parse_url
from pilothouse.store.reports import ReportInput
from pilothouse.store.schema import jobs, reports, runs, test_results, tests

from .conftest import PG_URL, Cli

T0 = datetime(2026, 10, 1, 8, tzinfo=UTC)
NOW = T0 + timedelta(hours=40)
COMMITS = 36
JOBS = ("linux", "windows")
# Two stored names of one test id: tests/test_c.py::Foo::t.
TWINS = (("tests.test_c.Foo", "t", "tests/test_c.py"), ("other", "Foo::t", "tests/test_c.py"))


def _tests() -> list[tuple[str, str, str, str, str]]:
    """(suite, classname, name, file, kind) of the simulated project."""
    made = []
    for index in range(60):
        kind = "flaky" if index < 8 else "retry" if index < 11 else "skipped" if index < 14 else ""
        module = f"tests.test_m{index % 5}"
        made.append(
            (
                "unit" if index % 3 else "integration",
                f"{module}.TestX",
                f"test_{index}",
                f"tests/test_m{index % 5}.py",
                kind or "stable",
            )
        )
    made += [
        ("unit", "tests.test_b.Broken", "test_regression", "tests/test_b.py", "broken"),
        ("unit", "tests.test_p.Paths", "test_long_paths", "tests/test_p.py", "platform"),
        ("unit", *TWINS[0], "flaky"),
        ("integration", *TWINS[1], "flaky"),
        ("e2e", "crate::io", "reads_file", "", "flaky"),  # not a pytest id
    ]
    return made


def _case(rng: random.Random, test: tuple[str, ...], commit: int, job: str, mass: bool) -> TestCase:
    suite, classname, name, file, kind = test
    failing = (
        mass
        or (kind == "flaky" and rng.random() < 0.2)
        or (kind == "broken" and 12 <= commit < 17)
        or (kind == "platform" and job == "windows")
    )
    if kind == "skipped":
        return TestCase(suite, classname, name, file, None, "skipped")
    if kind == "retry" and rng.random() < 0.3:
        retry = Retry("flakyFailure", f"timed out after {rng.randint(1000, 9999)} ms", 1.0)
        return TestCase(suite, classname, name, file, 0.5, "passed", "", (retry,))
    if failing:
        message = "connection refused port 5432" if mass else f"assert {rng.randint(1, 99)} == 0"
        return TestCase(suite, classname, name, file, 0.5, rng.choice(["failed", "error"]), message)
    return TestCase(suite, classname, name, file, 0.5, "passed")


def _load(store: Store, seed: int) -> None:
    """A labelled history: flaky, retried, broken, platform-only, skipped and twin tests;
    re-run attempts; an outage (commit 5); a broken build (commits 25 and 26, mass
    failures in a row); runs without a commit, at the same time, or without a time."""
    rng = random.Random(seed)
    tests = _tests()
    for commit in range(COMMITS):
        at = T0 + timedelta(hours=commit) if commit != 9 else T0 + timedelta(hours=8)
        sha = None if commit % 11 == 3 else f"c{commit:02d}"
        for attempt in (1, 2):
            for job in JOBS:
                mass = attempt == 1 and (commit == 5 or commit in (25, 26)) and job == "linux"
                cases = [_case(rng, t, commit, job, mass) for t in tests]
                if attempt == 2 and (
                    commit in (25, 26) or not any(c.outcome in ("failed", "error") for c in cases)
                ):
                    continue
                run = RunInfo(
                    "local", "acme/widgets", f"r{commit}", attempt, commit=sha, job=job,
                    created_at=None if commit == 30 else at + timedelta(minutes=40 * (attempt - 1)),
                )  # fmt: skip
                digest = hashlib.sha256(f"{commit}/{attempt}/{job}".encode()).hexdigest()
                store.add_reports(run, [ReportInput("r.xml", digest, 1, cases)], now=NOW)


def _every_result(url: str, since: datetime | None) -> list[analysis.Result]:
    """Every result of the window, oldest first: what `flaky` read before (one record per
    result), the reference the bounded read must agree with."""
    query = (
        sqlalchemy.select(
            tests.c.classname, tests.c.name, tests.c.file,
            test_results.c.suite, runs.c.run_key, runs.c.attempt, jobs.c.name.label("job"),
            runs.c.commit_sha, runs.c.created_at, test_results.c.outcome,
            test_results.c.retries, test_results.c.message,
        )
        .select_from(test_results)
        .join(tests, tests.c.id == test_results.c.test_id)
        .join(reports, reports.c.id == test_results.c.report_id)
        .join(runs, runs.c.id == reports.c.run_id)
        .outerjoin(jobs, jobs.c.id == reports.c.job_id)
        .where(runs.c.created_at.is_not(None))
        .order_by(runs.c.created_at, runs.c.attempt, test_results.c.report_id,
                  test_results.c.ordinal)
    )  # fmt: skip
    if since is not None:
        query = query.where(runs.c.created_at >= since)
    engine = sqlalchemy.create_engine(parse_url(url))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    engine.dispose()
    return [
        analysis.Result(
            durations.test_id(r.classname, r.name, r.file), r.suite, r.run_key, r.attempt,
            r.job or "", r.commit_sha or f"run:{r.run_key}", r.created_at, r.outcome,
            r.retries, r.message,
        )
        for r in rows
    ]  # fmt: skip


def _reference(results: list[analysis.Result], thresholds: analysis.Thresholds) -> Any:
    report = analysis.detect(results, thresholds)
    held = {f.test for f in analysis.quarantined(report, thresholds)}
    document = _report_dict(report, analysis.pass_rates(results, held, report.outages))
    return json.loads(json.dumps(document, default=_default))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The labelled history, loaded once per backend for this module's read-only tests."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('flaky-read') / 'store.db'}"
        with Store.open(url, create=True) as store:
            _load(store, seed=3)
        yield url
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(PG_URL)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
        with Store.open(url, create=True) as store:
            _load(store, seed=3)
        yield url
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


THRESHOLDS = analysis.Thresholds()  # the settings' defaults


@pytest.mark.parametrize("window", [None, "1"])
def test_flaky_json_is_detection_over_every_result(loaded: str, tmp_path, window) -> None:
    cli = Cli(cwd=tmp_path, db=loaded, now=NOW)
    args = ["flaky", "--window", window] if window else ["flaky", "--since", "2026-01-01"]
    since = NOW - timedelta(days=int(window)) if window else datetime(2026, 1, 1, tzinfo=UTC)
    got = cli.json(*args)
    expected = _reference(_every_result(loaded, since), THRESHOLDS)
    assert got == expected
    assert got["flaky"] and got["pass_rate"]["by_suite"]
    if window is None:  # the whole history holds every kind of verdict
        assert got["broken"] and got["platform"] and got["outages"]
    assert any(f["test"] == "tests/test_c.py::Foo::t" for f in got["flaky"] + got["candidates"])
    held = cli.json(*args, "quarantine")
    assert [h["test"] for h in held["quarantined"]] == [
        f["test"] for f in got["flaky"] if f["clean_runs_since"] < 20
    ]


def test_outage_and_broken_build_are_told_apart(loaded: str, tmp_path) -> None:
    got = Cli(cwd=tmp_path, db=loaded, now=NOW).json("flaky", "--since", "2026-01-01")
    assert [(o["run"], o["attempt"]) for o in got["outages"]] == [("r5", 1)]
    assert got["outages"][0]["message"] == "connection refused port 5432"


def test_twin_names_of_one_test_are_one_history(loaded: str, tmp_path) -> None:
    """Two stored names of one test id are read as one history, in time order."""
    got = Cli(cwd=tmp_path, db=loaded, now=NOW).json("flaky", "--since", "2026-01-01")
    everything = _every_result(loaded, None)
    twin = [r for r in everything if r.test == "tests/test_c.py::Foo::t" and r.outcome != "skipped"]
    listed = [f for f in got["flaky"] + got["candidates"] if f["test"] == twin[0].test]
    outside = {(o["run"], o["attempt"]) for o in got["outages"]}
    assert listed[0]["runs"] == sum((r.run, r.attempt) not in outside for r in twin)


def test_preview_matches_detection_over_every_result(loaded: str, tmp_path) -> None:
    cli = Cli(cwd=tmp_path, db=loaded, now=NOW)
    got = cli.json("flaky", "--since", "2026-01-01", "--preview", "--min-runs", "500")
    added, dropped = analysis.preview(
        _every_result(loaded, None), THRESHOLDS, analysis.Thresholds(min_runs=500)
    )
    assert got == {"added": added, "dropped": dropped}
    assert dropped  # the change of threshold does drop tests


def test_empty_window_reports_nothing(loaded: str, tmp_path) -> None:
    cli = Cli(cwd=tmp_path, db=loaded, now=NOW + timedelta(days=30))
    code, out, err = cli("flaky", "--window", "1", "--json")
    assert code == 0 and "no test results" in err.lower()
    document = json.loads(out)
    assert document["flaky"] == [] and document["pass_rate"]["by_day"] == []


def test_only_tests_that_failed_or_retried_are_read_row_by_row(store: Store) -> None:
    """Tests that never failed are counted in SQL; only the others' rows come back, test
    after test, and a failure inside an outage attempt does not make a test one of them."""
    at = datetime(2026, 11, 2, 9, tzinfo=UTC)
    retry = (Retry("rerunFailure", "flaky", None),)
    batches = {
        ("1", 1): {"a": "passed", "b": "failed", "c": "passed", "d": "skipped"},
        ("2", 1): {"a": "passed", "b": "passed", "c": "passed", "d": "skipped"},
        ("3", 1): {"a": "failed", "b": "passed", "c": "retried", "d": "skipped"},
    }
    for (key, attempt), outcomes in batches.items():
        cases = [
            TestCase("s", "k", name, "", 0.1, "passed", "", retry)
            if outcome == "retried"
            else TestCase("s", "k", name, "", 0.1, outcome, "boom" if outcome == "failed" else "")
            for name, outcome in outcomes.items()
        ]
        run = RunInfo("local", "acme/w", key, attempt, commit="abc", created_at=at)
        store.add_reports(run, [ReportInput("r.xml", key * 64, 1, cases)], now=NOW)
        at += timedelta(hours=1)
    tallies = list(store.suite_tallies())
    assert sorted((t.run_key, t.results, t.executed, t.passed, t.failed) for t in tallies) == [
        ("1", 4, 3, 2, 1),
        ("2", 4, 3, 3, 0),
        ("3", 4, 3, 2, 1),
    ]
    outage = [t.run_id for t in tallies if t.run_key == "3"]
    assert store.failing_tests(outage_runs=outage) == [("k", "b", "")]
    assert sorted(store.failing_tests()) == [("k", "a", ""), ("k", "b", ""), ("k", "c", "")]
    # every test stored under those names, d (skipped only) too: one row per test
    assert sorted(store.tests_named(["a", "d", "zz"])) == [("k", "a", ""), ("k", "d", "")]
    rows = list(store.test_histories([("k", "b", ""), ("k", "a", "")]))
    assert [(r.name, r.run_key, r.outcome) for r in rows] == [
        ("a", "1", "passed"), ("a", "2", "passed"), ("a", "3", "failed"),
        ("b", "1", "failed"), ("b", "2", "passed"), ("b", "3", "passed"),
    ]  # fmt: skip
    assert list(store.failure_messages(outage)) == [("3", 1, "boom")]
    assert list(store.failure_messages([])) == []


def test_doctests() -> None:
    import doctest

    from pilothouse import flaky_reader

    assert doctest.testmod(flaky_reader).failed == 0
    assert doctest.testmod(analysis).failed == 0


def test_tests_read_a_few_per_query_give_the_same_report(
    loaded: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Names and tests are sent a few per query (bound-value limits): a test's stored
    names split across two queries are still one history."""
    cli = Cli(cwd=tmp_path, db=loaded, now=NOW)
    whole = cli.json("flaky", "--since", "2026-01-01")
    monkeypatch.setattr(history, "TESTS_PER_QUERY", 1)  # every name, every test apart
    assert cli.json("flaky", "--since", "2026-01-01") == whole
