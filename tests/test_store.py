"""The store on SQLite and PostgreSQL: migrations, idempotent writes, atomicity, UTC."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from pilothouse.errors import InputError, StoreError
from pilothouse.model import Retry, RunInfo, TestCase
from pilothouse.store import ReportInput, Store
from pilothouse.store.engine import SCHEMA_REVISION, alembic_config, head_revision, parse_url
from pilothouse.store.schema import metadata

from .conftest import FIXED_NOW, pg_schema

RUN = RunInfo(
    provider="github",
    repository="acme/widgets",
    run_key="1001",
    attempt=1,
    workflow="tests-all",
    branch="main",
    commit="abc123",
    job="test (1/2)",
    created_at=datetime(2026, 11, 1, 9, 0, tzinfo=UTC),
)


def _cases(*outcomes: str) -> list[TestCase]:
    return [
        TestCase("suite", "pkg.Class", f"test_{i}", "tests/test_x.py", 0.5 + i, outcome)  # type: ignore[arg-type]
        for i, outcome in enumerate(outcomes)
    ]


def _report(digest: str, cases: list[TestCase] | Iterator[TestCase]) -> ReportInput:
    return ReportInput(path=f"{digest}.xml", digest=digest, size=10, cases=cases)


def test_migrations_create_exactly_the_declared_schema(store: Store) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert context.get_current_revision() == head_revision() == SCHEMA_REVISION
        assert compare_metadata(context, metadata) == []


def _schema(url: str) -> dict[str, object]:
    """Everything the inspector reads of a store's tables, and its revision."""
    engine = sqlalchemy.create_engine(parse_url(url))
    try:
        with engine.connect() as connection:
            found = sqlalchemy.inspect(connection)
            described: dict[str, object] = {
                table: (
                    [
                        (c["name"], str(c["type"]), c["nullable"], c["default"])
                        for c in found.get_columns(table)
                    ],
                    found.get_pk_constraint(table),
                    sorted(map(repr, found.get_unique_constraints(table))),
                    sorted(map(repr, found.get_indexes(table))),
                    sorted(map(repr, found.get_foreign_keys(table))),
                )
                for table in found.get_table_names()
            }
            version = "SELECT version_num FROM alembic_version"
            described["revision"] = connection.exec_driver_sql(version).all()
        return described
    finally:
        engine.dispose()


@pytest.fixture
def second_url(store_url: str, tmp_path: Path) -> Iterator[str]:
    """Another empty store on the same backend as store_url."""
    if store_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'second.db'}"
        return
    with pg_schema() as url:
        yield url


def test_a_created_store_is_the_store_the_migrations_make(store_url: str, second_url: str) -> None:
    """A new store is made from the metadata and stamped; an old one is upgraded by
    its migrations: both must end with the same tables, columns, keys and revision."""
    engine = sqlalchemy.create_engine(parse_url(second_url))
    with engine.begin() as connection:  # the first migration, then the upgrade path
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    engine.dispose()
    assert Store.upgrade(second_url) == "0001"
    assert Store.upgrade(store_url) is None  # created
    with Store.open(second_url) as migrated, migrated.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    created = _schema(store_url)
    assert created["revision"] == [(SCHEMA_REVISION,)]
    assert set(created) >= {"alembic_version", "test_results", "cost_lines"}
    assert created == _schema(second_url)


def test_a_new_store_is_not_made_over_tables_already_there(store_url: str) -> None:
    """Stamping is no way to adopt tables it did not create: a database holding a
    table of the same name (and no revision) is refused, and left as it was."""
    engine = sqlalchemy.create_engine(parse_url(store_url))
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE runs (id INTEGER PRIMARY KEY)")
    engine.dispose()
    with pytest.raises(StoreError, match="cannot open store"):
        Store.upgrade(store_url)
    assert Store.revision(store_url) is None


def test_opening_twice_migrates_once(store_url: str) -> None:
    with Store.open(store_url, create=True) as first:
        first.add_reports(RUN, [_report("d1", _cases("passed"))], now=FIXED_NOW)
    with Store.open(store_url) as second:
        assert second.counts()["test_results"] == 1


def test_same_report_for_same_run_twice_adds_nothing(store: Store) -> None:
    (first,) = store.add_reports(RUN, [_report("d1", _cases("passed", "failed"))], now=FIXED_NOW)
    assert first.new and first.tests == 2
    before = store.counts()
    (again,) = store.add_reports(RUN, [_report("d1", _cases("passed", "failed"))], now=FIXED_NOW)
    assert not again.new and again.outcomes == first.outcomes
    assert store.counts() == before
    assert before["runs"] == 1 and before["jobs"] == 1 and before["test_results"] == 2


def test_same_report_for_another_attempt_is_stored_again(store: Store) -> None:
    store.add_reports(RUN, [_report("d1", _cases("failed"))], now=FIXED_NOW)
    retry = replace(RUN, attempt=2)
    (stored,) = store.add_reports(retry, [_report("d1", _cases("failed"))], now=FIXED_NOW)
    assert stored.new and stored.outcomes["failed"] == 1 and stored.tests == 1
    assert store.counts()["runs"] == 2


def _exploding(after: int) -> Iterator[TestCase]:
    yield from _cases(*["passed"] * after)
    raise InputError("bad.xml:3: malformed XML: boom")


