"""Per-test per-day rollups (store/rollups.py) and the duration sketch (analysis/sketch.py):
kept exact at ingest on both backends, backfilled by migration 0008, and read by
`tests` and `report` with counts equal to the raw computation for any window."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy
from alembic import command
from hypothesis import given, settings
from hypothesis import strategies as st

from pilothouse.analysis import sketch
from pilothouse.analysis.test_stats import TestStats, percentile, summarize_tests
from pilothouse.model import RunInfo, TestCase
from pilothouse.store import ReportInput, Store
from pilothouse.store import engine as engines
from pilothouse.store.rollups import KEY_BYTES, _whole_days_from, key_of_test
from pilothouse.store.schema import test_day_bins, test_days, tests

from .conftest import FIXED_NOW, Cli
from .test_store_github import REPO, _attempt, _job

# The bound, as stated in the docs: relative error ALPHA, plus float rounding.
BOUND = sketch.ALPHA * (1 + 1e-9)
T0 = datetime(2026, 11, 3, 22, 30, tzinfo=UTC)

durations = st.floats(min_value=0.0, max_value=1e6, allow_nan=False) | st.sampled_from(
    [0.0, 1e-6, 0.001, 1.0]
)


def _close(estimate: float, exact: float) -> bool:
    return abs(estimate - exact) <= BOUND * abs(exact) + 1e-12


@settings(max_examples=300)
@given(st.lists(durations, min_size=1, max_size=200), st.integers(0, 100))
def test_sketch_quantile_is_within_alpha_of_the_exact_percentile(
    values: list[float], q: int
) -> None:
    found = sketch.spans(sketch.Bin.of(v) for v in values)
    assert _close(sketch.quantile(found, len(values), q), percentile(values, q))


@given(st.lists(st.lists(durations, min_size=1, max_size=30), min_size=1, max_size=6))
def test_merged_day_histograms_are_the_histogram_of_all_days(days: list[list[float]]) -> None:
    per_day = [[sketch.Bin.of(v) for v in day] for day in days]
    merged = sketch.spans(pair for day in per_day for pair in day)
    whole = sketch.spans(sketch.Bin.of(v) for day in days for v in day)
    assert merged == whole


def test_quantile_needs_only_the_bins_around_its_ranks() -> None:
    values = [float(v) for v in range(1, 101)]
    found = sketch.spans(sketch.Bin.of(v) for v in values)
    low, high, _ = sketch.ranks(90, len(values))
    wanted = [s for s in found if s.first <= high and s.last >= low]
    assert sketch.quantile(wanted, 100, 90) == sketch.quantile(found, 100, 90)
    with pytest.raises(ValueError, match="no bin holds rank"):
        sketch.quantile(wanted, 100, 50)


@given(durations, st.integers(1, 50))
def test_a_test_that_always_takes_the_same_time_has_exact_quantiles(
    duration: float, runs: int
) -> None:
    found = sketch.spans(sketch.Bin.of(duration) for _ in range(runs))
    exact = percentile([duration] * runs, 50)
    assert sketch.quantile(found, runs, 50) == sketch.quantile(found, runs, 90) == exact


def test_zero_durations_are_exact_and_bins_are_ordered() -> None:
    assert sketch.bin_value(sketch.bin_of(0.0)) == 0.0
    assert sketch.bin_of(5e-324) > sketch.ZERO_BIN
    assert sketch.quantile(sketch.spans([sketch.Bin(sketch.ZERO_BIN, 3, 0.0, 0.0)]), 3, 90) == 0.0


def test_test_key_is_unambiguous() -> None:
    assert key_of_test("a\x1fb", "c", "") != key_of_test("a", "b\x1fc", "")
    assert key_of_test("ab", "c", "d") != key_of_test("a", "bc", "d")
    assert len(key_of_test("x" * 100_000, "é", "")) == KEY_BYTES == 16


# -- the store: rollups == the raw results -------------------------------------------


def _run(key: str, created_at: datetime | None, job: str | None = None) -> RunInfo:
    return RunInfo("github", "acme/widgets", key, job=job, created_at=created_at)


def _case(name: str, outcome: str, duration: float | None, classname: str = "pkg.C") -> TestCase:
    return TestCase("s", classname, name, "tests/t.py", duration, outcome)  # type: ignore[arg-type]


def _ingest(store: Store, run: RunInfo, digest: str, cases: list[TestCase]) -> None:
    store.add_reports(run, [ReportInput(f"{digest}.xml", digest, 1, cases)], now=FIXED_NOW)


def _history(store: Store, days: int = 4) -> None:
    """Runs every 5 hours over *days* days (some at the same time), tests that pass,
    fail, err, skip, rerun, lack durations and take zero seconds."""
    outcomes = ["passed", "failed", "passed", "error", "skipped", "passed"]
    for i in range(days * 24 // 5):
        at = T0 + timedelta(hours=5 * i)
        cases = [
            _case(f"test_{t}", outcomes[(i + t) % len(outcomes)], (t + 1) * (1 + (i % 7) / 3))
            for t in range(8)
        ]
        cases += [_case("test_0", "passed", 0.0), _case("test_none", "passed", None)]
        cases.append(_case("x" * 5000, "failed" if i % 3 else "passed", 0.25 * i, "Big"))
        _ingest(store, _run(f"r{i}", at), f"d{i}", cases)
        if i % 4 == 0:  # a second report of the same run: same time, a later report id
            _ingest(store, _run(f"r{i}", at, job="other"), f"e{i}", cases[::-1][:5])


def _compare(mine: list[TestStats], exact: list[TestStats]) -> None:
    by_key = {(s.classname, s.name, s.file): s for s in mine}
    assert sorted(by_key) == sorted((s.classname, s.name, s.file) for s in exact)
    for want in exact:
        got = by_key[(want.classname, want.name, want.file)]
        for name in ("runs", "passed", "failures", "skipped", "pass_rate"):
            assert getattr(got, name) == getattr(want, name), name
        assert (got.last_outcome, got.last_seen) == (want.last_outcome, want.last_seen)
        for name in ("median_seconds", "p90_seconds", "mean_seconds"):
            estimate, value = getattr(got, name), getattr(want, name)
            assert (estimate is None) == (value is None), name
            if value is not None:
                assert _close(estimate, value), (name, estimate, value)


def _check_window(store: Store, since: datetime | None) -> None:
    _compare(store.test_stats(since=since), summarize_tests(store.test_observations(since=since)))


def _stored_rollups(store: Store) -> tuple[dict[Any, tuple[Any, ...]], dict[Any, int]]:
    with store.engine.connect() as connection:
        days = {
            (row.classname, row.name, row.file, row.day): (
                row.passed,
                row.failed,
                row.skipped,
                row.timed,
                round(row.duration_sum, 6),
                row.last_outcome,
                row.last_seen,
            )  # fmt: skip
            for row in connection.execute(
                sqlalchemy.select(test_days, tests.c.classname, tests.c.name, tests.c.file).join(
                    tests, tests.c.id == test_days.c.test_id
                )
            )
        }
        bins = {
            (row.classname, row.name, row.file, row.day, row.bin): row.count
            for row in connection.execute(
                sqlalchemy.select(
                    test_day_bins, tests.c.classname, tests.c.name, tests.c.file
                ).join(tests, tests.c.id == test_day_bins.c.test_id)
            )
        }
    return days, bins


def _raw_rollups(store: Store) -> tuple[dict[Any, tuple[Any, ...]], dict[Any, int]]:
    acc: dict[Any, list[Any]] = defaultdict(lambda: [0, 0, 0, 0, 0.0, None, None])
    bins: dict[Any, int] = defaultdict(int)
    for obs in store.test_observations():  # oldest first, ties in ingest order
        if obs.created_at is None:
            continue
        day = obs.created_at.date()
        item = acc[(obs.classname, obs.name, obs.file, day)]
        item[{"passed": 0, "skipped": 2}.get(obs.outcome, 1)] += 1
        if obs.outcome != "skipped" and obs.duration is not None:
            item[3] += 1
            item[4] += obs.duration
            bins[(obs.classname, obs.name, obs.file, day, sketch.bin_of(obs.duration))] += 1
        item[5], item[6] = obs.outcome, obs.created_at
    days = {key: (*v[:4], round(v[4], 6), v[5], v[6]) for key, v in acc.items()}
    return days, dict(bins)


def assert_rollups_exact(url: str) -> None:
    """The stored rollups are what the raw results of the store add up to."""
    with Store.open(url) as store:
        stored_days, stored_bins = _stored_rollups(store)
        raw_days, raw_bins = _raw_rollups(store)
    assert stored_days == raw_days
    assert stored_bins == raw_bins


def test_rollups_equal_the_raw_results(store: Store, store_url: str) -> None:
    _history(store)
    assert_rollups_exact(store_url)


@pytest.mark.parametrize(
    "offset",
    [None, timedelta(0), timedelta(hours=1, minutes=30), timedelta(hours=1, minutes=31),
     timedelta(days=1, hours=13, seconds=1), timedelta(days=3, hours=20), timedelta(days=9)],
)  # fmt: skip
def test_windows_starting_mid_day_count_exactly(store: Store, offset: timedelta | None) -> None:
    _history(store)
    _check_window(store, None if offset is None else T0 + offset)


def test_a_window_starting_at_midnight_reads_no_raw_day(store: Store) -> None:
    _history(store)
    _check_window(store, datetime(2026, 11, 5, tzinfo=UTC))
    _check_window(store, datetime(2026, 11, 5, 1, tzinfo=timezone(timedelta(hours=1))))


def test_duplicate_reports_add_nothing(store: Store, store_url: str) -> None:
    _history(store, days=1)
    before = _stored_rollups(store)
    _history(store, days=1)
    assert _stored_rollups(store) == before
    assert_rollups_exact(store_url)


def test_the_newest_result_of_a_day_is_the_last_outcome(store: Store) -> None:
    """Reruns in one report, two reports of one run at the same time, an older run
    ingested after a newer one: the newest by (time, report, ordinal) wins."""
    late, early = T0 + timedelta(minutes=50), T0 + timedelta(minutes=10)
    _ingest(store, _run("a", late), "a1", [_case("t", "failed", 1.0), _case("t", "passed", 2.0)])
    _ingest(store, _run("a", late, job="j2"), "a2", [_case("t", "error", 3.0)])
    _ingest(store, _run("b", early), "b1", [_case("t", "passed", 4.0)])
    (stats,) = store.test_stats(since=T0)
    assert (stats.last_outcome, stats.last_seen, stats.runs, stats.failures) == (
        "error",
        late,
        4,
        2,
    )
    _check_window(store, T0 + timedelta(minutes=30))


def test_several_reports_in_one_call_roll_up_together(store: Store, store_url: str) -> None:
    """One ingest of three files: the newest report of each test gives its last outcome."""
    files = [
        [_case("t", "passed", 1.0), _case("u", "failed", 2.0), _case("t", "error", 0.0)],
        [_case("u", "passed", 3.0), _case("v", "skipped", None)],
        [_case("t", "failed", 4.0), _case("t", "passed", 5.0)],
    ]
    items = [ReportInput(f"{i}.xml", f"m{i}", 1, cases) for i, cases in enumerate(files)]
    store.add_reports(_run("multi", T0), items, now=FIXED_NOW)
    assert_rollups_exact(store_url)
    last = {s.name: (s.last_outcome, s.runs) for s in store.test_stats(since=T0)}
    assert last == {"t": ("passed", 4), "u": ("passed", 2), "v": ("skipped", 1)}
    _check_window(store, T0 - timedelta(hours=1))


def test_the_database_keys_a_test_as_key_of_test_does(store: Store) -> None:
    """PostgreSQL computes the key in SQL: the same digest as Python's, for any names."""
    names = [("pkg.Ç", "test_ü[𝄞-\x1f]", "tests/é.py"), ("", "x" * 100_000, ""), ("a", "", "b")]
    _ingest(store, _run("k", T0), "k1", [_case(n, "passed", 1.0, c) for c, n, _f in names])
    with store.engine.connect() as connection:
        stored = connection.execute(
            sqlalchemy.select(tests.c.key, tests.c.classname, tests.c.name, tests.c.file)
        ).all()
    assert sorted(key for key, *_ in stored) == sorted(
        key_of_test(c, n, f) for _k, c, n, f in stored
    )
    assert len(stored) == 3


