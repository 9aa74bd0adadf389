"""Who may create and migrate a store: writing commands and `db upgrade` only.

Readers on a missing, empty or older store exit 1 with one line naming the store
and the command that creates or upgrades it, and leave no trace behind.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy
from alembic import command

from pilothouse.errors import StoreError, StoreMissing
from pilothouse.model import JobRecord, RunAttempt, RunInfo, StepRecord, TestCase
from pilothouse.store import Store
from pilothouse.store.engine import (
    SCHEMA_REVISION,
    alembic_config,
    create_store_engine,
    parse_url,
)
from pilothouse.store.schema import reports, repositories, runs

from .conftest import FIXED_NOW, JUNIT, Cli

REPORT = JUNIT / "nextest" / "setup-script-junit.xml"
AT = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
RUN = RunInfo("local", "local", "1", branch="feature/x", job="unit", created_at=AT)
CASES = [TestCase("s", "c", "a", "", 0.1, "passed"), TestCase("s", "c", "b", "", 0.2, "failed")]
ATTEMPT = RunAttempt("555", 1, "ci", "77", 12, "push", "main", "c" * 40, "completed",
                     "success", AT + timedelta(hours=1), AT, AT)  # fmt: skip
JOB = JobRecord("9001", "555", 1, "build", "completed", "success", AT, AT, AT,
                steps=(StepRecord(1, "Run make", "completed", "success", AT, AT),))  # fmt: skip

READERS = [
    ("report",),
    ("runs",),
    ("tests",),
    ("flaky",),
    ("flaky", "quarantine"),
    ("shard", "--shards", "2"),
    ("cost",),
    ("cost", "alerts"),
    ("cost", "whatif", "--batch", "0.5"),
]


def _tables(url: str) -> list[str]:
    engine = sqlalchemy.create_engine(parse_url(url))
    try:
        with engine.connect() as connection:
            return sorted(sqlalchemy.inspect(connection).get_table_names())
    finally:
        engine.dispose()


def _revision(url: str) -> str | None:
    engine = sqlalchemy.create_engine(parse_url(url))
    try:
        with engine.connect() as connection:
            return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    finally:
        engine.dispose()


def _migrate_to(url: str, revision: str) -> None:
    engine = sqlalchemy.create_engine(parse_url(url))
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def _assert_missing_store_error(code: int, out: str, err: str, shown_url: str) -> None:
    assert code == 1, err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    if "no timing history yet" in lines[0]:
        # `shard` reads no store as no history (a suite's first CI run): it asks
        # for the tests to split by count, and creates nothing either.
        assert "pilothouse shard --tests -" in lines[0]
        return
    assert shown_url in lines[0]
    assert "no pilothouse store" in lines[0]
    assert "pilothouse ingest" in lines[0] and "pilothouse sample" in lines[0]


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_reader_on_missing_sqlite_store_creates_nothing(tmp_path: Path, args: tuple[str]) -> None:
    url = f"sqlite:///{tmp_path / 'nonexistent' / 'dir' / 'x.db'}"
    cli = Cli(cwd=tmp_path, db=url)
    code, out, err = cli(*args)
    _assert_missing_store_error(code, out, err, url)
    assert not (tmp_path / "nonexistent").exists()


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_reader_on_empty_postgres_database_creates_no_table(
    tmp_path: Path, pg_url: str, args: tuple[str]
) -> None:
    with_password = pg_url.replace("postgres@", "postgres:s3cret@")
    code, out, err = Cli(cwd=tmp_path, db=with_password)(*args)
    _assert_missing_store_error(code, out, err, "postgres:***@127.0.0.1")
    assert "s3cret" not in err
    assert _tables(pg_url) == []


def test_reader_on_empty_sqlite_file_leaves_it_empty(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    path.touch()
    code, out, err = Cli(cwd=tmp_path, db=f"sqlite:///{path}")("runs")
    _assert_missing_store_error(code, out, err, str(path))
    assert path.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.db"]


def test_default_store_is_not_created_by_a_reader(tmp_path: Path) -> None:
    cli = Cli(cwd=tmp_path, db="sqlite:///.pilothouse/pilothouse.db")
    code, out, err = cli("report")
    _assert_missing_store_error(code, out, err, ".pilothouse/pilothouse.db")
    assert list(tmp_path.iterdir()) == []


def test_writer_creates_the_store_then_readers_read_it(cli: Cli) -> None:
    code, _out, err = cli("ingest", "junit", str(REPORT))
    assert code == 0, err
    assert cli.json("runs")["runs"]


def test_library_open_is_read_only_unless_asked(store_url: str) -> None:
    with pytest.raises(StoreMissing, match="no pilothouse store"):
        Store.open(store_url)
    with Store.open(store_url, create=True) as store:
        assert store.counts()["runs"] == 0
    with Store.open(store_url) as store:
        assert store.counts()["runs"] == 0


def test_reader_does_not_migrate_an_older_store(cli: Cli) -> None:
    _migrate_to(cli.db, "0002")
    code, out, err = cli("runs")
    assert (code, out) == (1, "")
    assert len(err.splitlines()) == 1
    assert "schema revision 0002" in err and SCHEMA_REVISION in err
    assert "pilothouse db upgrade" in err and "pilothouse ingest" in err
    assert _revision(cli.db) == "0002"


def test_writer_upgrades_an_older_store(cli: Cli) -> None:
    _migrate_to(cli.db, "0002")
    code, _out, err = cli("ingest", "junit", str(REPORT))
    assert code == 0, err
    assert _revision(cli.db) == SCHEMA_REVISION


def test_db_upgrade_creates_or_upgrades_and_says_from_what(cli: Cli) -> None:
    code, out, err = cli("db", "upgrade")
    assert code == 0, err
    assert f"created at revision {SCHEMA_REVISION}" in out
    code, out, err = cli("db", "upgrade")
    assert code == 0, err
    assert f"already at revision {SCHEMA_REVISION}" in out


def test_db_upgrade_from_an_older_revision(cli: Cli) -> None:
    _migrate_to(cli.db, "0002")
    code, out, err = cli("db", "upgrade")
    assert code == 0, err
    assert f"upgraded from revision 0002 to {SCHEMA_REVISION}" in out
    assert _revision(cli.db) == SCHEMA_REVISION


def test_db_status_reports_without_changing_anything(cli: Cli) -> None:
    status = cli.json("db", "status")
    assert status["revision"] is None and status["state"] == "missing"
    assert status["expected"] == SCHEMA_REVISION
    _migrate_to(cli.db, "0002")
    status = cli.json("db", "status")
    assert (status["revision"], status["state"]) == ("0002", "outdated")
    assert _revision(cli.db) == "0002"
    code, out, _err = cli("db", "status")
    assert code == 0 and "pilothouse db upgrade" in out


@pytest.mark.parametrize("args", [("runs",), ("ingest", "junit", str(REPORT)), ("db", "upgrade")])
def test_a_store_newer_than_the_code_is_refused(cli: Cli, args: tuple[str, ...]) -> None:
    with Store.open(cli.db, create=True) as store, store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_future'")
    code, out, err = cli(*args)
    assert (code, out) == (1, "")
    assert "schema revision 9999_future" in err and "newer pilothouse" in err
    assert _revision(cli.db) == "9999_future"


def test_missing_store_error_is_a_store_error() -> None:
    assert issubclass(StoreMissing, StoreError)


def test_upgrading_a_store_with_history_keeps_every_row(cli: Cli) -> None:
    """0003 -> head recreates tables on SQLite: no cascade may empty their children."""
    _migrate_to(cli.db, "0003")
    old = Store(create_store_engine(parse_url(cli.db), create=True))
    with old:
        _add_report_0003(old)
        old.store_github_run("acme/widgets", [ATTEMPT], [JOB])
    assert Store.upgrade(cli.db) == "0003"
    with Store.open(cli.db) as store:
        counts = store.counts()
        assert counts["runs"] == 2 and counts["steps"] == 1 and counts["test_results"] == 2
        assert counts["reports"] == 1 and counts["jobs"] == 1
        assert [run.branch for run in store.list_runs()] == ["main", "feature/x"]
        # 0014 named the tests and rolled the results up: the readers see them
        assert sorted(s.name for s in store.test_stats()) == sorted(c.name for c in CASES)


# test_results as schema 0003 has it (its names moved to `tests` in 0014).
_RESULTS_0003 = sqlalchemy.table(
    "test_results",
    *(sqlalchemy.column(name) for name in ("report_id", "ordinal", "suite", "classname", "name",
                                            "file", "duration", "outcome", "message", "retries")),
)  # fmt: skip


def _add_report_0003(store: Store) -> None:
    """A run with a report of CASES, written with the columns schema 0003 has."""
    with store.engine.begin() as connection:
        repo = connection.execute(
            repositories.insert().values(provider="local", full_name="local")
        ).inserted_primary_key
        run = connection.execute(
            runs.insert().values(repository_id=repo[0], run_key="1", attempt=1,
                                 branch="feature/x", created_at=AT)
        ).inserted_primary_key  # fmt: skip
        report = connection.execute(
            reports.insert().values(run_id=run[0], digest="d" * 64, path="r.xml", size=1,
                                    tests=len(CASES), ingested_at=FIXED_NOW)
        ).inserted_primary_key  # fmt: skip
        connection.execute(
            _RESULTS_0003.insert(),
            [{"report_id": report[0], "ordinal": i, "suite": c.suite, "classname": c.classname,
              "name": c.name, "file": c.file, "duration": c.duration, "outcome": c.outcome,
              "message": "", "retries": 0} for i, c in enumerate(CASES)],
        )  # fmt: skip
