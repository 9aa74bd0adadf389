"""The reads of `flaky`: counts per run and suite, the tests with a failure or a retry,
those tests' results ordered by test, and the failure messages of chosen runs.

`flaky` reads a window of any length with memory bounded by the tests and the evidence,
not by the results: what is counted is counted here, in SQL, and only the tests that
failed or retried at least once come back row by row, one test after another.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, not_, or_, select, tuple_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.sqltypes import NULLTYPE

from pilothouse.store.schema import jobs, report_suites, reports, runs, test_results, tests

_tests = tests  # histories_query's parameter shadows the table's name

FAILED = ("failed", "error")
# Tests named per query: 3 values each stay under SQLite's (32,766) and PostgreSQL's
# (65,535) limits on bound values.
TESTS_PER_QUERY = 2000

_executed = test_results.c.outcome != "skipped"


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


def _window(query: Select[Any], since: datetime | None, until: datetime | None) -> Select[Any]:
    """Results of runs created in [*since*, *until*) (all runs with a time when both are
    None). The reports of the window are named by a subquery, so both planners start from
    runs.created_at's index and reach the results through test_results.report_id's."""
    if until is not None:
        query = query.where(runs.c.created_at < until)
    if since is None:
        return query.where(runs.c.created_at.is_not(None))
    window_reports = (
        select(reports.c.id)
        .join(runs, runs.c.id == reports.c.run_id)
        .where(runs.c.created_at >= since)
    )
    if until is not None:
        window_reports = window_reports.where(runs.c.created_at < until)
    in_window = _InReports(test_results.c.report_id, window_reports)
    return query.where(runs.c.created_at >= since, in_window)


class _InReports(ColumnElement[bool]):
    """*column* IN (*reports*). PostgreSQL gets `= ANY(ARRAY(...))`: the report ids are
    computed first (an init plan) and the results found through report_id's index,
    where `IN` let its planner, misjudging a filter on names as rare, scan every result
    of the history in parallel (issue 12: 1.8 s of `flaky`'s 30-day read at 2M results)."""

    # Untyped, not Boolean: on SQLite (no native boolean) a Boolean element in WHERE
    # compiles as `(... IN (...)) = 1`, which hides report_id's index from the planner
    # and scans every result of the history (a third of `/tests` at 2M results).
    type = NULLTYPE  # type: ignore[assignment]
    inherit_cache = False  # compiled per statement: a flaky read sends a handful

    def __init__(self, column: ColumnElement[Any], reports: Select[Any]) -> None:
        self.column = column
        self.reports = reports


@compiles(_InReports)
def _in_reports(element: _InReports, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column.in_(element.reports), **kw))


