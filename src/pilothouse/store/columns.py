"""Column types that keep SQLite and PostgreSQL alike.

SQLite stores what it is given; PostgreSQL refuses a NUL character in text, a
string longer than a varchar, an integer outside int4/int8. These types refuse
the same values on both backends, before the database sees them, with a line
that names the field and the limit (see docs/architecture.md, "Values the store
keeps"). Free text is unbounded (`Name`); only keys that sit in a unique index
are bounded (`Key`), well under PostgreSQL's ~2,700-byte btree entry limit even
in 4-byte characters.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    DateTime,
    Float,
    Integer,
    String,
    Text,
    cast,
    extract,
    func,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
_PREVIEW = 40


class UnstorableValue(ValueError):
    """A value neither backend may keep as given; the message names its field."""


def _preview(value: str) -> str:
    return repr(value if len(value) <= _PREVIEW else value[:_PREVIEW] + "...")


def check_text(field: str, value: str, *, limit: int | None = None) -> str:
    """*value* if both backends can store it in a column of *limit* characters."""
    if "\x00" in value:
        raise UnstorableValue(f"{field} {_preview(value)}: contains a NUL character")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise UnstorableValue(
                f"{field} {_preview(value)}: not valid Unicode (a lone surrogate)"
            ) from None
    if limit is not None and len(value) > limit:
        raise UnstorableValue(
            f"{field} {_preview(value)}: {len(value)} characters, at most {limit} are stored"
        )
    return value


def check_int(field: str, value: int, *, bounds: tuple[int, int]) -> int:
    low, high = bounds
    if not low <= value <= high:
        raise UnstorableValue(f"{field} {value}: out of range, from {low} to {high} are stored")
    return value


class Name(TypeDecorator[str]):
    """Unbounded text: names, messages, anything we do not choose the length of."""

    impl: type[String] = Text
    cache_ok = True
    limit: int | None = None

    def __init__(self, field: str) -> None:
        super().__init__()
        self.field = field

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else check_text(self.field, value, limit=self.limit)


class Key(Name):
    """Bounded text for values in a unique index (identifiers, not prose)."""

    impl = String
    cache_ok = True

    def __init__(self, limit: int, field: str) -> None:
        TypeDecorator.__init__(self, limit)
        self.limit = limit
        self.field = field


class Int32(TypeDecorator[int]):
    """A PostgreSQL integer (int4), refused alike on SQLite outside its range."""

    impl = Integer
    cache_ok = True
    bounds = INT32

    def __init__(self, field: str) -> None:
        super().__init__()
        self.field = field

    def process_bind_param(self, value: int | None, dialect: Dialect) -> int | None:
        return None if value is None else check_int(self.field, value, bounds=self.bounds)


class Int64(Int32):
    """A bigint (int8): SQLite's own integer range."""

    impl = BigInteger
    cache_ok = True
    bounds = INT64


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns UTC-aware datetimes; refuses naive input."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pilothouse stores UTC-aware times only")
        try:
            return value.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            raise UnstorableValue(
                f"time {value.isoformat()}: outside the years 1 to 9999 once in UTC"
            ) from None

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite hands back text for raw SQL results
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


def seconds_between(
    connection: Connection, start: ColumnElement[Any], end: ColumnElement[Any]
) -> ColumnElement[Any]:
    """*end* - *start* in seconds, in each backend's own date arithmetic (NULL when
    either is NULL), as a float on both (PostgreSQL's epoch is a numeric)."""
    if connection.dialect.name == "postgresql":
        return cast(extract("epoch", end - start), Float)
    return (func.julianday(end) - func.julianday(start)) * 86400.0
