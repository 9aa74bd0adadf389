"""The store's tables, in SQLAlchemy Core, the same on SQLite and PostgreSQL.

Alembic migrations under ``pilothouse/migrations`` create exactly these; a test
checks that the migrated schema and this metadata agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns UTC-aware datetimes; refuses naive input."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pilothouse stores UTC-aware times only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite hands back text for raw SQL results
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


repositories = Table(
    "repositories",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("provider", String(32), nullable=False),
    Column("full_name", String(255), nullable=False),
    UniqueConstraint("provider", "full_name"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repository_id", ForeignKey("repositories.id"), nullable=False),
    Column("run_key", String(64), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("workflow", String(255)),
    Column("event", String(64)),
    Column("branch", String(255)),
    Column("commit_sha", String(64)),
    Column("run_number", Integer),
    Column("workflow_key", String(64)),
    Column("html_url", Text),
    Column("status", String(32)),
    Column("conclusion", String(32)),
    Column("created_at", UTCDateTime),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("updated_at", UTCDateTime),
    UniqueConstraint("repository_id", "run_key", "attempt"),
    Index(None, "created_at"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("job_key", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("runner_labels", Text, nullable=False, default="[]"),
    Column("runner_name", String(255)),
    Column("attempt", Integer, nullable=False),
    Column("status", String(32)),
    Column("conclusion", String(32)),
    Column("created_at", UTCDateTime),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    UniqueConstraint("run_id", "job_key"),
)

steps = Table(
    "steps",
    metadata,
    Column("job_id", ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("name", String(255), nullable=False),
    Column("status", String(32)),
    Column("conclusion", String(32)),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
)

reports = Table(
    "reports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("job_id", ForeignKey("jobs.id", ondelete="CASCADE")),
    Column("digest", String(64), nullable=False),
    Column("path", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("tests", Integer, nullable=False),
    Column("ingested_at", UTCDateTime, nullable=False),
    UniqueConstraint("run_id", "digest"),
)

# One row per <testcase>, in report order (ordinal), so a report that repeats a
# test (pytest-rerunfailures, marathon) keeps every try. Deliberately lean: a
# rowid primary key, one foreign key and no secondary index, because ingest
# writes hundreds of thousands of these rows per report (benchmarks/junit_ingest.py).
# Run and job come through the report.
test_results = Table(
    "test_results",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("report_id", ForeignKey("reports.id", ondelete="CASCADE"), nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("suite", Text, nullable=False),
    Column("classname", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("file", Text, nullable=False),
    Column("duration", Float),
    Column("outcome", String(8), nullable=False),
    Column("message", Text, nullable=False),
    Column("retries", Integer, nullable=False),
)

test_retries = Table(
    "test_retries",
    metadata,
    Column("result_id", ForeignKey("test_results.id", ondelete="CASCADE"), primary_key=True),
    Column("attempt", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Column("duration", Float),
)

# -- GitHub Actions sync (migration 0002) -------------------------------------

workflows = Table(
    "workflows",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repository_id", ForeignKey("repositories.id"), nullable=False),
    Column("workflow_key", String(64), nullable=False),
    Column("name", String(255), nullable=False),
    Column("path", Text, nullable=False),
    Column("state", String(64), nullable=False),
    Column("created_at", UTCDateTime),
    Column("updated_at", UTCDateTime),
    UniqueConstraint("repository_id", "workflow_key"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repository_id", ForeignKey("repositories.id"), nullable=False),
    Column("artifact_key", String(64), nullable=False),
    Column("run_key", String(64)),
    Column("name", String(255), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("digest", String(100)),
    Column("expired", Boolean, nullable=False),
    Column("created_at", UTCDateTime),
    Column("expires_at", UTCDateTime),
    Column("updated_at", UTCDateTime),
    UniqueConstraint("repository_id", "artifact_key"),
)

cache_usage = Table(
    "cache_usage",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("repository_id", ForeignKey("repositories.id"), nullable=False),
    Column("taken_at", UTCDateTime, nullable=False),
    Column("active_caches_count", Integer, nullable=False),
    Column("active_caches_size_bytes", BigInteger, nullable=False),
)

# Where the last complete sync of a repository got to.
sync_state = Table(
    "sync_state",
    metadata,
    Column("repository_id", ForeignKey("repositories.id"), primary_key=True),
    Column("cursor", UTCDateTime),
    Column("synced_at", UTCDateTime),
)

# ETags of API responses already processed: a 304 answer costs no quota.
http_cache = Table(
    "http_cache",
    metadata,
    Column("repository_id", ForeignKey("repositories.id"), primary_key=True),
    Column("url", String(2000), primary_key=True),
    Column("etag", String(255), nullable=False),
    Column("next_url", Text),
)

# -- cost ledger (migration 0003) -----------------------------------------------

# Amounts are exact decimal strings: SQLite has no decimal type, and money must
# not pass through floats. Sums happen in Python with Decimal.
cost_lines = Table(
    "cost_lines",
    metadata,
    Column("id", Integer, primary_key=True),
    # An export's values are unbounded text: PostgreSQL must store what SQLite does.
    Column("source", String(32), nullable=False),
    Column("line_key", String(255), nullable=False),
    Column("day", Date, nullable=False),
    Column("service", Text, nullable=False),
    Column("amount", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("category", Text),
    Column("resource", Text),
    Column("region", Text),
    Column("account", Text),
    Column("sku", Text),
    Column("quantity", Text),
    Column("unit", Text),
    Column("repository", Text),
    Column("workflow", Text),
    Column("model", Text),
    Column("input_tokens", BigInteger),
    Column("output_tokens", BigInteger),
    Column("cache_read_tokens", BigInteger),
    Column("cache_write_tokens", BigInteger),
    Column("tags", Text, nullable=False),
    # The first day of the billing period the line was billed in (CUR, FOCUS):
    # a re-delivered period replaces the lines of its earlier delivery.
    Column("billing_period", Date),
    UniqueConstraint("source", "line_key"),
    Index(None, "day"),
    Index(None, "source", "billing_period"),
)

# Alerts delivered, so that each is sent once per budget, threshold and period.
alerts_sent = Table(
    "alerts_sent",
    metadata,
    Column("alert_key", String(255), primary_key=True),
    Column("sent_at", UTCDateTime, nullable=False),
)