def test_a_bad_report_rolls_back_the_whole_call(store: Store) -> None:
    good = _report("good", _cases("passed", "passed"))
    with pytest.raises(InputError, match="bad.xml:3"):
        store.add_reports(RUN, [good, _report("bad", _exploding(7000))], now=FIXED_NOW)
    assert set(store.counts().values()) == {0}


def test_large_report_streams_in_batches(store: Store) -> None:
    cases = (TestCase("s", "c", f"t{i}", "", 0.01, "passed") for i in range(12_345))
    store.add_reports(RUN, [_report("big", cases)], now=FIXED_NOW)
    assert store.counts()["test_results"] == 12_345


def test_retries_are_stored_in_order(store: Store) -> None:
    case = TestCase(
        "s",
        "pkg.C",
        "flaky",
        "",
        1.0,
        "passed",
        "",
        (Retry("flakyFailure", "first", 0.5), Retry("flakyFailure", "second", None)),
    )
    store.add_reports(RUN, [_report("d", [case])], now=FIXED_NOW)
    assert store.retries_of("pkg.C", "flaky") == [
        ("flakyFailure", "first"),
        ("flakyFailure", "second"),
    ]
    assert store.counts()["test_retries"] == 2


def test_runs_newest_first_with_jobs_and_failure(store: Store) -> None:
    older = replace(RUN, run_key="1000", created_at=RUN.created_at - timedelta(days=1), job=None)
    store.add_reports(older, [_report("a", _cases("passed"))], now=FIXED_NOW)
    store.add_reports(RUN, [_report("b", _cases("passed", "error"))], now=FIXED_NOW)
    newest, oldest = store.list_runs()
    assert (newest.id, newest.conclusion, newest.tests, newest.failed) == ("1001", "failure", 2, 1)
    assert [(j.name, j.conclusion) for j in newest.jobs] == [("test (1/2)", "failure")]
    assert (oldest.id, oldest.conclusion, oldest.jobs) == ("1000", "success", ())


def test_timestamps_come_back_utc_aware(store: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    run = replace(RUN, created_at=datetime(2026, 11, 1, 11, 0, tzinfo=plus_two))
    store.add_reports(run, [_report("a", _cases("passed"))], now=FIXED_NOW)
    (stored,) = store.list_runs()
    assert stored.created_at == datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    assert stored.created_at is not None and stored.created_at.tzinfo == UTC
    (obs,) = store.test_observations()
    assert obs.created_at == stored.created_at


def test_naive_timestamps_are_refused(store: Store) -> None:
    run = replace(RUN, created_at=datetime(2026, 11, 1, 9, 0))  # noqa: DTZ001 - on purpose
    with pytest.raises(StoreError, match="naive datetime"):
        store.add_reports(run, [], now=FIXED_NOW)


def test_existing_run_gets_missing_fields_filled(store: Store) -> None:
    bare = replace(RUN, commit=None, branch=None, job=None)
    store.add_reports(bare, [_report("a", _cases("passed"))], now=FIXED_NOW)
    store.add_reports(RUN, [_report("b", _cases("passed"))], now=FIXED_NOW)
    (run,) = store.list_runs()
    assert (run.commit, run.branch, run.tests) == ("abc123", "main", 2)


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("nonsense", "not a database URL"),
        ("mysql://x/y", "unsupported backend 'mysql'"),
        ("postgresql://nobody:s3cret@127.0.0.1:1/none", r"127.0.0.1:1/none: cannot open store"),
    ],
)
def test_bad_store_urls(url: str, match: str) -> None:
    with pytest.raises(StoreError, match=match) as caught:
        Store.open(url, create=True)
    assert "s3cret" not in str(caught.value)


def test_postgres_scheme_defaults_to_psycopg3() -> None:
    assert parse_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert parse_url("postgres://u@h/db").drivername == "postgresql+psycopg"


def test_sqlite_store_uses_wal(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'sub' / 'dir' / 'x.db'}", create=True) as store:
        with store.engine.connect() as connection:
            mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
    assert mode == "wal"


_WRITER = """
import sys
from datetime import UTC, datetime
from pilothouse.model import RunInfo, TestCase
from pilothouse.store import ReportInput, Store

url, job = sys.argv[1], sys.argv[2]
run = RunInfo("github", "acme/w", "77", 1, job=job)
cases = (TestCase("s", "c", f"{job}-{i}", "", 0.1, "passed") for i in range(20000))
with Store.open(url, create=True) as store:
    for part in range(3):
        items = [ReportInput(f"{job}{part}.xml", f"{job}-{part}", 1,
                 cases if part == 0 else iter(()))]
        store.add_reports(run, items, now=datetime.now(UTC))
"""


def test_concurrent_ingest_into_one_sqlite_file(tmp_path: Path) -> None:
    """Two CI jobs on one runner, both writing (and migrating) a new store at once."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, url, job],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for job in ("a", "b", "c")
    ]
    for proc in procs:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    with Store.open(url) as store:
        counts = store.counts()
    assert counts["test_results"] == 60_000
    assert counts["runs"] == 1 and counts["jobs"] == 3 and counts["reports"] == 9


def test_postgres_schema_isolation_fixture_is_real(pg_url: str) -> None:
    with Store.open(pg_url, create=True) as store:
        assert store.engine.dialect.name == "postgresql"
        with store.engine.connect() as connection:
            schema = connection.execute(sqlalchemy.text("SELECT current_schema()")).scalar()
    assert str(schema).startswith("t_")
