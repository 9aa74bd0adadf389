"""Per-report, per-suite counts of test results, kept in the transaction that stores them.

`flaky` and the scorecard's pass rate start from counts per run (attempt) and suite:
results, executed, passed, failed. Counting them from `test_results` at read time
walks every result of the window (issue 12: most of `flaky`'s and `score`'s time);
`report_suites` holds them per report and suite, written once when a report is
stored (a report's results never change afterwards), so a read sums a few rows per
report. A run's time is not in them: a run moved to another time (store.rollups
move_run) moves its counts too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    case,
    func,
    insert,
    select,
)

from pilothouse.store.schema import report_suites, test_results

FAILED = ("failed", "error")


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _counts() -> Select[Any]:
    """Per report and suite of test_results: results, executed, passed, failed and
    retried ones."""
    r = test_results.c
    return (
        select(
            r.report_id,
            r.suite,
            func.count(),
            _count(r.outcome != "skipped"),
            _count(r.outcome == "passed"),
            _count(r.outcome.in_(FAILED)),
            _count(and_(r.outcome != "skipped", r.retries > 0)),
        )
        .group_by(r.report_id, r.suite)
        .order_by(r.report_id, r.suite)
    )


_COLUMNS = ["report_id", "suite", "results", "executed", "passed", "failed", "retried"]


def add_reports(connection: Connection, report_ids: Sequence[int]) -> None:
    """Count the results of the new reports *report_ids* by suite."""
    if not report_ids:
        return
    wanted = _counts().where(test_results.c.report_id.in_(bindparam("ids", expanding=True)))
    connection.execute(insert(report_suites).from_select(_COLUMNS, wanted), {"ids": report_ids})


def backfill(connection: Connection) -> None:
    """Count every stored report's results (migration 0013), in one statement."""
    connection.execute(insert(report_suites).from_select(_COLUMNS, _counts()))
