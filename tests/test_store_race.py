"""Concurrent writers on both backends: real processes racing into one fresh store.

Each race releases its writers from one barrier (tests/racer.py), so their
transactions really overlap: on PostgreSQL, before natural-key writes were
INSERT ... ON CONFLICT, 3 of 4 such ingests failed on a unique constraint in
every trial.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy import Connection

from pilothouse import ingest
from pilothouse.errors import StoreConflict
from pilothouse.model import (
    ArtifactRecord,
    CacheUsage,
    IngestCounts,
    RunInfo,
    TestCase,
    WorkflowRecord,
)
from pilothouse.sources.junit import ReadStats, ReportFile
from pilothouse.store import ReportInput, Store, costs
from pilothouse.store import github as gh

from .conftest import DATA, FIXED_NOW, JUNIT
from .racer import Result, race
from .test_rollups import assert_rollups_exact
from .test_store_github import REPO, _attempt, _job

PULSAR = JUNIT / "test-reporter" / "external__java__pulsar-test-report.xml"
MATRIX = (
    PULSAR,
    JUNIT / "test-reporter" / "nette-tester__tester-v1.7-report.xml",
    JUNIT / "publish-unit-test-result-action" / "mocha__latex-utensils.xml",
    JUNIT / "publish-unit-test-result-action" / "pytest__junit.gloo.standalone.xml",
)
FOCUS = DATA / "cost" / "focus-sample-data" / "focus_sample.csv"
WRITERS = 4


def _expected_tests(path: Path) -> int:
    expected = json.loads((DATA / "junit_expected.json").read_text())
    return int(expected[str(path.relative_to(JUNIT))]["tests"])


def _succeeded(results: list[Result]) -> list[dict[str, int]]:
    for code, _out, err in results:
        assert code == 0, err
    return [json.loads(out) for _code, out, _err in results]


def _counts(url: str) -> dict[str, int]:
    with Store.open(url) as store:
        return store.counts()


def test_ingests_into_a_new_store_at_once_all_succeed(store_url: str, tmp_path: Path) -> None:
    """Four CI runs report into a store nobody created yet: four migrations, one
    new repository, four runs, all at once."""
    argvs = [
        ["ingest", "junit", str(PULSAR), "--repo", "acme/w", "--run-id", f"r{i}", "--json"]
        for i in range(WRITERS)
    ]
    printed = _succeeded(race(store_url, tmp_path, argvs))
    tests = _expected_tests(PULSAR)
    assert [(p["tests"], p["duplicates"]) for p in printed] == [(tests, 0)] * WRITERS
    counts = _counts(store_url)
    assert (counts["repositories"], counts["runs"], counts["reports"]) == (1, WRITERS, WRITERS)
    assert counts["test_results"] == WRITERS * tests
    assert_rollups_exact(store_url)


def test_matrix_jobs_of_one_run_report_at_once(store_url: str, tmp_path: Path) -> None:
    """A test matrix: one run id, one job each, each job its own report."""
    argvs = [
        ["ingest", "junit", str(path), "--repo", "acme/w", "--run-id", "42", "--job", f"test ({i})",
         "--json"]
        for i, path in enumerate(MATRIX)
    ]  # fmt: skip
    printed = _succeeded(race(store_url, tmp_path, argvs))
    assert [p["tests"] for p in printed] == [_expected_tests(path) for path in MATRIX]
    assert all(p["duplicates"] == 0 for p in printed)
    counts = _counts(store_url)
    assert (counts["runs"], counts["jobs"], counts["reports"]) == (1, WRITERS, WRITERS)
    assert counts["test_results"] == sum(_expected_tests(path) for path in MATRIX)
    assert_rollups_exact(store_url)


def test_one_report_ingested_at_once_is_stored_once(store_url: str, tmp_path: Path) -> None:
    """A retried upload: the same report, run and job, four times at once. One stores
    it, the others report its testcases as duplicates, as on SQLite."""
    argv = ["ingest", "junit", str(PULSAR), "--repo", "acme/w", "--run-id", "42", "--job", "test",
            "--json"]  # fmt: skip
    printed = _succeeded(race(store_url, tmp_path, [argv] * WRITERS))
    tests = _expected_tests(PULSAR)
    assert sorted(p["duplicates"] for p in printed) == [0] + [tests] * (WRITERS - 1)
    assert all(p["tests"] == tests for p in printed)
    counts = _counts(store_url)
    assert (counts["runs"], counts["jobs"], counts["reports"]) == (1, 1, 1)
    assert counts["test_results"] == tests
    assert_rollups_exact(store_url)


def test_one_cost_export_ingested_at_once_is_stored_once(store_url: str, tmp_path: Path) -> None:
    argv = ["ingest", "cost", str(FOCUS), "--format", "focus", "--json"]
    printed = _succeeded(race(store_url, tmp_path, [argv] * WRITERS))
    assert sorted(p["new"] for p in printed) == [0] * (WRITERS - 1) + [1000]
    assert sorted(p["duplicates"] for p in printed) == [0] + [1000] * (WRITERS - 1)
    with Store.open(store_url) as store:
        assert store.cost_range().lines == 1000


# -- a GitHub sync storing a run while a report goes into it -------------------------

RUN = RunInfo("github", REPO, "555", 1, job="test")


class Overlap:
    """Two writers in threads: the first holds its transaction open (calling `hold`)
    until the second is waiting on a lock (PostgreSQL; on SQLite it waits on the write
    lock, which nothing here can observe) or has ended; then both finish."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.application = f"second-{uuid.uuid4().hex[:8]}"
        self.second_url = url
        if url.startswith("postgresql"):
            self.second_url = f"{url}&application_name={self.application}"
        self.held, self.release = threading.Event(), threading.Event()
        self.errors: list[BaseException] = []

    def hold(self) -> None:
        self.held.set()
        assert self.release.wait(timeout=120)

    def _guarded(self, write: Callable[[], object]) -> None:
        try:
            write()
        except BaseException as exc:
            self.errors.append(exc)
            self.held.set()

    def run(self, first: Callable[[], object], second: Callable[[], object]) -> None:
        writing = threading.Thread(target=self._guarded, args=(first,))
        waiting = threading.Thread(target=self._guarded, args=(second,))
        writing.start()
        assert self.held.wait(timeout=120)
        waiting.start()
        self._wait_until_blocked(waiting)
        self.release.set()
        writing.join(timeout=120)
        waiting.join(timeout=120)
        assert self.errors == []

    def _wait_until_blocked(self, second: threading.Thread) -> None:
        if self.url.startswith("postgresql"):
            _wait_on_lock(self.url, self.application, alive=second.is_alive)


