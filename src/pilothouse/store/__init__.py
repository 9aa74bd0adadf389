"""The store: SQLAlchemy Core tables, Alembic migrations and an API of intent."""

from pilothouse.store.reports import ReportInput, StoredReport
from pilothouse.store.store import Store

__all__ = ["ReportInput", "Store", "StoredReport"]
