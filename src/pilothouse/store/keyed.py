"""Writes keyed by a natural key that concurrent writers cannot break.

Every row with a natural key (repository, run, job, report, workflow, artifact,
sync cursor, ETag, cost line, alert) is written with ``INSERT ... ON CONFLICT
DO NOTHING`` and then re-read, never "SELECT, then INSERT if absent": on
PostgreSQL two writers can both find nothing and both insert, and the second
fails on the unique constraint. With ON CONFLICT the second waits for the
first's transaction: if it commits, the second finds its row; if it rolls back,
the second inserts. SQLite writers are already serialised (``BEGIN IMMEDIATE``);
the statements are the same there, so both backends run one code path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, Table, and_, select, text, update

# The first key of pilothouse's two-key PostgreSQL advisory locks ("pilo").
_LOCK_CLASS = 0x7069_6C6F
# A row found by its key can vanish before it is re-read only if a concurrent
# writer deletes it (none of pilothouse's does); give up after a few tries.
_TRIES = 3


def _insert(connection: Connection, table: Table) -> Any:
    # Imported here: a SQLite store need not load the PostgreSQL dialect.
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def _matches(table: Table, values: Mapping[str, Any], key: Sequence[str]) -> Any:
    return and_(*(table.c[name] == values[name] for name in key))


def insert_new(
    connection: Connection, table: Table, values: Mapping[str, Any], key: Sequence[str]
) -> Row[Any] | None:
    """Insert *values* unless a row with the same *key* columns exists (or is being
    inserted by a transaction that then commits); the new row's primary key, or None."""
    statement = (
        _insert(connection, table)
        .values(dict(values))
        .on_conflict_do_nothing(index_elements=list(key))
        .returning(*table.primary_key.columns)
    )
    return connection.execute(statement).first()


def ensure_id(
    connection: Connection,
    table: Table,
    values: Mapping[str, Any],
    key: Sequence[str],
    *,
    update_existing: bool = False,
) -> tuple[int, bool]:
    """The id of the row whose *key* columns hold *values*', inserted from *values*
    when absent (and given *values* when *update_existing*); (id, inserted)."""
    for _ in range(_TRIES):
        new = insert_new(connection, table, values, key)
        if new is not None:
            return int(new[0]), True
        found = connection.execute(select(table.c.id).where(_matches(table, values, key))).scalar()
        if found is not None:
            if update_existing:
                connection.execute(update(table).where(table.c.id == found).values(**values))
            return int(found), False
    raise RuntimeError(f"{table.name}: a row with key {key} keeps vanishing")  # pragma: no cover


def upsert(
    connection: Connection, table: Table, values: Mapping[str, Any], key: Sequence[str]
) -> bool:
    """Insert *values*, or give them to the row already holding their *key*; inserted?"""
    if insert_new(connection, table, values, key) is not None:
        return True
    connection.execute(update(table).where(_matches(table, values, key)).values(**values))
    return False


def insert_new_many(
    connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], key: Sequence[str]
) -> int:
    """Insert the *rows* whose *key* is not stored yet, in batches; how many were new."""
    if not rows:
        return 0
    statement = (
        _insert(connection, table)
        .on_conflict_do_nothing(index_elements=list(key))
        .returning(*table.primary_key.columns)
    )
    return len(connection.execute(statement, list(rows)).all())


def lock_run(
    connection: Connection, provider: str, repository: str, run_key: str, *, exclusive: bool
) -> None:
    """Hold one run's lock until the transaction ends (PostgreSQL; SQLite writers are
    serialised already).

    A GitHub sync storing a run takes it exclusively; report ingests into the run
    share it. So a sync never works on a run while a report goes into it: it would
    not see that report's placeholder job to adopt (READ COMMITTED), and deleting
    that job would wait for, then cascade into, the report.
    """
    if connection.dialect.name != "postgresql":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    connection.execute(
        text(f"SELECT {function}(:lock_class, hashtext(current_schema() || :name))"),
        {"lock_class": _LOCK_CLASS, "name": f"\x1f{provider}\x1f{repository}\x1f{run_key}"},
    )
