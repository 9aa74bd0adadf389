"""The store: SQLAlchemy Core tables, Alembic migrations and an API of intent."""

from pilothouse.store.store import ReportInput, Store, StoredReport

__all__ = ["ReportInput", "Store", "StoredReport"]
