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

from sqlalchemy import ColumnElement, Select, and_, case, func, not_, or_, select, tuple_

from pilothouse.store.schema import jobs, reports, runs, test_results

FAILED = ("failed", "error")
# Tests named per query: 3 values each stay under SQLite's (32,766) and PostgreSQL's
# (65,535) limits on bound values.
TESTS_PER_QUERY = 2000

_executed = test_results.c.outcome != "skipped"


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _window(query: Select[Any], since: datetime | None) -> Select[Any]:
    """Results of runs created since *since* (all runs with a time when None). The reports
    of the window are named by a subquery, so both planners start from runs.created_at's
    index and reach the results through test_results.report_id's."""
    if since is None:
        return query.where(runs.c.created_at.is_not(None))
    window_reports = (
        select(reports.c.id)
        .join(runs, runs.c.id == reports.c.run_id)
        .where(runs.c.created_at >= since)
    )
    return query.where(runs.c.created_at >= since, test_results.c.report_id.in_(window_reports))


def _with_runs(*columns: ColumnElement[Any]) -> Select[Any]:
    return (
        select(*columns)
        .select_from(test_results)
        .join(reports, reports.c.id == test_results.c.report_id)
        .join(runs, runs.c.id == reports.c.run_id)
    )


def tallies_query(since: datetime | None) -> Select[Any]:
    """Per run (attempt) and suite: its results, executed, passed and failed ones, and the
    first report holding an executed result (the order of attempts with the same time)."""
    attempt_and_suite = (
        runs.c.id,
        runs.c.run_key,
        runs.c.attempt,
        runs.c.commit_sha,
        runs.c.created_at,
        test_results.c.suite,
    )
    query = _with_runs(
        *attempt_and_suite,
        func.min(case((_executed, test_results.c.report_id))),
        func.count(),
        _count(_executed),
        _count(test_results.c.outcome == "passed"),
        _count(test_results.c.outcome.in_(FAILED)),
    ).group_by(*attempt_and_suite)
    return _window(query, since)


def flags_query(since: datetime | None, outage_runs: Collection[int]) -> Select[Any]:
    """Every executed test (classname, name, file) of the window, and whether it failed or
    retried outside the runs in *outage_runs*."""
    telling = or_(test_results.c.outcome.in_(FAILED), test_results.c.retries > 0)
    if outage_runs:
        telling = and_(telling, not_(runs.c.id.in_(sorted(outage_runs))))
    query = (
        _with_runs(
            test_results.c.classname,
            test_results.c.name,
            test_results.c.file,
            func.max(case((telling, 1), else_=0)),
        )
        .where(_executed)
        .group_by(test_results.c.classname, test_results.c.name, test_results.c.file)
    )
    return _window(query, since)


def histories_query(since: datetime | None, tests: Sequence[tuple[str, str, str]]) -> Select[Any]:
    """The executed results of *tests* (classname, name, file) in the window with their run,
    attempt, job and commit, test after test, each oldest first."""
    query = (
        _with_runs(
            test_results.c.classname,
            test_results.c.name,
            test_results.c.file,
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
        )
        .outerjoin(jobs, jobs.c.id == reports.c.job_id)
        .where(
            _executed,
            tuple_(test_results.c.classname, test_results.c.name, test_results.c.file).in_(
                list(tests)
            ),
        )
        .order_by(
            test_results.c.classname,
            test_results.c.name,
            test_results.c.file,
            runs.c.created_at,
            runs.c.attempt,
            test_results.c.report_id,
            test_results.c.ordinal,
        )
    )
    return _window(query, since)


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
