"""lean results: a test result carries its test's id instead of its three names

Revision ID: 0014_lean_results
Revises: 0013_read_speed

`tests.key` becomes the first 16 bytes of the sha256 digest (store.rollups.
key_of_test) instead of its 64 hex characters, recomputed from the names in SQL
(store.rollups.key_sql); the column moves last. `test_results` loses classname, name
and file and gains `test_id` (the `tests` row that names them once; store.staging).
Every stored result's test is named in `tests` first (a store migrated from before
0008 has none), by the same digest; then each result gets its test's id through the
digest's unique index, and the names are dropped (SQLite recreates the tables, with
foreign keys off, as every migration runs there). The results' index on report_id
becomes (report_id, test_id): the rollups group a report's results by test along it.

The per-day rollups are filled here when they are empty (0008 made them empty;
a store that was rolling up already holds them whole): the statements of
store.rollups read results by test id.
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pilothouse.store import rollups

# revision identifiers, used by Alembic.
revision: str = "0014_lean_results"
down_revision: str | Sequence[str] | None = "0013_read_speed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAMES = ("classname", "name", "file")

_results = sa.table(
    "test_results",
    sa.column("id", sa.Integer()),
    sa.column("classname", sa.Text()),
    sa.column("name", sa.Text()),
    sa.column("file", sa.Text()),
    sa.column("test_id", sa.Integer()),
)
_tests = sa.table(
    "tests",
    sa.column("id", sa.Integer()),
    sa.column("key", sa.LargeBinary()),
    sa.column("binary_key", sa.LargeBinary()),
    sa.column("classname", sa.Text()),
    sa.column("name", sa.Text()),
    sa.column("file", sa.Text()),
)
_test_days = sa.table("test_days", sa.column("day", sa.Date()))


def _binary_keys(connection: sa.Connection) -> None:
    """tests.key: 16 bytes of the digest, recomputed from the names, in a new last column."""
    t = _tests.c
    op.add_column("tests", sa.Column("binary_key", sa.LargeBinary(), nullable=True))
    key = rollups.key_sql(connection, t.classname, t.name, t.file)
    connection.execute(sa.update(_tests).values(binary_key=key))
    with op.batch_alter_table("tests", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_tests_key"), type_="unique")
        batch_op.drop_column("key")
    with op.batch_alter_table("tests", schema=None) as batch_op:
        batch_op.alter_column(
            "binary_key", new_column_name="key", existing_type=sa.LargeBinary(), nullable=False
        )
    with op.batch_alter_table("tests", schema=None) as batch_op:  # SQLite: once renamed
        batch_op.create_unique_constraint(op.f("uq_tests_key"), ["key"])


def _key(connection: sa.Connection) -> sa.ColumnElement[bytes]:
    r = _results.c
    return rollups.key_sql(connection, r.classname, r.name, r.file)


def _name_tests(connection: sa.Connection) -> None:
    """Name in `tests` every test that has a result, once."""
    r, t = _results.c, _tests.c
    named = (
        sa.select(_key(connection).label("key"), r.classname, r.name, r.file).distinct().subquery()
    )
    new = (
        sa.select(named.c.key, named.c.classname, named.c.name, named.c.file)
        .where(~sa.select(t.id).where(t.key == named.c.key).exists())
        .order_by(named.c.key)
    )
    connection.execute(sa.insert(_tests).from_select(["key", "classname", "name", "file"], new))


def _give_ids(connection: sa.Connection) -> None:
    """Each result gets its test's id, found through the digest's unique index."""
    t = _tests.c
    test_id = sa.select(t.id).where(t.key == _key(connection)).scalar_subquery()
    connection.execute(sa.update(_results).values(test_id=test_id))


def upgrade() -> None:
    """Upgrade schema."""
    connection = op.get_bind()
    if connection.dialect.name == "sqlite":  # the engine adds them; a bare connection may not
        rollups.sqlite_functions(connection.connection.driver_connection)
    _binary_keys(connection)
    _name_tests(connection)
    op.add_column("test_results", sa.Column("test_id", sa.Integer(), nullable=True))
    _give_ids(connection)
    with op.batch_alter_table("test_results", schema=None) as batch_op:
        for name in _NAMES:
            batch_op.drop_column(name)
        batch_op.alter_column("test_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_index(op.f("ix_test_results_report_id"))
        batch_op.create_index(op.f("ix_test_results_report_id_test_id"), ["report_id", "test_id"])
    if connection.execute(sa.select(_test_days.c.day).limit(1)).first() is None:
        rollups.backfill(connection)
    if connection.dialect.name == "postgresql":  # plan the first reads with statistics
        for table in ("test_results", "tests", "test_days", "test_day_bins"):
            op.execute(f"ANALYZE {table}")


def downgrade() -> None:
    """Downgrade schema: the names back on every result (appended as columns), the hex
    digests back as keys."""
    with op.batch_alter_table("test_results", schema=None) as batch_op:
        for name in _NAMES:
            batch_op.add_column(sa.Column(name, sa.Text(), nullable=True))
    r, t = _results.c, _tests.c
    op.get_bind().execute(
        sa.update(_results).values(
            {name: sa.select(t[name]).where(t.id == r.test_id).scalar_subquery() for name in _NAMES}
        )
    )
    with op.batch_alter_table("test_results", schema=None) as batch_op:
        for name in _NAMES:
            batch_op.alter_column(name, existing_type=sa.Text(), nullable=False)
        batch_op.drop_index(op.f("ix_test_results_report_id_test_id"))
        batch_op.drop_column("test_id")
        batch_op.create_index(op.f("ix_test_results_report_id"), ["report_id"])
    _hex_keys(op.get_bind())


def _hex_keys(connection: sa.Connection) -> None:
    """tests.key as 0013 kept it: the sha256 digest's 64 hex characters."""
    t = _tests.c
    text = (
        sa.cast(sa.func.length(t.classname), sa.Text()) + ":" + t.classname
        + sa.cast(sa.func.length(t.name), sa.Text()) + ":" + t.name + t.file
    )  # fmt: skip
    with op.batch_alter_table("tests", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_tests_key"), type_="unique")
        batch_op.drop_column("key")
        batch_op.add_column(sa.Column("key", sa.String(64), nullable=True))
    if connection.dialect.name == "postgresql":
        digest = sa.func.encode(sa.func.sha256(sa.func.convert_to(text, "UTF8")), "hex")
    else:
        digest = sa.func.pilothouse_hex_key(t.classname, t.name, t.file)
        driver = connection.connection.driver_connection
        assert driver is not None
        driver.create_function("pilothouse_hex_key", 3, _hex_key, deterministic=True)
    connection.execute(sa.update(_tests).values(key=digest))
    with op.batch_alter_table("tests", schema=None) as batch_op:
        batch_op.alter_column("key", existing_type=sa.String(64), nullable=False)
        batch_op.create_unique_constraint(op.f("uq_tests_key"), ["key"])


def _hex_key(classname: str, name: str, file: str) -> str:
    text = f"{len(classname)}:{classname}{len(name)}:{name}{file}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
