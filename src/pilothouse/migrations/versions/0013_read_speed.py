"""read speed: test result counts per report and suite

Revision ID: 0013_read_speed
Revises: 0011_score

`report_suites` (store.tallies): a report's results, executed, passed and failed
ones per suite, kept at ingest, so `flaky` and the scorecard's pass rate count a
window per run and suite from a few rows per report instead of every result. The
backfill counts every stored report in one statement.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pilothouse.store import tallies

# revision identifiers, used by Alembic.
revision: str = "0013_read_speed"
down_revision: str | Sequence[str] | None = "0011_score"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "report_suites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("suite", sa.Text(), nullable=False),
        sa.Column("results", sa.Integer(), nullable=False),
        sa.Column("executed", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("retried", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_report_suites_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_suites")),
    )
    op.create_index(op.f("ix_report_suites_report_id"), "report_suites", ["report_id"])
    connection = op.get_bind()
    tallies.backfill(connection)
    if connection.dialect.name == "postgresql":  # plan the first reads with statistics
        op.execute("ANALYZE report_suites")


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f("ix_report_suites_report_id"), table_name="report_suites")
    op.drop_table("report_suites")
