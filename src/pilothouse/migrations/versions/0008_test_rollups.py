"""per-test per-day rollups of test results, kept at ingest

Revision ID: 0008_test_rollups
Revises: 0007_cost_scale

`tests` (one row per classname, name, file, keyed by a sha256 digest), `test_days`
(a test's counts, durations and newest result of one UTC day) and `test_day_bins`
(that day's duration histogram). They are filled by 0014_lean_results, once the
results carry their test's id (the statements of store.rollups read that id).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pilothouse.store.columns import Key, Name, UTCDateTime

# revision identifiers, used by Alembic.
revision: str = "0008_test_rollups"
down_revision: str | Sequence[str] | None = "0007_cost_scale"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "tests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", Key(64, "test key"), nullable=False),
        sa.Column("classname", Name("classname"), nullable=False),
        sa.Column("name", Name("test name"), nullable=False),
        sa.Column("file", Name("test file"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tests")),
        sa.UniqueConstraint("key", name=op.f("uq_tests_key")),
    )
    op.create_table(
        "test_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("test_id", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("timed", sa.Integer(), nullable=False),
        sa.Column("duration_sum", sa.Float(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.Column("last_report", sa.Integer(), nullable=False),
        sa.Column("last_ordinal", sa.Integer(), nullable=False),
        sa.Column("last_outcome", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["test_id"], ["tests.id"], name=op.f("fk_test_days_test_id_tests"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("day", "test_id", name=op.f("pk_test_days")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "test_day_bins",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("test_id", sa.Integer(), nullable=False),
        sa.Column("bin", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("low", sa.Float(), nullable=False),
        sa.Column("high", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["test_id"],
            ["tests.id"],
            name=op.f("fk_test_day_bins_test_id_tests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("day", "test_id", "bin", name=op.f("pk_test_day_bins")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("test_day_bins")
    op.drop_table("test_days")
    op.drop_table("tests")
