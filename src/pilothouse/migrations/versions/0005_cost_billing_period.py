"""cost lines: billing period, so a re-delivered period replaces the earlier one

Revision ID: 0005_cost
Revises: 0004_store

(The export's values became unbounded text in 0004_store.)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005_cost"
down_revision: str | Sequence[str] | None = "0004_store"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("cost_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("billing_period", sa.Date(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_cost_lines_source_billing_period"),
            ["source", "billing_period"],
            unique=False,
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("cost_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cost_lines_source_billing_period"))
        batch_op.drop_column("billing_period")