def _cases(outcome: str, hold: Callable[[], None]) -> Iterator[TestCase]:
    """Two testcases; between them the ingest's transaction is held open."""
    yield TestCase("s", "pkg.C", "test_a", "", 0.5, "passed")
    hold()
    yield TestCase("s", "pkg.C", "test_b", "", 0.5, outcome)  # type: ignore[arg-type]


@pytest.mark.parametrize("outcome", ["passed", "failed"])
def test_a_sync_storing_a_run_waits_for_a_report_going_into_it(
    store_url: str, outcome: str
) -> None:
    """A report ingested inside job "test" while a sync stores its run: the sync used to
    adopt the job's earlier reports, then delete the placeholder job, cascading into
    the new report (lost silently), or deadlock with the ingest on the run's row."""
    with Store.open(store_url, create=True) as store:
        store.add_reports(RUN, [ReportInput("a.xml", "d1", 1, [])], now=FIXED_NOW)
    overlap = Overlap(store_url)

    def ingest() -> None:
        with Store.open(store_url) as store:
            report = ReportInput("b.xml", "d2", 1, _cases(outcome, overlap.hold))
            store.add_reports(RUN, [report], now=FIXED_NOW)

    def sync() -> None:
        with Store.open(overlap.second_url) as store:
            store.store_github_run(REPO, [_attempt()], [_job("9", "test (ubuntu)")])

    overlap.run(ingest, sync)
    with Store.open(store_url) as store:
        (run,) = store.list_runs()
        counts = store.counts()
    assert (counts["reports"], counts["test_results"], counts["jobs"]) == (2, 2, 1)
    assert [job.name for job in run.jobs] == ["test (ubuntu)"]  # both reports adopted
    assert run.conclusion == "success"  # a synced run keeps GitHub's conclusion
    assert (run.tests, run.failed) == (2, int(outcome == "failed"))
    assert_rollups_exact(store_url)  # the sync moved the run to GitHub's time


# -- GitHub sync writes of one repository at once -------------------------------------

