"""Lean results (migration 0014): a result carries its test's id, tests are keyed by 16 bytes.

A store populated at 0013 (results carrying classname, name and file, tests keyed by
64 hex characters) upgrades to rows that carry test ids, with every reader answering
as before; ingest stores the same rows through the staging tables on both backends.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import sqlalchemy
from alembic import command

from pilothouse.model import Retry, TestCase
from pilothouse.store import ReportInput, Store
from pilothouse.store import engine as engines
from pilothouse.store.rollups import key_of_test
from pilothouse.store.schema import test_results, test_retries, tests

from .conftest import FIXED_NOW
from .test_rollups import T0, _check_window, _history, _run, _stored_rollups, assert_rollups_exact


def _hex_key(classname: str, name: str, file: str) -> str:
    """The key 0008..0013 gave a test, written out independently of the code under test."""
    text = f"{len(classname)}:{classname}{len(name)}:{name}{file}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _downgrade(url: str, revision: str) -> None:
    """Migrate down on a plain connection: on SQLite, foreign keys off (as pilothouse
    migrates), or recreating test_results would cascade into test_retries."""
    engine = sqlalchemy.create_engine(engines.parse_url(url))
    try:
        config = engines.alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, revision)
    finally:
        engine.dispose()


def _results(store: Store) -> list[tuple[Any, ...]]:
    """Every stored result with its test's names, in storage order."""
    r = test_results.c
    query = (
        sqlalchemy.select(
            r.report_id,
            r.ordinal,
            r.suite,
            tests.c.classname,
            tests.c.name,
            tests.c.file,
            r.duration,
            r.outcome,
            r.message,
            r.retries,
        )  # fmt: skip
        .join(tests, tests.c.id == r.test_id)
        .order_by(r.report_id, r.ordinal)
    )
    with store.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]


def _retried(store: Store) -> list[tuple[Any, ...]]:
    query = (
        sqlalchemy.select(
            test_results.c.report_id,
            test_results.c.ordinal,
            test_retries.c.attempt,
            test_retries.c.kind,
            test_retries.c.message,
        )  # fmt: skip
        .join(test_results, test_results.c.id == test_retries.c.result_id)
        .order_by(test_results.c.report_id, test_results.c.ordinal, test_retries.c.attempt)
    )
    with store.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]


def _with_retries(store: Store) -> None:
    """A report whose tests retried (Surefire's flakyFailure), one of them twice."""
    retry = Retry("flakyFailure", "timed out", 0.5)
    cases = [
        TestCase("s", "pkg.R", "test_flaky", "", 1.0, "passed", "", (retry,)),
        TestCase("s", "pkg.R", "test_plain", "", 1.0, "passed"),
        TestCase("s", "pkg.R", "test_twice", "", 1.0, "failed", "boom", (retry, retry)),
    ]
    run = _run("retried", T0 + timedelta(hours=3))
    store.add_reports(run, [ReportInput("r.xml", "retried", 1, cases)], now=FIXED_NOW)


def test_a_store_populated_at_0013_upgrades_to_lean_results(store: Store, store_url: str) -> None:
    _history(store, days=2)
    _with_retries(store)
    results, retried, rollups = _results(store), _retried(store), _stored_rollups(store)
    _downgrade(store_url, "0013_read_speed")
    with store.engine.connect() as connection:  # the store as 0013 kept it
        old_results = connection.exec_driver_sql(
            "SELECT report_id, ordinal, suite, classname, name, file, duration, outcome, "
            "message, retries FROM test_results ORDER BY report_id, ordinal"
        ).all()
        old_tests = connection.exec_driver_sql("SELECT key, classname, name, file FROM tests").all()
    assert [tuple(row) for row in old_results] == results
    assert sorted(key for key, *_ in old_tests) == sorted(_hex_key(*n) for _k, *n in old_tests)
    assert Store.upgrade(store_url) == "0013_read_speed"
    with Store.open(store_url) as upgraded:
        assert _results(upgraded) == results
        assert _retried(upgraded) == retried
        assert _stored_rollups(upgraded) == rollups
        with upgraded.engine.connect() as connection:
            keyed = connection.execute(
                sqlalchemy.select(tests.c.key, tests.c.classname, tests.c.name, tests.c.file)
            ).all()
        assert sorted(bytes(k) for k, *_ in keyed) == sorted(key_of_test(*n) for _k, *n in keyed)
        _check_window(upgraded, T0 + timedelta(hours=7))
        assert [r for r in upgraded.retries_of("pkg.R", "test_twice")] == [
            ("flakyFailure", "timed out")
        ] * 2
    assert_rollups_exact(store_url)


def test_a_store_without_rollups_gets_them_with_its_test_ids(store: Store, store_url: str) -> None:
    """From before 0008 (no tests, no rollups): 0014 names every test and rolls up."""
    _history(store, days=2)
    results, rollups = _results(store), _stored_rollups(store)
    _downgrade(store_url, "0007_cost_scale")
    Store.upgrade(store_url)
    with Store.open(store_url) as upgraded:
        assert _results(upgraded) == results
        assert _stored_rollups(upgraded) == rollups
    assert_rollups_exact(store_url)


def test_results_name_each_test_once(store: Store) -> None:
    """A test reported twice in a report, and again in another, is one `tests` row."""
    cases = [TestCase("s", "pkg.C", n, "f.py", 1.0, "passed") for n in ("a", "b", "a")]
    store.add_reports(_run("one", T0), [ReportInput("1.xml", "d1", 1, cases)], now=FIXED_NOW)
    store.add_reports(_run("two", T0), [ReportInput("2.xml", "d2", 1, cases)], now=FIXED_NOW)
    with store.engine.connect() as connection:
        named = connection.execute(sqlalchemy.select(tests.c.name).order_by(tests.c.name)).all()
        ids = connection.execute(
            sqlalchemy.select(test_results.c.test_id).order_by(
                test_results.c.report_id, test_results.c.ordinal
            )
        ).scalars()
        by_ordinal = list(ids)
    assert [n for (n,) in named] == ["a", "b"]
    assert by_ordinal[0] == by_ordinal[2] == by_ordinal[3] == by_ordinal[5] != by_ordinal[1]
