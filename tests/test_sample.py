"""The demo's sample history: deterministic, shaped like the first user, ingested for real."""

from __future__ import annotations

import hashlib
import itertools
import random
from collections import Counter

from pilothouse import sample

from .conftest import Cli


def _digest(batches: list[sample.SampleBatch]) -> str:
    sha = hashlib.sha256()
    for batch in batches:
        sha.update(repr(batch.run).encode())
        for report in batch.reports:
            sha.update(report.digest.encode())
    return sha.hexdigest()


def test_same_arguments_same_bytes() -> None:
    first = list(itertools.islice(sample.generate(days=5), 40))
    again = list(itertools.islice(sample.generate(days=5), 40))
    assert _digest(first) == _digest(again)
    other = list(itertools.islice(sample.generate(days=5, seed=8), 40))
    assert _digest(first) != _digest(other)


def test_shape_of_the_history() -> None:
    batches = list(sample.generate(days=60))
    workflows = Counter(b.run.workflow for b in batches if b.run.attempt == 1)
    assert set(workflows) == {"ci-build", "tests-all", "integration-tests", "release"}
    days = {b.run.created_at.date() for b in batches if b.run.created_at}
    assert len(days) == 60
    one_run = [b for b in batches if b.run.workflow == "tests-all"][:4]
    names: set[tuple[str, str]] = set()
    crates: set[str] = set()
    for batch in one_run:
        for report in batch.reports:
            for case in report.testcases():
                names.add((case.classname, case.name))
                crates.add(case.classname)
    assert 3300 <= len(names) <= 3500
    assert len(crates) == 40


def _outcomes_by_run(batches: list[sample.SampleBatch]) -> dict[tuple[str, int], Counter[str]]:
    found: dict[tuple[str, int], Counter[str]] = {}
    for batch in batches:
        counter = found.setdefault((batch.run.run_key, batch.run.attempt), Counter())
        for report in batch.reports:
            counter.update(case.outcome for case in report.testcases())
    return found


def test_the_story_is_in_the_data() -> None:
    batches = list(sample.generate(days=60))
    by_run = _outcomes_by_run(batches)
    # One outage: a run where most tests fail at once.
    outages = [k for k, c in by_run.items() if c["failed"] > 0.5 * sum(c.values())]
    assert len(outages) >= 1
    # Re-runs exist (attempt 2) and flaky tests pass on nextest's retry.
    assert any(attempt == 2 for _key, attempt in by_run)
    retried = [
        case
        for batch in batches[:400]
        for report in batch.reports
        for case in report.testcases()
        if case.retries
    ]
    assert retried and all(case.outcome == "passed" for case in retried)
    # The regression fails on every run for a few days, then is fixed.
    regression = sample._tests(random.Random(7))[sample.REGRESSION_TEST]
    fails_by_day: Counter[int] = Counter()
    for batch in batches:
        for report in batch.reports:
            for case in report.testcases():
                if case.name == regression.name and "src/wal.rs" in case.message:
                    fails_by_day[batch.run.created_at.toordinal()] += 1  # type: ignore[union-attr]
    assert len(fails_by_day) == sample.REGRESSION_DAYS[1] - sample.REGRESSION_DAYS[0] + 1


def test_loading_through_the_cli_twice_adds_nothing(sqlite_cli: Cli) -> None:
    first = sqlite_cli.json("sample", "--days", "2")
    assert first["duplicates"] == 0 and first["tests"] > 6000
    again = sqlite_cli.json("sample", "--days", "2")
    assert again["duplicates"] == again["tests"] == first["tests"]
    runs = sqlite_cli.json("runs")["runs"]
    assert sum(len(r["attempts"]) for r in runs) == first["runs"]


def test_bad_end_date_is_a_usage_error(sqlite_cli: Cli) -> None:
    code, _out, err = sqlite_cli("sample", "--end", "someday")
    assert code == 2 and "--end" in err


def test_sample_bills_look_like_the_first_user(sqlite_cli: Cli) -> None:
    first = sqlite_cli.json("sample", "--days", "30")
    again = sqlite_cli.json("sample", "--days", "30")
    assert first["cost_lines"] == again["cost_lines"] > 1000
    report = sqlite_cli.json("cost", "--until", "2026-11-27", "--days", "28")
    usd = report["currencies"]["USD"]
    daily = [float(d["total"]) for d in usd["daily"]]
    assert 85 <= sum(daily) / len(daily) <= 96  # the roadmap's $85-96 a day
    assert min(daily) < 70  # weekends are cheaper: the weekday-only lever has something to save
    assert [a["main_contributor"] for a in usd["anomalies"]] == ["Amazon Bedrock"]
    assert set(usd["by_group"]) >= {"Amazon Bedrock", "Amazon Elastic Compute Cloud"}


def test_another_seed_or_window_is_a_history_of_its_own(sqlite_cli: Cli) -> None:
    """Run ids come from the seed and dates: a second history never merges into the first."""
    first = sqlite_cli.json("sample", "--days", "2", "--end", "2026-11-27")
    attempts = first["runs"]
    for flags in (("--seed", "8"), ("--end", "2026-11-20")):
        other = sqlite_cli.json("sample", "--days", "2", "--end", "2026-11-27", *flags)
        assert other["duplicates"] == 0, flags
        attempts += other["runs"]
    runs = sqlite_cli.json("runs", "--limit", "1000")["runs"]
    assert sum(len(r["attempts"]) for r in runs) == attempts  # nothing merged
    again = sqlite_cli.json("sample", "--days", "2", "--end", "2026-11-27")
    assert again["duplicates"] == first["tests"]


def test_run_ids_depend_on_the_seed_and_dates() -> None:
    from datetime import date

    end = date(2026, 11, 27)
    ids = {
        sample.first_run_number(days=days, end=last, seed=seed)
        for days, last, seed in [
            (60, end, 7),
            (60, end, 8),
            (30, end, 7),
            (60, date(2026, 11, 1), 7),
        ]
    }
    assert len(ids) == 4
    assert sample.first_run_number(days=60, end=end, seed=7) == sample.first_run_number(
        days=60, end=end, seed=7
    )


def test_workflows_and_artifacts_are_deterministic_and_growing() -> None:
    from datetime import date

    end = date(2026, 11, 27)
    first = list(sample.artifact_records(days=60, end=end, seed=7))
    assert first == list(sample.artifact_records(days=60, end=end, seed=7))
    assert first != list(sample.artifact_records(days=60, end=end, seed=8))
    totals: dict[str, int] = {}
    for artifact in first:
        totals[artifact.run_key] = totals.get(artifact.run_key, 0) + artifact.size_bytes
    sizes = [size / 1e6 for _key, size in sorted(totals.items())]  # run keys grow with time
    assert 140 < sizes[0] < 160 and 250 < sizes[-1] < 270
    assert sum(sizes[-10:]) > sum(sizes[:10])
    builds = {
        b.run.run_key for b in sample.generate(days=60, end=end) if b.run.workflow == "ci-build"
    }
    assert set(totals) == builds
    assert len({a.artifact_key for a in first}) == len(first)
    flows = sample.workflow_records(end=end)
    assert [w.name for w in flows] == list(sample.WORKFLOWS)
    assert {w.state for w in flows} == {"active"}
