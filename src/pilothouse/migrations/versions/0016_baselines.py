"""CI baselines: per workflow and branch, the reference the scorecard compares with

Revision ID: 0016_baselines
Revises: 0015_rollout

`ci_baselines` (store.baselines): what `pilothouse ci baseline` measured of a
workflow's first runs (run duration, job queue time, cache restores, test pass
counts), one row per workflow and branch, replaced when taken again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0016_baselines"
down_revision: str | Sequence[str] | None = "0015_rollout"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "ci_baselines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workflow", sa.String(length=255), nullable=False),
        sa.Column("branch", sa.String(length=255), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("until", sa.DateTime(), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.Column("runs", sa.BigInteger(), nullable=False),
        sa.Column("duration_p50", sa.Float(), nullable=True),
        sa.Column("duration_p90", sa.Float(), nullable=True),
        sa.Column("queue_jobs", sa.BigInteger(), nullable=False),
        sa.Column("queue_p50", sa.Float(), nullable=True),
        sa.Column("queue_p90", sa.Float(), nullable=True),
        sa.Column("cache_restores", sa.BigInteger(), nullable=False),
        sa.Column("cache_hits", sa.BigInteger(), nullable=False),
        sa.Column("tests_executed", sa.BigInteger(), nullable=False),
        sa.Column("tests_passed", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ci_baselines")),
        sa.UniqueConstraint("workflow", "branch", name=op.f("uq_ci_baselines_workflow_branch")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("ci_baselines")
