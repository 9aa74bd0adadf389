"""Reads that stay the same size however much history the store holds: runs chosen
in SQL, test counts kept per report, the results index, shard history bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy
from alembic import command

from pilothouse.model import RunInfo, TestCase
from pilothouse.sources.durations import durations_from_store
from pilothouse.sources.junit import ReportFile
from pilothouse.store import ReportInput, Store
from pilothouse.store.engine import alembic_config, parse_url
from pilothouse.store.schema import repositories, runs

from .conftest import FIXED_NOW, JUNIT

REPORTS = sorted(JUNIT.rglob("*.xml"))
AT = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _ingest_corpus(store: Store) -> int:
    """Every valid report of the corpus, one run each; how many were stored."""
    stored = 0
    for number, path in enumerate(REPORTS):
        if "malformed" in path.parts:
            continue
        try:
            cases = list(ReportFile.open(path).testcases())
        except Exception:  # noqa: BLE001 - a corpus file this reader refuses is not the point here
            continue
        run = RunInfo("local", "acme/widgets", str(number), job="unit",
                      created_at=AT + timedelta(hours=number))  # fmt: skip
        store.add_reports(run, [ReportInput(str(path), f"{number:064d}", 1, cases)], now=FIXED_NOW)
        stored += 1
    return stored


def _raw_counts(url: str) -> dict[str, tuple[int, int]]:
    """Per run key: (tests, failed) recomputed from the result rows themselves."""
    engine = sqlalchemy.create_engine(parse_url(url))
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT runs.run_key, count(*), sum(CASE WHEN test_results.outcome"
                " IN ('failed', 'error') THEN 1 ELSE 0 END) FROM test_results"
                " JOIN reports ON reports.id = test_results.report_id"
                " JOIN runs ON runs.id = reports.run_id GROUP BY runs.run_key"
            ).all()
    finally:
        engine.dispose()
    return {key: (int(tests), int(failed)) for key, tests, failed in rows}


def _listed_counts(url: str) -> dict[str, tuple[int, int]]:
    with Store.open(url) as store:
        return {run.id: (run.tests, run.failed) for run in store.list_runs() if run.tests}


def test_run_counts_equal_the_result_rows(store_url: str) -> None:
    with Store.open(store_url, create=True) as store:
        assert _ingest_corpus(store) > 10
        assert store.counts()["test_results"] == sum(t for t, _ in _raw_counts(store_url).values())
    raw = _raw_counts(store_url)
    assert any(failed for _, failed in raw.values())
    assert _listed_counts(store_url) == raw


def _downgrade(url: str, revision: str) -> None:
    """Take the store back to *revision* (SQLite: with foreign keys off, as migrations run)."""
    engine = sqlalchemy.create_engine(parse_url(url))
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, revision)
    finally:
        engine.dispose()


def test_migration_counts_existing_reports_in_sql(store_url: str) -> None:
    with Store.open(store_url, create=True) as store:
        _ingest_corpus(store)
    _downgrade(store_url, "0005_cost")
    assert Store.upgrade(store_url) == "0005_cost"
    assert _listed_counts(store_url) == _raw_counts(store_url)


def _add_runs(url: str, count: int) -> None:
    engine = sqlalchemy.create_engine(parse_url(url))
    try:
        with engine.begin() as connection:
            repo = connection.execute(
                repositories.insert().values(provider="local", full_name="acme/widgets")
            ).inserted_primary_key
            assert repo is not None
            connection.execute(
                runs.insert(),
                [
                    {"repository_id": repo[0], "run_key": str(i), "attempt": 1,
                     "created_at": AT + timedelta(minutes=i)}
                    for i in range(count)
                ],
            )  # fmt: skip
    finally:
        engine.dispose()


def test_runs_beyond_the_bind_parameter_limits_are_listed(store_url: str) -> None:
    """Every run as JSON: 70,000 runs are more than PostgreSQL (65,535) and a standard
    SQLite build (32,766) take as parameters of one statement."""
    Store.open(store_url, create=True).close()
    _add_runs(store_url, 70_000)
    with Store.open(store_url) as store:
        listed = store.list_runs()
        newest = store.list_runs(limit=3)
        since = store.list_runs(since=AT + timedelta(minutes=69_998))
    assert len(listed) == 70_000
    assert [run.id for run in newest] == ["69999", "69998", "69997"]
    assert [run.id for run in since] == ["69999", "69998"]


def test_limit_keeps_every_attempt_of_the_newest_runs(store: Store) -> None:
    for attempt, hour in ((1, 0), (2, 5)):
        run = RunInfo("local", "acme/widgets", "7", attempt=attempt, job="unit",
                      created_at=AT + timedelta(hours=hour))  # fmt: skip
        cases = [TestCase("s", "c", "t", "", 0.1, "failed" if attempt == 1 else "passed")]
        store.add_reports(run, [ReportInput("r.xml", f"{attempt:064d}", 1, cases)], now=FIXED_NOW)
    older = RunInfo("local", "acme/widgets", "9", job="unit", created_at=AT + timedelta(hours=1))
    store.add_reports(older, [], now=FIXED_NOW)
    (run,) = store.list_runs(limit=1)
    assert run.id == "7"
    assert [(a.attempt, a.tests, a.failed) for a in run.attempts] == [(1, 1, 1), (2, 1, 0)]


def _result(store: Store, key: str, created: datetime, duration: float) -> None:
    run = RunInfo("local", "acme/widgets", key, job="unit", created_at=created)
    cases = [TestCase("s", "c", "t", "", duration, "passed")]
    store.add_reports(run, [ReportInput("r.xml", key.rjust(64, "0"), 1, cases)], now=FIXED_NOW)


def test_shard_history_is_the_last_30_days_before_the_newest_run(
    store_url: str, tmp_path: Path
) -> None:
    with Store.open(store_url, create=True) as store:
        for day in range(20):  # slow long ago: beyond the 30 days, ignored
            _result(store, f"old{day}", AT - timedelta(days=60 + day), 100.0)
        _result(store, "new", AT, 2.0)
    assert durations_from_store(store_url) == {"c::t": 2.0}


def _planner_rows(url: str, table: str) -> float:
    engine = sqlalchemy.create_engine(parse_url(url))
    try:
        with engine.connect() as connection:
            return float(
                connection.exec_driver_sql(
                    "SELECT reltuples FROM pg_class WHERE oid = %(t)s::regclass", {"t": table}
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_a_heavy_ingest_leaves_planner_statistics_on_postgresql(pg_url: str) -> None:
    """reltuples is -1 until a table is analyzed; autovacuum comes too late for the
    reads that follow a bulk load."""
    cases = [TestCase("s", "c", f"t{i}", "", 0.1, "passed") for i in range(500)]
    with Store.open(pg_url, create=True) as store:
        run = RunInfo("local", "acme/widgets", "1", job="unit", created_at=AT)
        store.add_reports(run, [ReportInput("r.xml", "1" * 64, 1, cases)], now=FIXED_NOW)
        assert _planner_rows(pg_url, "test_results") == 500
        small = [TestCase("s", "c", "t", "", 0.1, "passed")] * 10
        run2 = RunInfo("local", "acme/widgets", "2", job="unit", created_at=AT)
        store.add_reports(run2, [ReportInput("r.xml", "2" * 64, 1, small)], now=FIXED_NOW)
    assert _planner_rows(pg_url, "test_results") == 500  # 10 more: left to autovacuum


# What `flaky` counted per run and suite from every result before store.tallies kept
# the counts per report: the reference the kept counts must equal.
_RAW_TALLIES = (
    "SELECT reports.run_id, test_results.suite,"
    " min(CASE WHEN test_results.outcome != 'skipped' THEN test_results.report_id END),"
    " count(*),"
    " sum(CASE WHEN test_results.outcome != 'skipped' THEN 1 ELSE 0 END),"
    " sum(CASE WHEN test_results.outcome = 'passed' THEN 1 ELSE 0 END),"
    " sum(CASE WHEN test_results.outcome IN ('failed', 'error') THEN 1 ELSE 0 END)"
    " FROM test_results JOIN reports ON reports.id = test_results.report_id"
    " JOIN runs ON runs.id = reports.run_id"
    " WHERE runs.created_at IS NOT NULL GROUP BY reports.run_id, test_results.suite"
)


def _raw_tallies(url: str) -> set[tuple[object, ...]]:
    engine = sqlalchemy.create_engine(parse_url(url))
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql(_RAW_TALLIES).all()
    finally:
        engine.dispose()
    return {tuple(int(v) if isinstance(v, int) else v for v in row) for row in rows}


def _kept_tallies(url: str, since: datetime | None = None) -> set[tuple[object, ...]]:
    with Store.open(url) as store:
        return {
            (t.run_id, t.suite, t.first_report, t.results, t.executed, t.passed, t.failed)
            for t in store.suite_tallies(since=since)
        }


def _mixed_run(store: Store, key: str, created: datetime) -> None:
    """Two reports of one run: a suite in both, one all skipped, failures and errors."""
    run = RunInfo("local", "acme/widgets", key, job="unit", created_at=created)
    first = [TestCase("a", "c", "t1", "", 0.1, "skipped"), TestCase("b", "c", "t2", "", 0.2,
             "failed"), TestCase("b", "c", "t3", "", None, "passed")]  # fmt: skip
    second = [TestCase("a", "c", "t1", "", 0.1, "passed"), TestCase("c", "c", "t4", "", 0.1,
              "skipped"), TestCase("b", "c", "t5", "", 0.3, "error")]  # fmt: skip
    store.add_reports(run, [ReportInput("1.xml", f"{key}1".rjust(64, "0"), 1, first),
                            ReportInput("2.xml", f"{key}2".rjust(64, "0"), 1, second)],
                      now=FIXED_NOW)  # fmt: skip


def test_suite_tallies_kept_at_ingest_equal_the_results(store_url: str) -> None:
    with Store.open(store_url, create=True) as store:
        assert _ingest_corpus(store) > 10
        _mixed_run(store, "m1", AT - timedelta(days=3))
        _mixed_run(store, "m1", AT - timedelta(days=3))  # the same reports again: nothing
    raw = _raw_tallies(store_url)
    assert _kept_tallies(store_url) == raw
    assert any(row[2] is None for row in raw) and any(row[6] for row in raw)
    window = _kept_tallies(store_url, since=AT - timedelta(hours=1))
    assert window and window < raw


def test_migration_counts_suites_of_existing_reports(store_url: str) -> None:
    with Store.open(store_url, create=True) as store:
        _ingest_corpus(store)
        _mixed_run(store, "m1", AT)
    _downgrade(store_url, "0011_score")
    assert Store.upgrade(store_url) == "0011_score"
    assert _kept_tallies(store_url) == _raw_tallies(store_url)


def test_the_window_filters_find_results_through_report_ids_index(tmp_path: Path) -> None:
    """The flaky reader's "results of these reports" filter must reach SQLite as a plain
    `report_id IN (...)`: compiled as `(report_id IN (...)) = 1` (a Boolean element on a
    backend without booleans) the planner scans every result of the history."""
    from pilothouse.store import history

    url = f"sqlite:///{tmp_path / 'p.db'}"
    Store.open(url, create=True).close()
    engine = sqlalchemy.create_engine(url)
    since = FIXED_NOW - timedelta(days=30)
    with engine.connect() as connection:
        for query in (history.failing_query(since, []), history.results_query(since, "c", "n")):
            statement = query.compile(engine, compile_kwargs={"literal_binds": True})
            assert ") = 1" not in str(statement)
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}").all()
            details = [row[-1] for row in plan]
            assert not any(d.startswith("SCAN test_results") for d in details), details
    engine.dispose()
