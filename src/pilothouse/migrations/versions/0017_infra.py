"""infrastructure status: EC2 instances and groups, their CloudWatch points, runners

Revision ID: 0017_infra
Revises: 0016_baselines

`infra_resources` (instances and Auto Scaling groups as last described),
`infra_points` (one row per resource, metric and CloudWatch period: compact, keyed,
with an index on the period for the window's reads), `infra_cursors` (where each
metric's reads got to) and `runners` (self-hosted GitHub Actions runners).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0017_infra"
down_revision: str | Sequence[str] | None = "0016_baselines"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "infra_resources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_key", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("region", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("instance_type", sa.Text(), nullable=False),
        sa.Column("group_name", sa.Text(), nullable=True),
        sa.Column("launched_at", sa.DateTime(), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_infra_resources")),
        sa.UniqueConstraint("resource_key", name=op.f("uq_infra_resources_resource_key")),
    )
    op.create_table(
        "infra_points",
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("period_start", sa.DateTime(), nullable=False),
        sa.Column("period_seconds", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["infra_resources.id"],
            name=op.f("fk_infra_points_resource_id_infra_resources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "resource_id", "metric", "period_start", name=op.f("pk_infra_points")
        ),
        sqlite_with_rowid=False,
    )
    op.create_index(op.f("ix_infra_points_period_start"), "infra_points", ["period_start"])
    op.create_table(
        "infra_cursors",
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("read_through", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["infra_resources.id"],
            name=op.f("fk_infra_cursors_resource_id_infra_resources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("resource_id", "metric", name=op.f("pk_infra_cursors")),
    )
    op.create_table(
        "runners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("runner_key", sa.String(64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("os", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("busy", sa.Boolean(), nullable=False),
        sa.Column("labels", sa.Text(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runners")),
        sa.UniqueConstraint("scope", "runner_key", name=op.f("uq_runners_scope_runner_key")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("runners")
    op.drop_table("infra_cursors")
    op.drop_index(op.f("ix_infra_points_period_start"), table_name="infra_points")
    op.drop_table("infra_points")
    op.drop_table("infra_resources")
