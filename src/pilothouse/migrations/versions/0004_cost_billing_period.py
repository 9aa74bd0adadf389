"""cost lines: billing period, so a re-delivered period replaces the earlier one;
exports' values as unbounded text, so PostgreSQL stores what SQLite stores

Revision ID: 0004_cost
Revises: 0003

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004_cost"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Columns holding an export's own values (Azure's SubAccountId is a 79-character
# path in the FOCUS sample), with their old bounds.
_WIDENED = {"service": 255, "amount": 64, "currency": 8, "category": 64, "region": 64,
            "account": 64, "sku": 255, "quantity": 64, "unit": 64, "repository": 255,
            "model": 255}  # fmt: skip


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("cost_lines", schema=None) as batch_op:
        for name, length in _WIDENED.items():
            batch_op.alter_column(name, existing_type=sa.String(length), type_=sa.Text())
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
        for name, length in _WIDENED.items():
            batch_op.alter_column(name, existing_type=sa.Text(), type_=sa.String(length))