T = FIXED_NOW
WRITES: dict[str, Callable[[Connection], object]] = {
    "sync cursor": lambda c: gh.set_sync_state(c, REPO, cursor=T, synced_at=T),
    "ETag": lambda c: gh.save_etag(c, REPO, "https://api.github.com/x", '"e1"', None),
    "workflows": lambda c: gh.upsert_workflows(
        c, REPO, [WorkflowRecord("77", "CI", ".github/workflows/ci.yml", "active", T, T)]
    ),
    "artifacts": lambda c: gh.upsert_artifacts(
        c, REPO, [ArtifactRecord("5", "555", "logs", 10, None, False, T, T, T)]
    ),
    "run": lambda c: gh.store_run(c, REPO, [_attempt()], [_job("9", "test")]),
    "alert": lambda c: costs.mark_sent(c, "budget:80", T),
}


@pytest.mark.parametrize("write", list(WRITES))
def test_one_write_twice_at_once_both_succeed(store_url: str, write: str) -> None:
    """Two syncs of one repository: the second writer meets the first's uncommitted row."""
    with Store.open(store_url, create=True) as store:  # the repository is known
        store.add_cache_usage(REPO, CacheUsage(1, 1), taken_at=T)
    overlap = Overlap(store_url)

    def first() -> None:
        with Store.open(store_url) as store, store._writing() as connection:
            WRITES[write](connection)
            overlap.hold()

    def second() -> None:
        with Store.open(overlap.second_url) as store, store._writing() as connection:
            WRITES[write](connection)

    overlap.run(first, second)
    with Store.open(store_url) as store:
        counts = store.counts()
    assert counts["repositories"] == 1
    assert counts["workflows"] + counts["artifacts"] + counts["runs"] <= 1


# -- several reports into one run, in opposite orders, at once ------------------------

PAIR = (JUNIT / "nextest" / "fixture-project-junit.xml", MATRIX[1])


class _Meet:
    """Holds each writer, once its first report's row is written (and locked until
    its commit), until the other writer got as far or BARRIER_SECONDS passed (the
    other is waiting on a lock, as on SQLite, where writers take turns)."""

    BARRIER_SECONDS = 5

    def __init__(self) -> None:
        self.barrier = threading.Barrier(2, timeout=self.BARRIER_SECONDS)
        self.met = threading.local()

    def cases(self, cases: Iterable[TestCase]) -> Iterator[TestCase]:
        if not getattr(self.met, "done", False):
            self.met.done = True
            with contextlib.suppress(threading.BrokenBarrierError):
                self.barrier.wait()
        yield from cases


