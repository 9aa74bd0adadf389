"""cost lines: the amount as exact integers, so the database sums the ledger

Revision ID: 0007_cost_scale
Revises: 0006_read_scale

`amount_units` + `amount_frac` / 10**12 is the amount; both NULL where it has more
than 12 decimals or does not fit int64 (summed from the text in Python). The
backfill reads the stored text in batches by id, so it holds one batch at a time.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pilothouse.store.costs import exact_parts

# revision identifiers, used by Alembic.
revision: str = "0007_cost_scale"
down_revision: str | Sequence[str] | None = "0006_read_scale"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 5000


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("cost_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("amount_units", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("amount_frac", sa.BigInteger(), nullable=True))
    _backfill(op.get_bind())


def _backfill(connection: sa.Connection) -> None:
    lines = sa.table(
        "cost_lines",
        sa.column("id", sa.Integer),
        sa.column("amount", sa.Text),
        sa.column("amount_units", sa.BigInteger),
        sa.column("amount_frac", sa.BigInteger),
    )
    update = (
        sa.update(lines)
        .where(lines.c.id == sa.bindparam("line_id"))
        .values(amount_units=sa.bindparam("units"), amount_frac=sa.bindparam("frac"))
    )
    after = -1
    while True:
        batch = connection.execute(
            sa.select(lines.c.id, lines.c.amount)
            .where(lines.c.id > after)
            .order_by(lines.c.id)
            .limit(_BATCH)
        ).all()
        if not batch:
            return
        rows = []
        for line_id, amount in batch:
            units, frac = exact_parts(amount)
            rows.append({"line_id": line_id, "units": units, "frac": frac})
        connection.execute(update, rows)
        after = batch[-1][0]


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("cost_lines", schema=None) as batch_op:
        batch_op.drop_column("amount_frac")
        batch_op.drop_column("amount_units")
