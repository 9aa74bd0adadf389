"""`flaky`'s read of a store: outages and pass rates from counts made in SQL, then only
the tests that failed or retried, one history at a time (see docs/architecture.md)."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any

from pilothouse.analysis import flaky as analysis
from pilothouse.model import HistoryRow, SuiteTally
from pilothouse.sources.durations import test_id
from pilothouse.store import Store


def _tally(row: SuiteTally) -> analysis.Tally:
    return analysis.Tally(
        run=row.run_key,
        attempt=row.attempt,
        commit=row.commit or f"run:{row.run_key}",  # no commit: each run is its own code
        at=row.created_at,
        suite=row.suite,
        first=row.first_report,
        executed=row.executed,
        passed=row.passed,
        failed=row.failed,
    )


def _result(row: HistoryRow, test: str) -> analysis.Result:
    assert row.created_at is not None  # the store reads runs with a time only
    return analysis.Result(
        test=test,
        suite=row.suite,
        run=row.run_key,
        attempt=row.attempt,
        job=row.job or "",
        commit=row.commit or f"run:{row.run_key}",
        at=row.created_at,
        outcome=row.outcome,
        retries=row.retries,
        message=row.message,
    )


Triple = tuple[str, str, str]


def names_in(test: str) -> set[str]:
    """The testcase names a test id can be made from: the id, and what follows each
    `::` or space in it (`test_id` ends every id with the name, after one of those).

    >>> sorted(names_in("t.py::T::x"))
    ['T::x', 't.py::T::x', 'x']
    """
    found = {test}
    for index in range(len(test)):
        if test.startswith("::", index):
            found.add(test[index + 2 :])
        elif test[index] == " ":
            found.add(test[index + 1 :])
    return found


def _candidates(
    store: Store, since: datetime | None, until: datetime | None, outage_runs: list[int]
) -> dict[str, list[Triple]]:
    """Per test id that failed or retried outside outages, sorted by id, every
    (classname, name, file) it is stored as: two can make one id, and the one that never
    failed still belongs to the test's history (one that has no result in the window adds
    nothing to it: _histories merges the parts that come)."""
    failing = store.failing_tests(since=since, until=until, outage_runs=outage_runs)
    ids = {test_id(*triple) for triple in failing}
    names = sorted({name for test in ids for name in names_in(test)})
    found: dict[str, set[Triple]] = {}
    for triple in [*failing, *store.tests_named(names)]:
        test = test_id(*triple)
        if test in ids:
            found.setdefault(test, set()).add(triple)
    return {test: sorted(found[test]) for test in sorted(found)}


def _order(row: HistoryRow) -> tuple[Any, ...]:
    return (row.created_at, row.attempt, row.report, row.ordinal)


def _histories(
    rows: Iterable[HistoryRow], candidates: dict[str, list[Triple]]
) -> Iterator[tuple[str, list[analysis.Result]]]:
    """One history per test from rows grouped by (classname, name, file): a test stored
    under several of those waits for all of them, merged in time order."""
    waiting: dict[str, list[list[HistoryRow]]] = {}
    for (classname, name, file), group in groupby(rows, key=lambda r: r[:3]):
        test = test_id(classname, name, file)
        if len(candidates[test]) == 1:
            yield test, [_result(row, test) for row in group]
            continue
        parts = waiting.setdefault(test, [])
        parts.append(list(group))
        if len(parts) == len(candidates[test]):
            del waiting[test]
            yield test, [_result(row, test) for row in heapq.merge(*parts, key=_order)]
    for test, parts in waiting.items():  # a part gone since the first read
        yield test, [_result(row, test) for row in heapq.merge(*parts, key=_order)]


@dataclass(frozen=True, slots=True)
class Read:
    detection: analysis.Detection
    totals: analysis.Totals


def detect(
    store: Store,
    since: datetime | None,
    thresholds: analysis.Thresholds,
    until: datetime | None = None,
) -> Read:
    """Outages and pass rates from counts made in SQL; then only the tests that failed or
    retried are read, one after another: memory is bounded by tests and evidence, not by
    the window's results."""
    totals = analysis.Totals()
    run_ids: dict[tuple[str, int], list[int]] = {}
    for row in store.suite_tallies(since=since, until=until):
        run_ids.setdefault((row.run_key, row.attempt), []).append(row.run_id)
        totals.add(_tally(row))
    mass = analysis.mass_failures(totals, thresholds)
    outage_runs = [key for o in mass for key in run_ids[(o.run, o.attempt)]]
    outages = analysis.with_messages(mass, store.failure_messages(outage_runs))
    candidates = _candidates(store, since, until, outage_runs)
    tests = [triple for triples in candidates.values() for triple in triples]
    histories = _histories(store.test_histories(tests, since=since, until=until), candidates)
    return Read(analysis.detect_histories(histories, outages, thresholds), totals)