def test_a_run_given_its_time_later_is_rolled_up_then(store: Store, store_url: str) -> None:
    """A synced run without a creation time, a report into it (not rolled up: no day),
    then a report that gives the run its time: both reports are rolled up."""
    store.store_github_run(REPO, [replace(_attempt(), created_at=None)], [_job("9", "test")])
    run = RunInfo("github", REPO, "555", 1, job="test")
    _ingest(store, run, "n1", [_case("t", "passed", 1.0)])
    assert _stored_rollups(store) == ({}, {})
    _check_window(store, None)
    _ingest(store, replace(run, created_at=T0), "n2", [_case("t", "failed", 2.0)])
    assert_rollups_exact(store_url)
    _check_window(store, None)


def test_a_sync_moving_a_run_to_another_day_moves_its_rollups(store: Store, store_url: str) -> None:
    """Ingest dates a run by its own clock; the sync gives GitHub's time, a day earlier."""
    run = RunInfo("github", REPO, "555", 1, job="test", created_at=T0 + timedelta(days=1))
    _ingest(store, run, "m1", [_case("t", "failed", 1.0), _case("u", "passed", 2.0)])
    _ingest(store, _run("other", T0 + timedelta(days=1, hours=1)), "o1", [_case("u", "error", 3)])
    _ingest(store, _run("older", T0 - timedelta(hours=1)), "p1", [_case("t", "passed", 4.0)])
    store.store_github_run(REPO, [_attempt()], [_job("9", "test")])  # created_at: T0 of github
    assert_rollups_exact(store_url)
    for since in (None, T0 - timedelta(hours=2), T0 + timedelta(hours=12)):
        _check_window(store, since)


