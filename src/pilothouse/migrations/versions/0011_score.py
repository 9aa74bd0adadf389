"""scorecard: artifacts found by their run

Revision ID: 0011_score
Revises: 0010_cargo_builds

The scorecard and `artifacts` sum each run's artifacts: a run's artifacts are
found through (repository_id, run_key) instead of a scan of every artifact kept.
The run id becomes a bounded key like `runs.run_key` (255 characters), so the
index entry fits PostgreSQL's btree limit and both backends refuse the same values.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011_score"
down_revision: str | Sequence[str] | None = "0010_cargo_builds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.alter_column(
            "run_key", existing_type=sa.Text(), type_=sa.String(255), existing_nullable=True
        )
        batch_op.create_index("ix_artifacts_repository_id_run_key", ["repository_id", "run_key"])


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.drop_index("ix_artifacts_repository_id_run_key")
        batch_op.alter_column(
            "run_key", existing_type=sa.String(255), type_=sa.Text(), existing_nullable=True
        )
