"""The hot path of ingest: result rows staged past SQLAlchemy (SQLite executemany,
PostgreSQL COPY) and stored by set-based statements keep the same values and fail the
same way on both backends, and the garbage collector runs less often only while reports
are read."""

from __future__ import annotations

import gc
from datetime import UTC, datetime

import pytest
import sqlalchemy

from pilothouse.errors import InputError, StoreError
from pilothouse.ingest import ingest_reports
from pilothouse.model import Retry, RunInfo, TestCase
from pilothouse.sources.junit import ReportFile
from pilothouse.store import ReportInput, Store, staging
from pilothouse.store import reports as reports_io
from pilothouse.store.rollups import key_of_test
from pilothouse.store.schema import test_results, tests

from .conftest import FIXED_NOW, JUNIT

NEXTEST = JUNIT / "nextest" / "fixture-project-junit.xml"
RUN = RunInfo("github", "acme/widgets", "7", created_at=datetime(2026, 11, 2, 9, tzinfo=UTC))

# Values COPY's text format would garble if they were not escaped: tabs, newlines,
# backslashes, the text "\N" (COPY's NULL), non-ASCII, a long name, a missing duration.
HOSTILE = [
    TestCase("s\tuite", "pkg.C", "tab\there", "a\\b.py", 0.5, "passed"),
    TestCase("s", "pkg.C", "line\nbreak", "", None, "failed", "boom\r\n\\N"),
    TestCase("s", "pkg.C", "\\N", "", 0.0, "skipped", "\\N"),
    TestCase("s", "pkg.Ü", "ünïcödé ✓ 😀", "t.py", 1e-9, "error", "x" * 5000),
    TestCase("s", "pkg.C", "n" * 100_000, "t.py", 12345.678, "passed"),
]


def _stored(store: Store) -> list[tuple[object, ...]]:
    """Every stored result with its test's names (migration 0014), in report order."""
    r, t = test_results.c, tests.c
    columns = (r.suite, t.classname, t.name, t.file, r.duration, r.outcome, r.message, r.ordinal)
    with store.engine.connect() as connection:
        query = sqlalchemy.select(*columns).join(tests, t.id == r.test_id).order_by(r.ordinal)
        return [tuple(row) for row in connection.execute(query)]


def _batch(cases: list[TestCase]) -> list[TestCase]:
    """*cases* spread over more than one insert batch."""
    filler = [
        TestCase("s", "pkg.F", f"t{i}", "", float(i), "passed")
        for i in range(reports_io.BATCH_ROWS + 3 - len(cases))
    ]
    return [*cases, *filler]


def test_result_rows_keep_every_value_in_report_order(store: Store) -> None:
    cases = _batch(HOSTILE)
    store.add_reports(RUN, [ReportInput("r.xml", "d1", 1, cases)], now=FIXED_NOW)
    expected = [(*case[:7], ordinal) for ordinal, case in enumerate(cases)]
    assert _stored(store) == expected


def test_a_batch_holding_retries_keeps_every_row(store: Store) -> None:
    retried = TestCase(
        "s", "pkg.C", "flaky", "", 1.0, "passed", retries=(Retry("flakyFailure", "timed out", 0.5),)
    )
    cases = _batch([HOSTILE[0], retried, HOSTILE[1]])
    store.add_reports(RUN, [ReportInput("r.xml", "d2", 1, cases)], now=FIXED_NOW)
    stored = sorted(_stored(store), key=lambda row: row[-1])
    assert stored == [(*case[:7], ordinal) for ordinal, case in enumerate(cases)]


def test_a_staged_row_the_database_refuses_fails_as_a_store_error(store: Store) -> None:
    # a row without its test's key: NOT NULL refuses it, through COPY as through INSERT
    row = (None, *HOSTILE[0][:7], 0, 0)
    with pytest.raises(StoreError, match="write failed"), store._writing() as connection:
        staging.begin(connection)
        staging._write(connection, [row])
    assert _stored(store) == []


def test_results_the_database_refuses_fail_as_a_store_error(store: Store) -> None:
    # no report 999: the foreign key refuses the staged rows as they are stored
    with pytest.raises(StoreError, match="write failed"), store._writing() as connection:
        staging.begin(connection)
        staging.stage(connection, 0, HOSTILE)
        staging.store(connection, 999)
    assert _stored(store) == []
    with store.engine.connect() as connection:  # nothing of it: the tests neither
        assert connection.execute(sqlalchemy.select(tests.c.id)).all() == []


def test_staged_rows_are_the_cases_with_their_test_keys() -> None:
    rows = staging.rows(7, HOSTILE[:2])
    assert rows == [
        (key_of_test(*case[1:4]), *case[:7], ordinal, 0)
        for ordinal, case in enumerate(HOSTILE[:2], start=7)
    ]


def test_the_collector_runs_less_often_only_while_reports_are_read(store: Store) -> None:
    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []
    report = ReportFile.from_bytes("r.xml", NEXTEST.read_bytes())

    def note(_done: int) -> None:  # called inside the store's transaction
        seen.append(gc.get_threshold())

    ingest_reports(store, [report], RUN, now=FIXED_NOW, on_file=note)
    assert seen and all(t[0] >= 20_000 and t[1:] == before[1:] for t in seen)
    assert gc.get_threshold() == before


def test_the_collector_is_restored_when_a_report_is_refused(store: Store) -> None:
    before = gc.get_threshold()
    bad = ReportFile.from_bytes("bad.xml", b"<testsuites><testcase name='a'>")
    with pytest.raises(InputError):
        ingest_reports(store, [bad], RUN, now=FIXED_NOW)
    assert gc.get_threshold() == before
