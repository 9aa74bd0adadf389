"""A report's results on their way into the store: staged, then stored by a few statements.

A result row carries its test's id (`tests`, one row per classname, name and file),
not the three names. The rows of a report are first written as they are read into a
temporary table (plain tuples: SQLite's executemany, PostgreSQL's COPY), each with its
test's key (store.rollups.key_of_test, computed in Python once per testcase); then,
in the ingest's transaction, one statement names the report's new tests (in key
order, so concurrent writers cannot deadlock) and one copies the rows into
`test_results` joined to their test's id. The per-testcase work of both happens in
the database's C code. The staging tables are temporary (each connection has its
own, PostgreSQL empties them at commit), so a crash leaves nothing of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import add, attrgetter, itemgetter
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateTable

from pilothouse.model import TestCase
from pilothouse.store.rollups import key_of_test
from pilothouse.store.schema import test_results, test_retries, tests

_TEMPORARY = MetaData()

# A report's results as read, with their test's key; ordinal is the natural key.
STAGED = Table(
    "pilothouse_staged_results",
    _TEMPORARY,
    Column("key", LargeBinary, nullable=False),
    Column("suite", Text, nullable=False),
    Column("classname", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("file", Text, nullable=False),
    Column("duration", Float),
    Column("outcome", String(8), nullable=False),
    Column("message", Text, nullable=False),
    Column("ordinal", Integer, primary_key=True, autoincrement=False),
    Column("retries", Integer, nullable=False),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DELETE ROWS",
)

# The retries of the staged results (rare), by their result's ordinal.
STAGED_RETRIES = Table(
    "pilothouse_staged_retries",
    _TEMPORARY,
    Column("ordinal", Integer, primary_key=True, autoincrement=False),
    Column("attempt", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Column("duration", Float),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DELETE ROWS",
)

_COLUMNS = [column.name for column in STAGED.c]
_INSERT_SQL = (
    f"INSERT INTO {STAGED.name} ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _COLUMNS)})"
)  # SQLite's executemany
_COPY_SQL = f"COPY {STAGED.name} ({', '.join(_COLUMNS)}) FROM STDIN"  # PostgreSQL

_CASE_HEAD = itemgetter(slice(0, 7))  # TestCase suite .. message: the row's middle
_CLASSNAME = attrgetter("classname")
_NAME = attrgetter("name")
_FILE = attrgetter("file")
_RETRIES = attrgetter("retries")


def _postgres(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def begin(connection: Connection) -> None:
    """Make the staging tables (once per connection) and empty them."""
    for table in (STAGED, STAGED_RETRIES):
        created = CreateTable(table, if_not_exists=True).compile(dialect=connection.dialect)
        connection.exec_driver_sql(str(created))
    clear(connection)


def clear(connection: Connection) -> None:
    """Empty the staging tables (SQLite keeps their rows as long as the connection)."""
    if _postgres(connection):  # no dead rows left behind: no autovacuum of temp tables
        connection.exec_driver_sql(f"TRUNCATE {STAGED.name}, {STAGED_RETRIES.name}")
        return
    connection.execute(delete(STAGED))
    connection.execute(delete(STAGED_RETRIES))


def rows(first: int, chunk: Sequence[TestCase]) -> list[tuple[Any, ...]]:
    """The staged rows of *chunk*, numbered from *first*: the key is computed per
    testcase; the rest of each row is built by C code (a slice, two concatenations)."""
    keys = map(key_of_test, map(_CLASSNAME, chunk), map(_NAME, chunk), map(_FILE, chunk))
    heads = map(add, zip(keys), map(_CASE_HEAD, chunk))
    tails = zip(range(first, first + len(chunk)), map(len, map(_RETRIES, chunk)), strict=True)
    return list(map(add, heads, tails))


def stage(connection: Connection, first: int, chunk: Sequence[TestCase]) -> None:
    """Stage *chunk* (testcases numbered from *first*) and the retries it holds."""
    _write(connection, rows(first, chunk))
    if not any(map(_RETRIES, chunk)):  # nearly every chunk
        return
    retried = [
        {"ordinal": ordinal, "attempt": attempt, "kind": retry.kind,
         "message": retry.message, "duration": retry.duration}
        for ordinal, case in zip(range(first, first + len(chunk)), chunk, strict=True)
        if case.retries
        for attempt, retry in enumerate(case.retries, start=1)
    ]  # fmt: skip
    connection.execute(insert(STAGED_RETRIES), retried)


def _write(connection: Connection, staged: list[tuple[Any, ...]]) -> None:
    """Insert staged rows: the hot path of ingest. SQLAlchemy's per-row parameter
    processing costs more than the insert itself, and these columns need none, so
    the driver gets the tuples: executemany (SQLite), COPY (PostgreSQL, six times
    faster than a statement per row)."""
    if not _postgres(connection):
        connection.exec_driver_sql(_INSERT_SQL, staged)
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    try:
        with driver.cursor() as cursor, cursor.copy(_COPY_SQL) as copy:
            for row in staged:
                copy.write_row(row)
    except connection.dialect.loaded_dbapi.Error as exc:  # as SQLAlchemy would raise it
        raise DBAPIError.instance(
            _COPY_SQL, None, exc, connection.dialect.loaded_dbapi.Error
        ) from exc


def store(connection: Connection, report_id: int) -> None:
    """Store the staged results as report *report_id*'s: name their new tests, copy
    the rows with their test's id, then the retries with their result's id."""
    values = {"report_id": report_id}
    connection.execute(_statement(connection, _new_tests))
    connection.execute(_statement(connection, _results), values)
    if connection.execute(select(STAGED_RETRIES.c.ordinal).limit(1)).first() is not None:
        connection.execute(_statement(connection, _retries), values)
    clear(connection)


# Built once per dialect: building a statement costs more than storing a small report.
_BUILT: dict[tuple[str, str], Any] = {}


def _statement(connection: Connection, build: Callable[[Connection], Any]) -> Any:
    key = (connection.dialect.name, build.__name__)
    found = _BUILT.get(key)
    if found is None:
        found = _BUILT[key] = build(connection)
    return found


def _new_tests(connection: Connection) -> Any:
    """Name the staged tests `tests` lacks, in key order (no deadlock between writers);
    a test staged twice, or named by a concurrent writer first, is skipped."""
    s = STAGED.c
    known = select(tests.c.id).where(tests.c.key == s.key)
    new = select(s.key, s.classname, s.name, s.file).where(~known.exists()).order_by(s.key)
    dialect = postgresql if _postgres(connection) else sqlite
    return (
        dialect.insert(tests)
        .from_select(["key", "classname", "name", "file"], new)
        .on_conflict_do_nothing(index_elements=["key"])
    )


def _results(_connection: Connection) -> Any:
    s = STAGED.c
    rows = (
        select(
            bindparam("report_id", type_=Integer),
            s.ordinal,
            s.suite,
            s.duration,
            s.outcome,
            s.message,
            s.retries,
            tests.c.id,
        )  # fmt: skip
        .select_from(STAGED.join(tests, tests.c.key == s.key))
        .order_by(tests.c.id, s.ordinal)  # appended to (report_id, test_id)'s index
    )
    columns = ["report_id", "ordinal", "suite", "duration", "outcome", "message", "retries",
               "test_id"]  # fmt: skip
    return insert(test_results).from_select(columns, rows)


def _retries(_connection: Connection) -> Any:
    """The staged retries with their result's id: one pass over the report's results
    (only a report with retries gets it)."""
    r, sr = test_results.c, STAGED_RETRIES.c
    rows = (
        select(r.id, sr.attempt, sr.kind, sr.message, sr.duration)
        .select_from(test_results.join(STAGED_RETRIES, sr.ordinal == r.ordinal))
        .where(r.report_id == bindparam("report_id", type_=Integer))
        .order_by(r.id, sr.attempt)
    )
    columns = ["result_id", "attempt", "kind", "message", "duration"]
    return insert(test_retries).from_select(columns, rows)
