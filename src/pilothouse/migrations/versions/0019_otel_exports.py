"""OpenTelemetry export: which runs each OTLP destination already has

Revision ID: 0019_otel_exports
Revises: 0018_routines

`otel_exports` (store.otel): one row per run attempt sent as a trace to a
destination, so `pilothouse export otel` is idempotent by run.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0019_otel_exports"
down_revision: str | Sequence[str] | None = "0018_routines"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "otel_exports",
        sa.Column("destination", sa.String(length=255), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("exported_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_otel_exports_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("destination", "run_id", name=op.f("pk_otel_exports")),
    )
    op.create_index(op.f("ix_otel_exports_run_id"), "otel_exports", ["run_id"])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f("ix_otel_exports_run_id"), table_name="otel_exports")
    op.drop_table("otel_exports")
