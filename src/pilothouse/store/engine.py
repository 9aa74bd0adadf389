"""Opening a store: engine settings per backend; writers create and migrate, readers never."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    event,
    insert,
    inspect,
    text,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from pilothouse.errors import StoreError, StoreMissing
from pilothouse.store import rollups
from pilothouse.store.schema import metadata

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

# The newest migration under pilothouse/migrations/versions. Checked against
# Alembic's own view in the tests; knowing it here lets a store that is up to
# date open without importing Alembic at all (a tenth of a second per command).
SCHEMA_REVISION = "0014_lean_results"
WRITE_FLAG = "pilothouse_write"
SQLITE_BUSY_TIMEOUT_MS = 120_000
# Any fixed 64-bit number; serialises concurrent first-use migrations on PostgreSQL.
_PG_MIGRATION_LOCK = 0x7069_6C6F_7468
# Alembic's own version table, as `alembic stamp` creates it: a new store is made
# from the schema's metadata and stamped here, without importing Alembic.
# (tests/test_store.py checks a created store equals a migrated one.)
_ALEMBIC_VERSION = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def describe(url: URL) -> str:
    """The URL as safe to print: never the password."""
    return url.render_as_string(hide_password=True)


def parse_url(raw: str) -> URL:
    """Parse a database URL, defaulting PostgreSQL to the psycopg 3 driver."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise StoreError(f"--db {raw!r}: not a database URL (e.g. sqlite:///x.db)") from None
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(
            f"--db {describe(url)}: unsupported backend {url.get_backend_name()!r} "
            "(use sqlite:///PATH or postgresql+psycopg://...)"
        )
    return url


def _sqlite_engine(url: URL, *, create: bool) -> Engine:
    if create and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN, so writers can take the
        # lock up front (BEGIN IMMEDIATE) and wait politely for each other.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if create:  # WAL is a property of the file: the writer that creates it sets it
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()
        rollups.sqlite_functions(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.info.get(WRITE_FLAG, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def create_store_engine(url: URL, *, create: bool) -> Engine:
    """An engine for *url*; only with *create* may it make directories or set WAL."""
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, create=create)
    return create_engine(url, pool_pre_ping=True)


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    location = resources.files("pilothouse") / "migrations"
    config.set_main_option("script_location", str(location))
    return config


def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str | None:
    """The newest migration, as Alembic reads it from the scripts."""
    return _scripts().get_current_head()


def _known_revision(revision: str) -> bool:
    return any(script.revision == revision for script in _scripts().walk_revisions())


def current_revision(connection: Connection) -> str | None:
    """The store's schema revision, None for a new store."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _sqlite_file_is_empty(url: URL) -> bool:
    """No store file yet (or a 0-byte one): reading must not create it."""
    if url.get_backend_name() != "sqlite":
        return False
    if not url.database or url.database == ":memory:":
        return True
    path = Path(url.database)
    return not path.is_file() or path.stat().st_size == 0


def missing(url: URL) -> StoreMissing:
    return StoreMissing(
        f"{describe(url)}: no pilothouse store here; create one with "
        "`pilothouse ingest junit|github|cost|cargo|logs ...` or `pilothouse sample`"
    )


def _unusable(url: URL, revision: str) -> StoreError:
    """The error for a store at *revision*, which is not this code's schema."""
    if _known_revision(revision):
        return StoreError(
            f"{describe(url)}: store schema revision {revision} is older than this "
            f"pilothouse's {SCHEMA_REVISION}; upgrade it with `pilothouse db upgrade` "
            "(writing commands such as `pilothouse ingest ...` also do)"
        )
    return StoreError(
        f"{describe(url)}: store schema revision {revision} is unknown to this pilothouse "
        f"(its newest is {SCHEMA_REVISION}): the store was written by a newer pilothouse; "
        "upgrade pilothouse to use it"
    )


def _revision_of(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            return current_revision(connection)
    except SQLAlchemyError as exc:
        raise StoreError(f"{describe(engine.url)}: cannot open store: {reason(exc)}") from exc


def stored_revision(url: URL) -> str | None:
    """The schema revision of the store at *url*, None when there is none; creates nothing."""
    if _sqlite_file_is_empty(url):
        return None
    engine = create_store_engine(url, create=False)
    try:
        return _revision_of(engine)
    finally:
        engine.dispose()


def open_engine(url: URL, *, create: bool) -> Engine:
    """An engine on a store at this code's schema revision.

    With *create* (writing commands) the store is created or upgraded first;
    without, a missing, empty, older or newer store is an error and nothing
    is created or changed.
    """
    if not create and _sqlite_file_is_empty(url):
        raise missing(url)
    engine = create_store_engine(url, create=create)
    try:
        if create:
            migrate(engine)
        else:
            _require_current(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _require_current(engine: Engine) -> None:
    revision = _revision_of(engine)
    if revision is None:
        raise missing(engine.url)
    if revision != SCHEMA_REVISION:
        raise _unusable(engine.url, revision)


def migrate(engine: Engine) -> str | None:
    """Bring the schema to the latest revision; return the revision it was at.

    A no-op when it is there already; a new store is created from the schema's
    metadata (_create), an older one upgraded by its migrations. Concurrent first
    uses are serialised by the SQLite write lock or a PostgreSQL advisory lock.
    """
    head = SCHEMA_REVISION
    try:
        with engine.connect() as connection:
            before = current_revision(connection)
            if before == head:
                return before
            connection.rollback()
            connection.info[WRITE_FLAG] = True
            sqlite = engine.dialect.name == "sqlite"
            if sqlite:  # SQLite recreates altered tables: no cascades while it does
                _sqlite_foreign_keys(connection, on=False)
            try:
                with connection.begin():
                    if not sqlite:
                        connection.exec_driver_sql(
                            f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"
                        )
                    before = current_revision(connection)
                    if before is None:
                        _create(connection)
                    elif before != head:
                        _upgrade(connection, engine.url, before)
            finally:
                connection.info.pop(WRITE_FLAG, None)
                if sqlite:
                    _sqlite_foreign_keys(connection, on=True)
            return before
    except SQLAlchemyError as exc:
        raise StoreError(f"{describe(engine.url)}: cannot open store: {reason(exc)}") from exc


def _create(connection: Connection) -> None:
    """A new store: the tables the migrations would end at, in one transaction,
    stamped with SCHEMA_REVISION (replaying every migration took a tenth of a
    second per new store). A table already there is an error, as a migration's
    CREATE TABLE would be: the store is never stamped over tables it did not make."""
    metadata.create_all(connection, checkfirst=False)
    _ALEMBIC_VERSION.create(connection)
    connection.execute(insert(_ALEMBIC_VERSION).values(version_num=SCHEMA_REVISION))


def _upgrade(connection: Connection, url: URL, before: str) -> None:
    if not _known_revision(before):
        raise _unusable(url, before)
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    if connection.dialect.name == "sqlite":
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
        if broken is not None:
            raise StoreError(f"{describe(url)}: migration broke a foreign key: {tuple(broken)}")


def _sqlite_foreign_keys(connection: Connection, *, on: bool) -> None:
    """Outside any transaction (SQLite ignores the pragma inside one)."""
    raw = connection.connection.driver_connection
    assert raw is not None
    raw.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")


def reason(exc: SQLAlchemyError) -> str:
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def analyze_if_grown(engine: Engine, added: dict[str, int]) -> list[str]:
    """ANALYZE the PostgreSQL tables that *added* rows grew by more than autovacuum's
    own rule (50 rows + 10 % of what the planner knows); the tables analyzed.

    A bulk ingest or sync lands far faster than autovacuum notices: without
    statistics the planner guesses, and a read can take several times as long
    (issue 10: `tests --json` 10.8 s instead of 2.9 s). SQLite plans pilothouse's
    reads from its indexes alone, so it needs nothing. Runs after the write has
    committed; a failure only leaves the statistics to autovacuum.
    """
    if engine.dialect.name != "postgresql" or not any(added.values()):
        return []
    try:
        with engine.connect() as connection:
            known: dict[str, float] = dict(
                connection.exec_driver_sql(
                    "SELECT relname, reltuples FROM pg_class"
                    " WHERE oid = ANY(%(tables)s::regclass[])",
                    {"tables": [t for t, n in added.items() if n]},
                ).all()
            )
            stale = [t for t, n in added.items() if n and n > 50 + 0.1 * max(known[t], 0)]
            for table in stale:
                connection.exec_driver_sql(f"ANALYZE {table}")
            connection.commit()
    except SQLAlchemyError:
        return []  # statistics are an optimisation: the data is stored
    return stale
