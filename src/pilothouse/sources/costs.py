"""Streaming readers for cost data: FOCUS, AWS CUR, GitHub usage reports, Bedrock logs.

Each reader turns one file into :class:`~pilothouse.model.CostLine` records, one
row (or log record) at a time, so memory stays flat whatever the file's size.
Money is parsed from the file's text straight into ``Decimal`` and never passes
through a float; each line keeps the currency its row names. ``day`` is the UTC
date the charge is for.

Bad input raises :class:`~pilothouse.errors.InputError` with a one-line message
naming the file and the data row (1-based, blank rows not counted, with the
physical line) or, for JSON lines, the line number.

CSV files may be gzip-compressed (detected by content, as AWS delivers them);
Parquet files (by suffix or content) need the optional ``pyarrow`` package.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import importlib
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pilothouse.errors import ConfigError, InputError
from pilothouse.model import CostLine

__all__ = [
    "FORMATS",
    "BedrockResult",
    "CostFileResult",
    "ModelRates",
    "PriceBook",
    "SkipLog",
    "iter_bedrock_log",
    "bare_model_id",
    "iter_cost_file",
    "parse_day",
    "parse_decimal",
    "parse_instant",
    "read_bedrock_log",
    "read_cost_file",
    "read_cur",
    "read_focus",
    "read_github_usage",
]

FORMATS: tuple[str, ...] = ("focus", "cur", "github-usage", "bedrock-log")
NO_CURRENCY = "XXX"  # ISO 4217 "no currency": a FOCUS file without BillingCurrency
_NULLS = frozenset({"", "null"})
_MAX_KEY = 200  # the store's line_key holds 255 characters; longer ids are hashed
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"


# -- shared: values ---------------------------------------------------------------


def _norm(name: str) -> str:
    """A column name reduced to lowercase letters and digits, so FOCUS's
    ``ChargePeriodStart``, CUR 1's ``lineItem/UsageStartDate`` and CUR 2's
    ``line_item_usage_start_date`` each match their spelling in any dialect."""
    return re.sub(r"[^0-9a-z]", "", name.casefold())


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


# -- shared: line keys --------------------------------------------------------------


class _Keys:
    """Line keys for one file.

    A provider's own id is kept (hashed when too long for the store). A row
    without one is keyed by the sha256 of its cells; identical rows are separate
    charges (FOCUS's own examples repeat rows), so the n-th copy gets ``#n``.
    Keys depend only on the file's content, so ingesting it again adds nothing.
    """

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    @staticmethod
    def given(key: str) -> str:
        if len(key) <= _MAX_KEY:
            return key
        return "sha256:" + hashlib.sha256(key.encode()).hexdigest()

    def of_content(self, cells: Sequence[str]) -> str:
        digest = hashlib.sha256(json.dumps(list(cells), ensure_ascii=False).encode()).hexdigest()
        count = self._seen.get(digest, 0) + 1
        self._seen[digest] = count
        return digest if count == 1 else f"{digest}#{count}"


# -- shared: tables (CSV, gzip CSV, Parquet) -------------------------------------------


@dataclass(frozen=True, slots=True)
class _Row:
    number: int  # 1-based data row; 0 for the header
    line: int | None  # the physical line the row ends on (CSV only)
    cells: list[str]


def _where(path: Path, row: _Row) -> str:
    if row.line is None:
        return f"{path}: row {row.number}"
    return f"{path}: row {row.number} (line {row.line})"


def _magic(path: Path) -> bytes:
    """The file's first four bytes; InputError when it cannot be read."""
    try:
        with path.open("rb") as stream:
            return stream.read(4)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _open_binary(path: Path) -> io.BufferedReader | gzip.GzipFile:
    try:
        if _magic(path)[:2] == _GZIP_MAGIC:
            return gzip.open(path, "rb")
        return path.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _open_text(path: Path) -> io.TextIOWrapper:
    """The file as UTF-8 text (a BOM dropped), gunzipped when it is gzip."""
    return io.TextIOWrapper(_open_binary(path), encoding="utf-8-sig", newline="")


def _is_parquet(path: Path) -> bool:
    magic = _magic(path)
    return path.suffix.lower() == ".parquet" or magic == _PARQUET_MAGIC


_READ_ERRORS = (csv.Error, UnicodeDecodeError, OSError, EOFError)


def _read_error(path: Path, exc: Exception) -> InputError:
    """The InputError for one of _READ_ERRORS met while reading *path*."""
    if isinstance(exc, UnicodeDecodeError):
        return InputError(f"{path}: not UTF-8 text (byte {exc.start}): is it the right file?")
    if isinstance(exc, csv.Error):
        return InputError(f"{path}: malformed CSV: {exc}")
    return InputError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}")


def _table(path: Path) -> Iterator[_Row]:
    """The header (row 0), then each data row of a CSV or Parquet file; blank rows
    are dropped. InputError when the file cannot be read."""
    if _is_parquet(path):
        yield from _parquet_rows(path)
        return
    with _open_text(path) as stream:
        reader = csv.reader(stream)
        number = -1
        try:
            for cells in reader:
                if any(cell.strip() for cell in cells):
                    number += 1
                    yield _Row(number, reader.line_num, cells)
        except _READ_ERRORS as exc:
            raise _read_error(path, exc) from None