def test_migration_backfills_the_rollups_of_a_0007_store(store: Store, store_url: str) -> None:
    _history(store, days=3)
    before = _stored_rollups(store)
    config = engines.alembic_config()
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0007_cost_scale")
    assert Store.revision(store_url) == "0007_cost_scale"
    assert Store.upgrade(store_url) == "0007_cost_scale"
    with Store.open(store_url) as upgraded:
        assert _stored_rollups(upgraded) == before
        _check_window(upgraded, T0 + timedelta(hours=7))
    assert_rollups_exact(store_url)


def test_tests_json_counts_equal_the_raw_computation(cli: Cli, store_url: str) -> None:
    with Store.open(store_url, create=True) as store:
        _history(store)
        since = T0 + timedelta(hours=26, minutes=15)
        exact = {
            (s.classname, s.name): s for s in summarize_tests(store.test_observations(since=since))
        }
    printed = cli.json("tests", "--json", "--since", since.isoformat())["tests"]
    assert len(printed) == len(exact)
    for item in printed:
        want = exact[(item["classname"], item["name"])]
        assert (item["runs"], item["passed"], item["failures"], item["skipped"]) == (
            want.runs,
            want.passed,
            want.failures,
            want.skipped,
        )
        assert item["last_outcome"] == want.last_outcome
        if want.median_seconds is not None:
            assert _close(item["median_seconds"], want.median_seconds)
            assert _close(item["p90_seconds"], want.p90_seconds)


def test_the_first_whole_day_of_a_window() -> None:
    assert _whole_days_from(datetime(2026, 11, 3, tzinfo=UTC)) == date(2026, 11, 3)
    assert _whole_days_from(datetime(2026, 11, 3, 0, 0, 1, tzinfo=UTC)) == date(2026, 11, 4)
    assert _whole_days_from(datetime(2026, 11, 3, 1, tzinfo=timezone(timedelta(hours=2)))) == (
        date(2026, 11, 3)
    )
    assert _whole_days_from(None) is None
