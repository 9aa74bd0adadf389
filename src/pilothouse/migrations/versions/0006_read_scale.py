"""read at scale: test_results.report_id index, failed tests counted per report

Revision ID: 0006_read_scale
Revises: 0005_cost

Reading a window of results goes runs (created_at) -> reports (run_id) -> test_results
(report_id): without this index every read scanned the whole results table. A
report's failed tests are counted at ingest (`reports.failed`), so `runs` reads
its counts without visiting the results; existing reports are counted here, in SQL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006_read_scale"
down_revision: str | Sequence[str] | None = "0005_cost"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_index("ix_test_results_report_id", "test_results", ["report_id"], unique=False)
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE reports SET failed = (SELECT count(*) FROM test_results"
        " WHERE test_results.report_id = reports.id"
        " AND test_results.outcome IN ('failed', 'error'))"
    )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_column("failed")
    op.drop_index("ix_test_results_report_id", table_name="test_results")