def _in_threads(*writes: Callable[[], object]) -> list[BaseException | None]:
    """Run *writes* at once; what each raised (None: nothing)."""
    raised: list[BaseException | None] = [None] * len(writes)

    def guarded(i: int) -> None:
        try:
            writes[i]()
        except BaseException as exc:
            raised[i] = exc

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(len(writes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return raised


def _pair_files(store: Store) -> list[ReportFile]:
    """The two reports, in digest order; their run and job are stored already (a
    new run's row would itself make the second writer wait for the first)."""
    store.add_reports(RUN, [ReportInput("a.xml", "d1", 1, [])], now=FIXED_NOW)
    return sorted((ReportFile.open(path) for path in PAIR), key=lambda f: f.digest)


def test_reports_stored_in_opposite_orders_deadlock_on_postgres(store_url: str) -> None:
    """The bug: each writer holds its first report's row locked while its second
    report's ON CONFLICT waits for the other's. PostgreSQL breaks the cycle by
    failing one (StoreConflict: retryable); SQLite's writers take turns."""
    meet = _Meet()
    with Store.open(store_url, create=True) as store:
        first, second = _pair_files(store)

        def write(files: list[ReportFile]) -> None:
            items = [ReportInput(str(f.path), f.digest, f.size, meet.cases(f.testcases()))
                     for f in files]  # fmt: skip
            store.add_reports(RUN, items, now=FIXED_NOW)

        raised = _in_threads(lambda: write([first, second]), lambda: write([second, first]))
        counts = store.counts()
    failed = [exc for exc in raised if exc is not None]
    if store_url.startswith("postgresql"):
        assert len(failed) == 1 and isinstance(failed[0], StoreConflict), raised
        assert "deadlock detected" in str(failed[0])
    else:
        assert failed == []
    assert counts["reports"] == 1 + 2  # the survivor stored both


@pytest.mark.parametrize("retries", [0, ingest.CONFLICT_RETRIES])
def test_ingests_of_the_same_reports_in_opposite_orders_both_succeed(
    store_url: str, retries: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fix: ingest takes reports in digest order, so both writers lock in one
    order and nothing deadlocks even with no retry (retries=0); with retries, a
    deadlock with some other writer would be run again."""
    monkeypatch.setattr(ingest, "CONFLICT_RETRIES", retries)
    meet = _Meet()
    testcases = ReportFile.testcases
    monkeypatch.setattr(ReportFile, "testcases", lambda f, stats: meet.cases(testcases(f, stats)))
    expected = [_expected_tests(path) for path in PAIR]
    with Store.open(store_url, create=True) as store:
        first, second = _pair_files(store)
        found: list[IngestCounts] = []

        def write(files: list[ReportFile]) -> None:
            found.append(ingest.ingest_reports(store, files, RUN, now=FIXED_NOW))

        raised = _in_threads(lambda: write([first, second]), lambda: write([second, first]))
        counts = store.counts()
    assert raised == [None, None]
    assert sorted(c.duplicates for c in found) == [0, sum(expected)]
    assert (counts["reports"], counts["test_results"]) == (1 + 2, sum(expected))


def test_an_ingest_chosen_to_break_a_deadlock_runs_again(pg_url: str) -> None:
    """Another writer takes the reports in the other order. The ingest starts waiting
    first and checks for a deadlock first (deadlock_timeout 3 s against 60 s), so
    PostgreSQL aborts the ingest's pass (40P01): it runs again and finds both stored."""
    names = {who: f"{who}-{uuid.uuid4().hex[:8]}" for who in ("ingest", "other")}
    checks = {"ingest": "3s", "other": "60s"}
    urls = {who: f"{pg_url}%20-cdeadlock_timeout%3D{checks[who]}&application_name={name}"
            for who, name in names.items()}  # fmt: skip
    meet = _Meet()
    testcases = ReportFile.testcases
    reads: list[ReportFile] = []

    def first_read_meets(f: ReportFile, stats: ReadStats) -> Iterator[TestCase]:
        reads.append(f)
        cases = testcases(f, stats)
        return meet.cases(cases) if len(reads) == 1 else cases

    def meet_then_wait(cases: Iterator[TestCase]) -> Iterator[TestCase]:
        yield from meet.cases([])  # both hold their first report's row now
        _wait_on_lock(pg_url, names["ingest"])  # the ingest waits first
        yield from cases

    with Store.open(urls["ingest"], create=True) as mine, Store.open(urls["other"]) as other:
        first, second = _pair_files(mine)
        found: list[IngestCounts] = []

        def ingest_both() -> None:
            found.append(ingest.ingest_reports(mine, [first, second], RUN, now=FIXED_NOW))

        def other_order() -> None:
            items = [
                ReportInput(str(second.path), second.digest, second.size,
                            meet_then_wait(testcases(second, ReadStats()))),
                ReportInput(str(first.path), first.digest, first.size,
                            testcases(first, ReadStats())),
            ]  # fmt: skip
            other.add_reports(RUN, items, now=FIXED_NOW)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(ReportFile, "testcases", first_read_meets)
            raised = _in_threads(ingest_both, other_order)
        counts = mine.counts()
    assert raised == [None, None]
    # Aborted while waiting to insert the second report's row; then one whole pass.
    assert [f.path for f in reads] == [first.path, first.path, second.path]
    expected = sum(_expected_tests(path) for path in PAIR)
    assert [c.duplicates for c in found] == [expected]  # the other writer stored both
    assert (counts["reports"], counts["test_results"]) == (1 + 2, expected)


def _wait_on_lock(url: str, name: str, *, alive: Callable[[], bool] = lambda: True) -> None:
    """Until the connection named *name* waits on a lock, or *alive* says its
    thread has ended (PostgreSQL)."""
    engine = sqlalchemy.create_engine(url)
    query = sqlalchemy.text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE application_name = :name AND wait_event_type = 'Lock'"
    )
    try:
        with engine.connect() as connection:
            for _ in range(6000):  # bounded by count, not by time
                if not alive() or connection.execute(query, {"name": name}).scalar():
                    return
                connection.rollback()
                threading.Event().wait(0.01)
    finally:
        engine.dispose()