@compiles(_InReports, "postgresql")
def _any_reports(element: _InReports, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    ids = compiler.process(element.reports.scalar_subquery(), **kw)
    return f"{column} = ANY(ARRAY{ids})"


def _with_runs(*columns: ColumnElement[Any], named: bool = False) -> Select[Any]:
    """*columns* of test results joined to their report and run (and, *named*, to their
    test's names)."""
    results: Any = test_results
    if named:
        results = test_results.join(tests, tests.c.id == test_results.c.test_id)
    return (
        select(*columns)
        .select_from(results)
        .join(reports, reports.c.id == test_results.c.report_id)
        .join(runs, runs.c.id == reports.c.run_id)
    )


def _runs_window(query: Select[Any], since: datetime | None, until: datetime | None) -> Select[Any]:
    """Rows of runs created in [*since*, *until*) (all runs with a time when both are None)."""
    if until is not None:
        query = query.where(runs.c.created_at < until)
    if since is None:
        return query.where(runs.c.created_at.is_not(None))
    return query.where(runs.c.created_at >= since)


def _suites_window(
    query: Select[Any], since: datetime | None, until: datetime | None
) -> Select[Any]:
    """report_suites rows of runs created in [*since*, *until*): with a window, its
    reports are named by a subquery, so the planner starts from runs.created_at's index
    (as _window does for results) instead of scanning every report's counts."""
    query = _runs_window(query, since, until)
    if since is None:
        return query
    window_reports = _runs_window(
        select(reports.c.id).join(runs, runs.c.id == reports.c.run_id), since, until
    )
    return query.where(report_suites.c.report_id.in_(window_reports))


def tallies_query(since: datetime | None, until: datetime | None = None) -> Select[Any]:
    """Per run (attempt) and suite: its results, executed, passed and failed ones, and the
    first report holding an executed result (the order of attempts with the same time),
    summed from the per-report counts kept at ingest (store.tallies): runs.created_at's
    index finds the runs, reports.run_id and report_suites.report_id the rest."""
    s = report_suites.c
    counts = _suites_window(
        select(
            reports.c.run_id,
            s.suite,
            func.min(case((s.executed > 0, s.report_id))).label("first"),
            func.sum(s.results).label("results"),
            func.sum(s.executed).label("executed"),
            func.sum(s.passed).label("passed"),
            func.sum(s.failed).label("failed"),
        )
        .select_from(report_suites)
        .join(reports, reports.c.id == s.report_id)
        .join(runs, runs.c.id == reports.c.run_id)
        .group_by(reports.c.run_id, s.suite),
        since,
        until,
    ).subquery()
    return select(
        runs.c.id,
        runs.c.run_key,
        runs.c.attempt,
        runs.c.commit_sha,
        runs.c.created_at,
        counts.c.suite,
        counts.c.first,
        counts.c.results,
        counts.c.executed,
        counts.c.passed,
        counts.c.failed,
    ).join_from(counts, runs, runs.c.id == counts.c.run_id)


def _flagged_reports(since: datetime | None, until: datetime | None) -> Select[Any]:
    """The reports of the window with a failed or retried result (store.tallies): the
    only ones failing_query reads, a few among thousands."""
    s = report_suites.c
    query = (
        select(s.report_id)
        .join(reports, reports.c.id == s.report_id)
        .join(runs, runs.c.id == reports.c.run_id)
        .where(or_(s.failed > 0, s.retried > 0))
    )
    return _suites_window(query, since, until)


def failing_query(
    since: datetime | None, outage_runs: Collection[int], until: datetime | None = None
) -> Select[Any]:
    """The tests (classname, name, file) that failed or retried in the window outside the
    runs *outage_runs*: the results of the window's reports that hold one, filtered,
    then a small DISTINCT."""
    query = (
        _with_runs(tests.c.classname, tests.c.name, tests.c.file, named=True)
        .where(_executed, or_(test_results.c.outcome.in_(FAILED), test_results.c.retries > 0))
        .where(_InReports(test_results.c.report_id, _flagged_reports(since, until)))
        .distinct()
    )
    if outage_runs:
        query = query.where(not_(runs.c.id.in_(sorted(outage_runs))))
    return _runs_window(query, since, until)


def named_query(names: Sequence[str]) -> Select[Any]:
    """The tests (classname, name, file) ever stored with one of *names* (the rollups'
    `tests`, a row per test: no walk over results); whether they ran in a window is
    for their histories to tell."""
    return select(tests.c.classname, tests.c.name, tests.c.file).where(
        tests.c.name.in_(list(names))
    )


def histories_query(
    since: datetime | None,
    tests: Sequence[tuple[str, str, str]],
    until: datetime | None = None,
) -> Select[Any]:
    """The executed results of *tests* (classname, name, file) in the window with their run,
    attempt, job and commit, test after test, each oldest first."""
    named = _tests.c
    names = tuple_(named.classname, named.name, named.file)
    wanted = select(named.id).where(names.in_(list(tests)))
    query = (
        _with_runs(
            named.classname,
            named.name,
            named.file,
            test_results.c.suite,
            runs.c.run_key,
            runs.c.attempt,
            jobs.c.name,
            runs.c.commit_sha,
            runs.c.created_at,
            test_results.c.outcome,
            test_results.c.retries,
            test_results.c.message,
            test_results.c.report_id,
            test_results.c.ordinal,
            named=True,
        )
        .outerjoin(jobs, jobs.c.id == reports.c.job_id)
        .where(_executed, test_results.c.test_id.in_(wanted))
        .order_by(
            named.classname,
            named.name,
            named.file,
            runs.c.created_at,
            runs.c.attempt,
            test_results.c.report_id,
            test_results.c.ordinal,
        )
    )
    return _window(query, since, until)


def messages_query(run_ids: Collection[int]) -> Select[Any]:
    """The failure messages of the runs (attempts) *run_ids*, attempt after attempt, each
    in report order: through reports.run_id's index and test_results.report_id's."""
    return (
        _with_runs(runs.c.run_key, runs.c.attempt, test_results.c.message)
        .where(
            runs.c.id.in_(sorted(run_ids)),
            test_results.c.outcome.in_(FAILED),
        )
        .order_by(
            runs.c.run_key,
            runs.c.attempt,
            runs.c.created_at,
            test_results.c.report_id,
            test_results.c.ordinal,
        )
    )


def results_query(since: datetime | None, classname: str, name: str) -> Select[Any]:
    """Every result of one test (any file, skipped ones too) in the window with its run,
    attempt, job, time, duration and message, oldest first."""
    query = (
        _with_runs(
            tests.c.file,
            runs.c.run_key,
            runs.c.attempt,
            jobs.c.name,
            runs.c.commit_sha,
            runs.c.created_at,
            test_results.c.outcome,
            test_results.c.duration,
            test_results.c.message,
            named=True,
        )
        .outerjoin(jobs, jobs.c.id == reports.c.job_id)
        .where(tests.c.classname == classname, tests.c.name == name)
        .order_by(
            runs.c.created_at, runs.c.attempt, test_results.c.report_id, test_results.c.ordinal
        )
    )
    return _window(query, since, None)
