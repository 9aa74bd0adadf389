"""Cell values shared by the cost readers: money, quantities, dates, tags.

Money is parsed from the file's text straight into ``Decimal`` and never passes
through a float. ``day`` is the UTC date the charge is for.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

_GROUPED = re.compile(r"^[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?$")
_SYMBOLS = "$€£¥"


def parse_decimal(text: str) -> Decimal:
    """A finite Decimal from money or quantity text; ValueError when it is not one.

    Beyond plain numbers (``0.0000008``, ``1.81E-8``) it reads what spreadsheets
    write: a currency symbol, thousands separators, padding and accounting
    parentheses for negatives.

    >>> parse_decimal("$10,000.00 "), parse_decimal("(1.50)"), parse_decimal("-$3")
    (Decimal('10000.00'), Decimal('-1.50'), Decimal('-3'))
    """
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = _parse_loose(text)
    if not value.is_finite():
        raise ValueError(text)
    return value


def _take_sign(body: str, negative: bool) -> tuple[str, bool]:
    if body.startswith(("-", "+")):
        return body[1:].strip(), negative != body.startswith("-")
    return body, negative


def _parse_loose(text: str) -> Decimal:
    body = text.strip()
    negative = body.startswith("(") and body.endswith(")")
    if negative:
        body = body[1:-1].strip()
    body, negative = _take_sign(body, negative)  # "-$3"
    body, negative = _take_sign(body.lstrip(_SYMBOLS).strip(), negative)  # "$-3"
    if _GROUPED.match(body):
        body = body.replace(",", "")
    try:
        value = Decimal(body)
    except InvalidOperation:
        raise ValueError(text) from None
    return -value if negative else value


_US_DATE = re.compile(r"^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4}|[0-9]{2})(?:[ T].*)?$")


def parse_instant(text: str) -> datetime:
    """An ISO 8601 date-time as an aware UTC datetime; a naive one is taken as UTC.

    Accepts ``2024-09-18T22:00:00Z``, ``2024-09-18 22:00:00``, fractions, offsets.
    """
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@functools.lru_cache(maxsize=4096)  # an export repeats its few hundred period starts
def parse_day(text: str) -> date:
    """The UTC date of an ISO date or date-time, or of a US ``M/D/YY[YY]`` date
    (the form a spreadsheet saves FOCUS dates in). ValueError otherwise.

    >>> parse_day("2024-09-18 22:00:00"), parse_day("2024-09-18T23:30:00-02:00")
    (datetime.date(2024, 9, 18), datetime.date(2024, 9, 19))
    >>> parse_day("4/1/25")
    datetime.date(2025, 4, 1)
    """
    try:
        return parse_instant(text).date()
    except ValueError:
        pass
    match = _US_DATE.match(text.strip())
    if match is None:
        raise ValueError(text)
    month, day, year = (int(group) for group in match.groups())
    return date(year + 2000 if year < 100 else year, month, day)


def _short(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _tag_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True)


def _tags_of(mapping: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(key), _tag_value(value)) for key, value in mapping.items()))


@functools.lru_cache(maxsize=4096)  # an export repeats its few tag sets on many lines
def _json_tags(text: str) -> tuple[tuple[str, str], ...]:
    """Tags from a JSON object's text; Azure's older exports leave out the braces.
    ValueError when the text is no JSON object."""
    body = text.strip()
    if not body.startswith("{"):
        body = "{" + body + "}"
    parsed = json.loads(body)  # JSONDecodeError is a ValueError
    if not isinstance(parsed, dict):
        raise ValueError(text)
    return _tags_of(parsed)
