"""Opening a store: engine settings per backend and migrations on first use."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from pilothouse.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config

# The newest migration under pilothouse/migrations/versions. Checked against
# Alembic's own view in the tests; knowing it here lets a store that is up to
# date open without importing Alembic at all (a tenth of a second per command).
SCHEMA_REVISION = "0004_cost"
WRITE_FLAG = "pilothouse_write"
SQLITE_BUSY_TIMEOUT_MS = 120_000
# Any fixed 64-bit number; serialises concurrent first-use migrations on PostgreSQL.
_PG_MIGRATION_LOCK = 0x7069_6C6F_7468


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


def _sqlite_engine(url: URL) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN, so writers can take the
        # lock up front (BEGIN IMMEDIATE) and wait politely for each other.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.info.get(WRITE_FLAG, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def create_store_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    return create_engine(url, pool_pre_ping=True)


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    location = resources.files("pilothouse") / "migrations"
    config.set_main_option("script_location", str(location))
    return config


def head_revision() -> str | None:
    """The newest migration, as Alembic reads it from the scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The store's schema revision, None for a new store."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest revision; a no-op when it is there already."""
    head = SCHEMA_REVISION
    try:
        with engine.connect() as connection:
            if current_revision(connection) == head:
                return
            connection.rollback()
            connection.info[WRITE_FLAG] = True
            try:
                with connection.begin():
                    if engine.dialect.name == "postgresql":
                        connection.exec_driver_sql(
                            f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"
                        )
                    if current_revision(connection) != head:
                        from alembic import command

                        config = _alembic_config()
                        config.attributes["connection"] = connection
                        command.upgrade(config, "head")
            finally:
                connection.info.pop(WRITE_FLAG, None)
    except SQLAlchemyError as exc:
        raise StoreError(f"{describe(engine.url)}: cannot open store: {reason(exc)}") from exc


def reason(exc: SQLAlchemyError) -> str:
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
