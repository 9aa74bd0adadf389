"""free text unbounded, run ids up to 255 characters

Revision ID: 0004_store
Revises: 0003

PostgreSQL refused what SQLite kept (a 300-character branch, a 65-character run
id): names and other free text become unbounded text on both; only keys in a
unique index stay bounded, and the code checks them alike on both backends.
varchar -> text is a catalogue change on PostgreSQL (no table rewrite); SQLite
recreates the tables (batch mode, foreign keys off: see store/engine.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004_store"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, length before, nullable): each becomes unbounded text.
_TO_TEXT = {
    "runs": [
        ("workflow", 255, True),
        ("event", 64, True),
        ("branch", 255, True),
        ("commit_sha", 64, True),
        ("workflow_key", 64, True),
        ("status", 32, True),
        ("conclusion", 32, True),
    ],
    "jobs": [
        ("name", 255, False),
        ("runner_name", 255, True),
        ("status", 32, True),
        ("conclusion", 32, True),
    ],
    "steps": [("name", 255, False), ("status", 32, True), ("conclusion", 32, True)],
    "workflows": [("name", 255, False), ("state", 64, False)],
    "artifacts": [("run_key", 64, True), ("name", 255, False), ("digest", 100, True)],
    "http_cache": [("etag", 255, False)],
    "cost_lines": [
        ("service", 255, False),
        ("amount", 64, False),
        ("currency", 8, False),
        ("category", 64, True),
        ("region", 64, True),
        ("account", 64, True),
        ("sku", 255, True),
        ("quantity", 64, True),
        ("unit", 64, True),
        ("repository", 255, True),
        ("model", 255, True),
    ],
}
_RUN_KEY = (64, 255)


def upgrade() -> None:
    _alter(widen=True)


def downgrade() -> None:
    _alter(widen=False)


def _alter(*, widen: bool) -> None:
    for table, columns in _TO_TEXT.items():
        with op.batch_alter_table(table) as batch:
            for name, length, nullable in columns:
                old, new = sa.String(length), sa.Text()
                batch.alter_column(
                    name,
                    type_=new if widen else old,
                    existing_type=old if widen else new,
                    nullable=nullable,
                )
            if table == "runs":
                narrow, wide = (sa.String(length) for length in _RUN_KEY)
                batch.alter_column(
                    "run_key",
                    type_=wide if widen else narrow,
                    existing_type=narrow if widen else wide,
                    nullable=False,
                )