def _parquet_module(path: Path) -> Any:
    try:
        return importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise InputError(
            f"{path}: reading Parquet needs the pyarrow package: pip install pyarrow "
            "(or export the report as CSV)"
        ) from None


def _parquet_text(value: Any) -> str:
    """One Parquet value as the text a CSV export would hold. Costs stored as
    doubles arrive as floats: their shortest repr is the decimal the writer meant."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list) and all(isinstance(item, tuple) for item in value):
        return json.dumps(dict(value), sort_keys=True)  # a map column
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return repr(value) if isinstance(value, float) else str(value)


def _parquet_rows(path: Path) -> Iterator[_Row]:
    parquet = _parquet_module(path)
    try:
        reader = parquet.ParquetFile(str(path))
    except Exception as exc:  # pyarrow's errors derive from ValueError, OSError, ...
        raise InputError(f"{path}: not a readable Parquet file: {exc}") from None
    yield _Row(0, None, list(reader.schema_arrow.names))
    number = 0
    for columns in _parquet_batches(path, reader):
        for values in zip(*columns, strict=True):
            number += 1
            yield _Row(number, None, [_parquet_text(value) for value in values])


def _parquet_batches(path: Path, reader: Any) -> Iterator[list[list[Any]]]:
    """Each record batch as a list of columns of Python values."""
    try:
        for batch in reader.iter_batches(batch_size=4096):
            yield [batch.column(i).to_pylist() for i in range(batch.num_columns)]
    except (OSError, ValueError) as exc:  # pyarrow's ArrowIOError, ArrowInvalid
        raise InputError(f"{path}: unreadable Parquet data: {exc}") from None


class _Columns:
    """A header: column positions by normalised name (the first of duplicates wins)."""

    __slots__ = ("path", "names", "_index")

    def __init__(self, path: Path, names: Sequence[str]) -> None:
        self.path = path
        self.names = [name.strip().lstrip("\ufeff").strip() for name in names]
        self._index: dict[str, int] = {}
        for position, name in enumerate(self.names):
            self._index.setdefault(_norm(name), position)

    def _sample(self) -> str:
        shown = [name if len(name) <= 40 else name[:37] + "..." for name in self.names[:8]]
        return ", ".join(shown) + (", ..." if len(self.names) > 8 else "")

    def find(self, *aliases: str) -> int | None:
        """The position of the first alias present; None when none is."""
        for alias in aliases:
            position = self._index.get(_norm(alias))
            if position is not None:
                return position
        return None

    def require(self, kind: str, *groups: Sequence[str]) -> list[int]:
        """The position of each group's first present name (a group lists alternative
        names); InputError naming every group with none present."""
        found = [self.find(*group) for group in groups]
        missing = [
            " or ".join(group) for group, at in zip(groups, found, strict=True) if at is None
        ]
        if missing:
            raise InputError(
                f"{self.path}: not {kind}: missing column(s) {'; '.join(missing)} "
                f"(found {len(self.names)} columns: {self._sample()})"
            )
        return [at for at in found if at is not None]


class _Cells:
    """One data row, read by column position; errors name the file, row and column."""

    __slots__ = ("_path", "_row", "_names")

    def __init__(self, path: Path, row: _Row, names: Sequence[str]) -> None:
        self._path = path
        self._row = row
        self._names = names

    @property
    def raw(self) -> list[str]:
        return self._row.cells

    def text(self, position: int | None) -> str | None:
        """The stripped cell; None when the column is absent, empty or NULL."""
        if position is None or position >= len(self._row.cells):
            return None
        value = self._row.cells[position].strip()
        return None if value.casefold() in _NULLS else value

    def decimal(self, position: int | None) -> Decimal | None:
        value = self.text(position)
        if value is None:
            return None
        try:
            return parse_decimal(value)
        except ValueError:
            raise self.fail(
                f"unparsable number in {self._name(position)}: {_short(value)}"
            ) from None

    def day(self, position: int | None) -> date | None:
        value = self.text(position)
        if value is None:
            return None
        try:
            return parse_day(value)
        except ValueError:
            raise self.fail(f"unparsable date in {self._name(position)}: {_short(value)}") from None

    def fail(self, message: str) -> InputError:
        return InputError(f"{_where(self._path, self._row)}: {message}")

    def _name(self, position: int | None) -> str:
        return self._names[position] if position is not None else "?"


def _lines_of(
    path: Path, kind: str, layout: Callable[[_Columns], Callable[[_Cells], CostLine]]
) -> Iterator[CostLine]:
    """Drive a table reader: *layout* checks the header and returns the row parser."""
    rows = _table(path)
    header = next(rows, None)
    if header is None:
        raise InputError(f"{path}: empty file, not {kind}")
    columns = _Columns(path, header.cells)
    parse = layout(columns)
    for row in rows:
        yield parse(_Cells(path, row, columns.names))


# -- FOCUS ----------------------------------------------------------------------------

_FOCUS = "a FOCUS cost export"
_CATEGORIES = {
    name.casefold(): name for name in ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
}


@dataclass(frozen=True, slots=True)
class _FocusLayout:
    start: int
    effective: int | None
    billed: int | None
    currency: int | None
    service: int | None
    provider: int | None
    category: int | None
    resource: int | None
    region: int | None
    account: int | None
    sku: int | None
    quantity: int | None
    unit: int | None
    tags: int | None
    line_id: int | None

    @classmethod
    def of(cls, columns: _Columns) -> _FocusLayout:
        # FOCUS 0.5 / 1.0-preview names: AmortizedCost, ChargeType, Region,
        # UsageQuantity, UsageUnit (renamed in 1.0-preview and 1.0).
        start, _cost = columns.require(
            _FOCUS, ("ChargePeriodStart",), ("EffectiveCost", "AmortizedCost", "BilledCost")
        )
        return cls(
            start=start,
            effective=columns.find("EffectiveCost", "AmortizedCost"),
            billed=columns.find("BilledCost"),
            currency=columns.find("BillingCurrency"),
            service=columns.find("ServiceName"),
            provider=columns.find("ProviderName"),
            category=columns.find("ChargeCategory", "ChargeType"),
            resource=columns.find("ResourceId"),
            region=columns.find("RegionId", "Region"),
            account=columns.find("SubAccountId"),
            sku=columns.find("SkuId"),
            quantity=columns.find("ConsumedQuantity", "UsageQuantity"),
            unit=columns.find("ConsumedUnit", "UsageUnit"),
            tags=columns.find("Tags"),
            line_id=columns.find("Id", "ChargeId"),
        )


def _focus_parser(columns: _Columns) -> Callable[[_Cells], CostLine]:
    layout = _FocusLayout.of(columns)
    keys = _Keys()

    def parse(cells: _Cells) -> CostLine:
        return _focus_line(layout, cells, keys)

    return parse


def _focus_amount(layout: _FocusLayout, cells: _Cells) -> Decimal:
    amount = cells.decimal(layout.effective)
    if amount is None:
        amount = cells.decimal(layout.billed)
    if amount is None:
        raise cells.fail("no cost: EffectiveCost and BilledCost are both empty")
    return amount


def _category(text: str | None) -> str | None:
    return None if text is None else _CATEGORIES.get(text.casefold(), text)


def _cell_tags(cells: _Cells, position: int | None) -> tuple[tuple[str, str], ...]:
    text = cells.text(position)
    if text is None:
        return ()
    try:
        return _json_tags(text)
    except ValueError:
        raise cells.fail(f"Tags is not a JSON object: {_short(text)}") from None


def _focus_line(layout: _FocusLayout, cells: _Cells, keys: _Keys) -> CostLine:
    day = cells.day(layout.start)
    if day is None:
        raise cells.fail("ChargePeriodStart is empty")
    line_id = cells.text(layout.line_id)
    return CostLine(
        source="focus",
        line_key=keys.given(line_id) if line_id else keys.of_content(cells.raw),
        day=day,
        service=cells.text(layout.service) or cells.text(layout.provider) or "",
        amount=_focus_amount(layout, cells),
        currency=(cells.text(layout.currency) or NO_CURRENCY).upper(),
        category=_category(cells.text(layout.category)),
        resource=cells.text(layout.resource),
        region=cells.text(layout.region),
        account=cells.text(layout.account),
        sku=cells.text(layout.sku),
        quantity=cells.decimal(layout.quantity),
        unit=cells.text(layout.unit),
        tags=_cell_tags(cells, layout.tags),
    )


def read_focus(path: Path) -> Iterator[CostLine]:
    """Yield one line per row of a FinOps FOCUS export (CSV, gzip CSV or Parquet).

    Reads the column sets of FOCUS 1.0, 1.1 and 1.2, and 0.5/1.0-preview names
    (``AmortizedCost``, ``ChargeType``, ``Region``, ``UsageQuantity``, ``UsageUnit``);
    column names match case-insensitively, extra columns are ignored.

    ``amount`` is EffectiveCost (what the charge really cost once discounts and
    commitment amortisation apply), or BilledCost where EffectiveCost is absent
    or null. ``service`` is ServiceName (ProviderName when that is null);
    ``category`` the ChargeCategory in FOCUS's casing; ``account`` SubAccountId;
    ``currency`` BillingCurrency (``XXX``, "no currency", if the file has none, as
    only the spec's illustrative examples do). ``line_key`` is the ``Id`` or
    ``ChargeId`` column where present, else a digest of the row.

    Tolerates ``NULL``/``null`` cells, datetimes without ``T`` or ``Z``, US
    ``M/D/YY`` dates, ``$1,000.00``-style money, a BOM, blank lines and Tags as
    JSON object text.
    """
    return _lines_of(path, _FOCUS, _focus_parser)


# -- AWS CUR --------------------------------------------------------------------------

_CUR = "an AWS Cost and Usage Report"


@dataclass(frozen=True, slots=True)
class _CurLayout:
    start: int
    net: int | None
    unblended: int | None
    currency: int
    service: tuple[int | None, ...]
    category: int | None
    resource: int | None
    region: tuple[int | None, ...]
    account: int | None
    sku: int | None
    quantity: int | None
    unit: int | None
    line_id: int | None
    interval: int | None
    tag_map: int | None
    tag_columns: tuple[tuple[int, str], ...]

    @classmethod
    def of(cls, columns: _Columns) -> _CurLayout:
        # One normalised name matches CUR 1 CSV (lineItem/UnblendedCost), CUR 1
        # Parquet/Athena and CUR 2.0 (line_item_unblended_cost) alike.
        start, _cost, currency = columns.require(
            _CUR,
            ("line_item_usage_start_date",),
            ("line_item_unblended_cost", "line_item_net_unblended_cost"),
            ("line_item_currency_code",),
        )
        return cls(
            start=start,
            net=columns.find("line_item_net_unblended_cost"),
            unblended=columns.find("line_item_unblended_cost"),
            currency=currency,
            service=(
                columns.find("line_item_product_code"),
                columns.find("product_servicecode"),
                columns.find("product_product_name"),
            ),
            category=columns.find("line_item_line_item_type"),
            resource=columns.find("line_item_resource_id"),
            region=(columns.find("product_region_code"), columns.find("product_region")),
            account=columns.find("line_item_usage_account_id"),
            sku=columns.find("product_sku"),
            quantity=columns.find("line_item_usage_amount"),
            unit=columns.find("pricing_unit"),
            line_id=columns.find("identity_line_item_id"),
            interval=columns.find("identity_time_interval"),
            tag_map=_tag_map_column(columns),
            tag_columns=_tag_columns(columns),
        )


def _tag_map_column(columns: _Columns) -> int | None:
    for position, name in enumerate(columns.names):
        if name.casefold() == "resource_tags":
            return position
    return None


def _tag_columns(columns: _Columns) -> tuple[tuple[int, str], ...]:
    """CUR 1's one column per tag: ``resourceTags/user:team`` (CSV) or
    ``resource_tags_user_team`` (Parquet); the key is what follows the prefix."""
    found = []
    for position, name in enumerate(columns.names):
        lowered = name.casefold()
        for prefix in ("resourcetags/", "resource_tags_"):
            if lowered.startswith(prefix) and len(name) > len(prefix):
                found.append((position, name[len(prefix) :]))
    return tuple(found)


def _first_text(cells: _Cells, positions: Sequence[int | None]) -> str | None:
    for position in positions:
        value = cells.text(position)
        if value is not None:
            return value
    return None


def _cur_amount(layout: _CurLayout, cells: _Cells) -> Decimal:
    amount = cells.decimal(layout.net)
    if amount is None:
        amount = cells.decimal(layout.unblended)
    if amount is None:
        raise cells.fail("no cost: line_item_unblended_cost is empty")
    return amount


def _cur_tags(layout: _CurLayout, cells: _Cells) -> tuple[tuple[str, str], ...]:
    tags = dict(_cell_tags(cells, layout.tag_map))
    for position, key in layout.tag_columns:
        value = cells.text(position)
        if value is not None:
            tags[key] = value
    return tuple(sorted(tags.items()))


def _cur_key(layout: _CurLayout, cells: _Cells, keys: _Keys) -> str:
    line_id = cells.text(layout.line_id)
    if line_id is None:
        return keys.of_content(cells.raw)
    # A line item id repeats once per hour or day of an hourly/daily report.
    interval = cells.text(layout.interval)
    return keys.given(f"{line_id}/{interval}" if interval else line_id)


def _cur_line(layout: _CurLayout, cells: _Cells, keys: _Keys) -> CostLine:
    day = cells.day(layout.start)
    if day is None:
        raise cells.fail("line_item_usage_start_date is empty")
    currency = cells.text(layout.currency)
    if currency is None:
        raise cells.fail("line_item_currency_code is empty")
    return CostLine(
        source="cur",
        line_key=_cur_key(layout, cells, keys),
        day=day,
        service=_first_text(cells, layout.service) or "",
        amount=_cur_amount(layout, cells),
        currency=currency.upper(),
        category=cells.text(layout.category),
        resource=cells.text(layout.resource),
        region=_first_text(cells, layout.region),
        account=cells.text(layout.account),
        sku=cells.text(layout.sku),
        quantity=cells.decimal(layout.quantity),
        unit=cells.text(layout.unit),
        tags=_cur_tags(layout, cells),
    )


def _cur_parser(columns: _Columns) -> Callable[[_Cells], CostLine]:
    layout = _CurLayout.of(columns)
    keys = _Keys()

    def parse(cells: _Cells) -> CostLine:
        return _cur_line(layout, cells, keys)

    return parse


def read_cur(path: Path) -> Iterator[CostLine]:
    """Yield one line per row of an AWS Cost and Usage Report: CUR 2.0 (Data
    Exports, ``line_item_unblended_cost``) or legacy CUR (``lineItem/UnblendedCost``
    in CSV, snake_case in Parquet), as CSV, gzip CSV or Parquet (needs pyarrow).

    ``amount`` is the *net unblended* cost where the report has it (the account's
    own rate after every discount AWS applies: EDP, private pricing, bundled
    discounts), else the *unblended* cost. Unblended is the rate the usage account
    itself was charged; blended costs average rates across an organisation's
    accounts and so misstate any one account. This is a cash view: upfront
    Savings Plan or RI fees count on the day they are charged and their coverage
    shows as negative ``SavingsPlanNegation`` lines, so the lines sum to the bill.

    ``service`` is ``line_item_product_code`` (the service that ran the usage; it
    is set on tax lines too), else ``product_servicecode``; ``category`` the AWS
    line item type (Usage, Tax, Credit, Fee, SavingsPlanNegation, ...); ``region``
    ``product_region_code`` (legacy: ``product/region``); ``tags`` the
    ``resource_tags`` map (CUR 2.0) or the ``resourceTags/*`` columns (CUR 1).
    ``line_key`` is the line item id with its time interval.
    """
    return _lines_of(path, _CUR, _cur_parser)


# -- GitHub usage report --------------------------------------------------------------

_GITHUB = "a GitHub usage report"
_GITHUB_PRODUCTS = {
    "actions": "GitHub Actions",
    "packages": "GitHub Packages",
    "codespaces": "GitHub Codespaces",
    "copilot": "GitHub Copilot",
    "git_lfs": "GitHub Git LFS",
    "git lfs": "GitHub Git LFS",
    "shared storage": "GitHub Shared Storage",
    "ghas": "GitHub Advanced Security",
    "advanced security": "GitHub Advanced Security",
    "advanced_security": "GitHub Advanced Security",
}


def _github_service(product: str) -> str:
    """The product as a service name, matching pilothouse's "GitHub Actions"."""
    known = _GITHUB_PRODUCTS.get(product.casefold())
    if known is not None:
        return known
    return product if product.casefold().startswith("github") else f"GitHub {product}"


def _full_name(owner: str | None, repository: str | None) -> str | None:
    if repository is None or "/" in repository or owner is None:
        return repository
    return f"{owner}/{repository}"


@dataclass(frozen=True, slots=True)
class _GithubLayout:
    enhanced: bool
    day: int
    product: int
    sku: int | None
    quantity: int | None
    unit: int | None
    price: int | None
    gross: int | None
    discount: int | None
    net: int | None
    owner: int | None
    repository: int | None
    workflow: tuple[int | None, ...]
    username: int | None
    cost_center: int | None

    @classmethod
    def of(cls, columns: _Columns) -> _GithubLayout:
        metered = (
            columns.find("net_amount", "gross_amount") is None
            and columns.find("Price Per Unit ($)") is not None
        )
        if metered:  # the older "metered billing" report
            day, product, *_ = columns.require(
                _GITHUB, ("Date",), ("Product",), ("Quantity",), ("Price Per Unit ($)",)
            )
        else:  # the enhanced billing platform's report
            day, product, *_ = columns.require(
                _GITHUB,
                ("date", "formatted_date", "usage_at"),
                ("product",),
                ("net_amount", "gross_amount"),
            )
        return cls(
            enhanced=not metered,
            day=day,
            product=product,
            sku=columns.find("sku"),
            quantity=columns.find("quantity"),
            unit=columns.find("unit_type"),
            price=columns.find("price_per_unit", "applied_cost_per_quantity"),
            gross=columns.find("gross_amount"),
            discount=columns.find("discount_amount"),
            net=columns.find("net_amount"),
            owner=columns.find("organization", "organization_name", "owner"),
            repository=columns.find("repository", "repository_name", "repository_slug"),
            workflow=(
                columns.find("workflow_name"),
                columns.find("workflow_path", "actions_workflow"),
            ),
            username=columns.find("username"),
            cost_center=columns.find("cost_center_name"),
        )


def _github_amount(layout: _GithubLayout, cells: _Cells) -> Decimal:
    if layout.enhanced:
        net = cells.decimal(layout.net)
        if net is not None:
            return net
        gross = cells.decimal(layout.gross)
        if gross is None:
            raise cells.fail("no cost: net_amount and gross_amount are empty")
        return gross - (cells.decimal(layout.discount) or Decimal(0))
    quantity, price = cells.decimal(layout.quantity), cells.decimal(layout.price)
    if quantity is None or price is None:
        raise cells.fail("no cost: Quantity or Price Per Unit ($) is empty")
    return quantity * price


def _github_tags(layout: _GithubLayout, cells: _Cells) -> tuple[tuple[str, str], ...]:
    tags = {
        "username": cells.text(layout.username),
        "cost_center_name": cells.text(layout.cost_center),
    }
    return tuple(sorted((key, value) for key, value in tags.items() if value is not None))


def _github_line(layout: _GithubLayout, cells: _Cells, keys: _Keys) -> CostLine:
    day = cells.day(layout.day)
    product = cells.text(layout.product)
    if day is None or product is None:
        raise cells.fail("the date or product is empty")
    owner = cells.text(layout.owner)
    return CostLine(
        source="github-usage",
        line_key=keys.of_content(cells.raw),
        day=day,
        service=_github_service(product),
        amount=_github_amount(layout, cells),
        currency="USD",
        category="Usage",
        account=owner,
        sku=cells.text(layout.sku),
        quantity=cells.decimal(layout.quantity),
        unit=cells.text(layout.unit),
        repository=_full_name(owner, cells.text(layout.repository)),
        workflow=_first_text(cells, layout.workflow),
        tags=_github_tags(layout, cells),
    )


def _github_parser(columns: _Columns) -> Callable[[_Cells], CostLine]:
    layout = _GithubLayout.of(columns)
    keys = _Keys()

    def parse(cells: _Cells) -> CostLine:
        return _github_line(layout, cells, keys)

    return parse


def read_github_usage(path: Path) -> Iterator[CostLine]:
    """Yield one line per row of a GitHub usage report, in USD.

    The enhanced billing platform's report (``date, product, sku, quantity,
    unit_type, applied_cost_per_quantity, gross_amount, discount_amount,
    net_amount, username, organization, repository, workflow_path,
    cost_center_name``; also ``formatted_date``, ``repository_name``,
    ``workflow_name``): ``amount`` is net_amount, what is billed after the
    included free minutes and storage (gross - discount when net is absent).

    The older metered billing report (``Date, Product, SKU, Quantity, Unit Type,
    Price Per Unit ($), Multiplier, Owner, Repository Slug, Username, Actions
    Workflow, Notes``) has no discount column: ``amount`` is Quantity x Price Per
    Unit (the price already includes the OS multiplier), i.e. gross of any
    included minutes.

    ``service`` names the product as "GitHub Actions", "GitHub Copilot", ...;
    ``repository`` is ``owner/name``; ``workflow`` the workflow name where the
    report has one, else its path; username and cost centre become tags.
    """
    return _lines_of(path, _GITHUB, _github_parser)


# -- Bedrock: prices --------------------------------------------------------------------

_Number = Decimal | int | float | str
_MILLION = Decimal(1_000_000)
_GEO_PREFIX = re.compile(r"^(?:us|eu|apac|jp|au|ca|in|us-gov|global)\.")


def _to_decimal(value: _Number, what: str) -> Decimal:
    try:
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ConfigError(f"{what}: not a number: {value!r}") from None
    if not number.is_finite() or number < 0:
        raise ConfigError(f"{what}: must be a finite number >= 0, not {value!r}")
    return number


@dataclass(frozen=True, slots=True)
class ModelRates:
    """A model's token prices in USD per million tokens."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cache_read_per_mtok: Decimal
    cache_write_per_mtok: Decimal

    @classmethod
    def of(cls, model: str, values: Sequence[_Number]) -> ModelRates:
        """From (input, output[, cache read, cache write]); cache rates default to input."""
        if isinstance(values, str | bytes) or len(values) not in (2, 3, 4):
            raise ConfigError(
                f"price override for {model!r}: expected (input, output, cache read, "
                f"cache write) USD per million tokens, got {values!r}"
            )
        numbers = [_to_decimal(value, f"price override for {model!r}") for value in values]
        numbers += [numbers[0]] * (4 - len(numbers))
        return cls(*numbers)

    def cost(self, tokens: _Tokens) -> Decimal:
        total = (
            tokens.input * self.input_per_mtok
            + tokens.output * self.output_per_mtok
            + tokens.cache_read * self.cache_read_per_mtok
            + tokens.cache_write * self.cache_write_per_mtok
        )
        return total / _MILLION


class PriceBook:
    """How Bedrock invocations are priced: per-model overrides, else genai-prices.

    *overrides* maps a model id, exactly as logged (``us.anthropic...``, an
    inference-profile ARN) or bare (``anthropic.claude-...``, which also covers
    its geo-prefixed and ARN forms), to ``(input, output, cache read, cache
    write)`` USD per million tokens; the cache rates may be left out (they then
    default to the input rate). *batch_discount* is the fraction taken off
    on-demand prices for batch inference (Bedrock charges 50%).
    """

    __slots__ = ("_overrides", "batch_discount")

    def __init__(
        self,
        overrides: Mapping[str, Sequence[_Number]] | None = None,
        *,
        batch_discount: _Number = Decimal("0.5"),
    ) -> None:
        rates = {model: ModelRates.of(model, values) for model, values in (overrides or {}).items()}
        self._overrides: Mapping[str, ModelRates] = MappingProxyType(rates)
        self.batch_discount = _to_decimal(batch_discount, "batch_discount")
        if self.batch_discount >= 1:
            raise ConfigError(f"batch_discount: must be below 1, not {batch_discount!r}")

    @property
    def overrides(self) -> Mapping[str, ModelRates]:
        return self._overrides

    def rates(self, model: str) -> ModelRates | None:
        """The override for *model*: exact id first, then its bare foundation-model id."""
        exact = self._overrides.get(model)
        if exact is not None:
            return exact
        return self._overrides.get(bare_model_id(model))


def bare_model_id(model: str) -> str:
    """The foundation-model id inside an inference-profile id or ARN.

    >>> bare_model_id("arn:aws:bedrock:us-east-1:1:inference-profile/us.amazon.nova-pro-v1:0")
    'amazon.nova-pro-v1:0'
    """
    tail = model.rsplit("/", 1)[-1] if model.startswith("arn:") else model
    return _GEO_PREFIX.sub("", tail)


def _catalogue_price(model: str, tokens: _Tokens, when: datetime) -> Decimal | None:
    """genai-prices' on-demand price of the invocation; None when it does not know
    the model. Bedrock ids resolve under genai-prices' provider ``aws``."""
    from genai_prices import Usage, calc_price

    usage = Usage(
        # genai-prices counts cache reads and writes inside input_tokens;
        # Bedrock logs them apart from inputTokenCount.
        input_tokens=tokens.input + tokens.cache_read + tokens.cache_write,
        output_tokens=tokens.output,
        cache_read_tokens=tokens.cache_read,
        cache_write_tokens=tokens.cache_write,
    )
    try:
        return calc_price(usage, model, provider_id="aws", genai_request_timestamp=when).total_price
    except LookupError:
        return None


def _genai_prices_version() -> str:
    from genai_prices import __version__

    return __version__


# -- Bedrock: invocation log --------------------------------------------------------------

_SCHEMA = "ModelInvocationLog"
_LOG_PREFIX = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][^ {]*\s+$")  # CloudWatch export
_MAX_NOTES = 5


@dataclass(frozen=True, slots=True)
class _Tokens:
    input: int  # input tokens not read from or written to the cache
    output: int
    cache_read: int
    cache_write: int


@dataclass(slots=True)
class SkipLog:
    """Lines of a log that were not model invocation records: a count, and the
    first few reasons (``"line 7: not JSON"``)."""

    count: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, note: str) -> None:
        self.count += 1
        if len(self.notes) < _MAX_NOTES:
            self.notes.append(note)


@dataclass(frozen=True, slots=True)
class CostFileResult:
    """The lines read from one cost file and how many records were skipped."""

    lines: tuple[CostLine, ...]
    skipped: int = 0
    skip_notes: tuple[str, ...] = ()


BedrockResult = CostFileResult
"""What read_bedrock_log returns: the priced lines and the skipped-record count."""


def _record_of(text: str) -> tuple[dict[str, Any] | None, str]:
    """The invocation record a log line holds, or None and why it is not one."""
    body = text
    if not body.startswith("{"):
        brace = body.find("{")
        if brace < 0 or not _LOG_PREFIX.match(body[:brace]):
            return None, "not JSON"
        body = body[brace:]
    try:
        record = json.loads(body)
    except ValueError:
        return None, "not JSON"
    if not isinstance(record, dict):
        return None, "not a JSON object"
    schema = record.get("schemaType")
    if not isinstance(schema, str) or schema.casefold() != _SCHEMA.casefold():
        return None, f"schemaType is {schema!r}, not {_SCHEMA!r}"
    model = record.get("modelId")
    if not isinstance(model, str) or not model.strip():
        return None, "no modelId"
    return record, ""


def _count(where: str, record: Mapping[str, Any], part: str, name: str) -> int | None:
    section = record.get(part)
    value = section.get(name) if isinstance(section, dict) else None
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{where}: {part}.{name} is not a token count: {value!r}")
    return value


def _instant_of(where: str, record: Mapping[str, Any]) -> datetime:
    text = record.get("timestamp")
    if not isinstance(text, str):
        raise InputError(f"{where}: the record has no timestamp")
    try:
        return parse_instant(text)
    except ValueError:
        raise InputError(f"{where}: unparsable timestamp: {_short(text)}") from None


def _is_batch(record: Mapping[str, Any]) -> bool:
    """AWS documents no batch marker in invocation logs: a record counts as batch
    inference when its operation names it (Bedrock's batch API is the
    ``ModelInvocationJob`` family)."""
    operation = str(record.get("operation") or "").casefold()
    return "batch" in operation or "invocationjob" in operation


def _price(where: str, model: str, tokens: _Tokens, when: datetime, book: PriceBook) -> Decimal:
    rates = book.rates(model)
    if rates is not None:
        return rates.cost(tokens)
    try:
        price = _catalogue_price(model, tokens, when)
    except ImportError:
        raise InputError(
            f"{where}: pricing model {model!r} needs the genai-prices package "
            "(pip install genai-prices) or a price override for it"
        ) from None
    if price is None:
        raise InputError(
            f"{where}: no price for model {model!r}: genai-prices "
            f"{_genai_prices_version()} does not know it; add a price override "
            "(USD per million tokens) for it"
        )
    return price


def _invocation_line(where: str, record: Mapping[str, Any], book: PriceBook, key: str) -> CostLine:
    model = str(record["modelId"]).strip()
    when = _instant_of(where, record)
    logged = [
        _count(where, record, "input", "inputTokenCount"),
        _count(where, record, "output", "outputTokenCount"),
        _count(where, record, "input", "cacheReadInputTokenCount"),
        _count(where, record, "input", "cacheWriteInputTokenCount"),
    ]
    tokens = _Tokens(*(count or 0 for count in logged))
    amount = _price(where, model, tokens, when, book)
    if _is_batch(record):
        amount *= 1 - book.batch_discount
    metadata = record.get("requestMetadata")
    return CostLine(
        source="bedrock-log",
        line_key=key,
        day=when.date(),
        service="Amazon Bedrock",
        amount=amount,
        currency="USD",
        category="Usage",
        region=_str_or_none(record.get("region")),
        account=_str_or_none(record.get("accountId")),
        model=model,
        input_tokens=logged[0],
        output_tokens=logged[1],
        cache_read_tokens=logged[2],
        cache_write_tokens=logged[3],
        tags=_tags_of(metadata) if isinstance(metadata, dict) else (),
    )


def _str_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _log_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, stripped text) of each non-blank line; InputError on read errors."""
    with _open_text(path) as stream:
        try:
            for number, text in enumerate(stream, start=1):
                stripped = text.strip()
                if stripped:
                    yield number, stripped
        except _READ_ERRORS as exc:
            raise _read_error(path, exc) from None


def iter_bedrock_log(
    path: Path,
    *,
    strict: bool = False,
    prices: PriceBook | None = None,
    skipped: SkipLog | None = None,
) -> Iterator[CostLine]:
    """Stream :func:`read_bedrock_log`'s lines; skipped records go to *skipped*."""
    book = prices if prices is not None else PriceBook()
    skips = skipped if skipped is not None else SkipLog()
    keys = _Keys()
    found = records = 0
    for number, text in _log_lines(path):
        found += 1
        record, reason = _record_of(text)
        if record is None:
            if strict:
                raise InputError(f"{path}:{number}: not a model invocation record: {reason}")
            skips.add(f"line {number}: {reason}")
            continue
        records += 1
        request = _str_or_none(record.get("requestId"))
        key = keys.given(request) if request else keys.of_content([text])
        yield _invocation_line(f"{path}:{number}", record, book, key)
    if not found:
        raise InputError(f"{path}: empty file, not a Bedrock model invocation log")
    if not records:
        raise InputError(
            f"{path}: no model invocation records in {found} line(s) "
            f"({skips.notes[0] if skips.notes else 'none'}): not a Bedrock invocation log?"
        )


def read_bedrock_log(
    path: Path, *, strict: bool = False, prices: PriceBook | None = None
) -> BedrockResult:
    """Price every record of an Amazon Bedrock model invocation log (JSON lines,
    optionally gzip; CloudWatch exports' leading timestamps are tolerated).

    A line that is not a model invocation record (not JSON, another schemaType,
    no modelId) is skipped and counted, or with *strict* raises InputError naming
    its line. Each record is priced by its tokens (``input.inputTokenCount``,
    ``output.outputTokenCount``, ``input.cacheReadInputTokenCount``,
    ``input.cacheWriteInputTokenCount``; Bedrock counts cached tokens apart from
    inputTokenCount) at the price of the day it ran: a *prices* override for its
    model, else genai-prices (provider ``aws``, which resolves Bedrock ids with
    or without a ``us.``/``eu.``/``global.`` profile prefix, and profile ARNs).
    A model neither knows is an InputError. Batch records get the price book's
    batch discount.

    ``line_key`` is the requestId; ``tags`` the requestMetadata; ``model`` the
    logged modelId; ``region`` and ``account`` the record's own.
    """
    skips = SkipLog()
    lines = tuple(iter_bedrock_log(path, strict=strict, prices=prices, skipped=skips))
    return CostFileResult(lines=lines, skipped=skips.count, skip_notes=tuple(skips.notes))


# -- dispatch -------------------------------------------------------------------------


def iter_cost_file(
    path: Path,
    fmt: str,
    *,
    strict: bool = False,
    prices: PriceBook | None = None,
    skipped: SkipLog | None = None,
) -> Iterator[CostLine]:
    """Stream the lines of a cost file of format *fmt* (one of :data:`FORMATS`).

    *strict*, *prices* and *skipped* apply to ``bedrock-log``; the table formats
    skip nothing (every row is a line or an error).
    """
    if fmt == "focus":
        return read_focus(path)
    if fmt == "cur":
        return read_cur(path)
    if fmt == "github-usage":
        return read_github_usage(path)
    if fmt == "bedrock-log":
        return iter_bedrock_log(path, strict=strict, prices=prices, skipped=skipped)
    raise InputError(f"unknown cost format {fmt!r}: expected one of {', '.join(FORMATS)}")


def read_cost_file(
    path: Path, fmt: str, *, strict: bool = False, prices: PriceBook | None = None
) -> CostFileResult:
    """Read a whole cost file of format *fmt* (focus, cur, github-usage,
    bedrock-log); InputError for an unknown format, a missing or empty file,
    missing columns, or an unparsable amount or date (naming its row or line).

    Holds every line in memory; use :func:`iter_cost_file` to stream a big file.
    """
    skips = SkipLog()
    lines = tuple(iter_cost_file(path, fmt, strict=strict, prices=prices, skipped=skips))
    return CostFileResult(lines=lines, skipped=skips.count, skip_notes=tuple(skips.notes))


def price_book_from_config(
    table: Mapping[str, Mapping[str, Any]], *, batch_discount: float = 0.5
) -> PriceBook:
    """A PriceBook from pilothouse.toml's ``cost.model_prices`` table.

    Each model maps to ``{input, output, cache_read, cache_write}`` in USD per
    million tokens; the cache prices default to the input price.
    """
    overrides: dict[str, list[Any]] = {}
    for model, prices in table.items():
        try:
            entry = [prices["input"], prices["output"]]
        except KeyError as exc:
            raise ConfigError(
                f"cost.model_prices.{model}: needs input and output ({exc})"
            ) from None
        entry += [
            prices.get("cache_read", prices["input"]),
            prices.get("cache_write", prices["input"]),
        ]
        overrides[model] = entry
    return PriceBook(overrides, batch_discount=batch_discount)


def token_pricer(book: PriceBook) -> Callable[[str, CostLine], Decimal | None]:
    """Price a line's tokens as if another model had served them (for what-ifs).

    Overrides first, then genai-prices; None for a model neither knows, or a line
    without token counts.
    """

    def price(model: str, line: CostLine) -> Decimal | None:
        tokens = _Tokens(
            input=line.input_tokens or 0,
            output=line.output_tokens or 0,
            cache_read=line.cache_read_tokens or 0,
            cache_write=line.cache_write_tokens or 0,
        )
        if not (tokens.input or tokens.output or tokens.cache_read or tokens.cache_write):
            return None
        rates = book.rates(model)
        if rates is not None:
            return rates.cost(tokens)
        when = datetime(line.day.year, line.day.month, line.day.day, 12, tzinfo=UTC)
        try:
            return _catalogue_price(model, tokens, when)
        except ImportError:
            return None

    return price
