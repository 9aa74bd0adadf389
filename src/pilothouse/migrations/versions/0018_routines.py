"""routines: the last failed sync of each repository

Revision ID: 0018_routines
Revises: 0017_infra

`sync_failures` keeps, per repository, when its last `ingest github` failed and why,
so the daily routine's watchdog can say "the sync failed" instead of waiting for the
last complete sync to grow stale.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0018_routines"
down_revision: str | Sequence[str] | None = "0017_infra"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "sync_failures",
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("failed_at", sa.DateTime(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("provider", "repository", name=op.f("pk_sync_failures")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("sync_failures")
