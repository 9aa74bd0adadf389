"""Tables for the cost readers: CSV, gzip CSV and Parquet rows, headers, cells, line keys.

CSV files may be gzip-compressed (detected by content, as AWS delivers them);
Parquet files (by suffix or content) need the optional ``pyarrow`` package.

Bad input raises :class:`~pilothouse.errors.InputError` with a one-line message
naming the file and the data row (1-based, blank rows not counted, with the
physical line).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import importlib
import io
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from itertools import product
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from pilothouse.errors import InputError
from pilothouse.model import CostLine
from pilothouse.sources.costs._values import _json_tags, _short, parse_day, parse_decimal

_MAX_KEY = 200  # the store's line_key holds 255 characters; longer ids are hashed
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"


# -- shared: line keys --------------------------------------------------------------


class _Keys:
    """Line keys for one file.

    A provider's own id is kept (hashed when too long for the store). A row
    without one is keyed by the sha256 of its non-empty cells *by column name*
    (sorted), so the same export with its columns in another order, or with an
    extra empty column, keys the same; identical rows are separate charges
    (FOCUS's own examples repeat rows), so the n-th copy gets ``#n``. Keys depend
    only on the file's content, so ingesting it again adds nothing.
    """

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    @staticmethod
    def given(key: str) -> str:
        if len(key) <= _MAX_KEY:
            return key
        return "sha256:" + hashlib.sha256(key.encode()).hexdigest()

    def of_content(self, named: Iterable[tuple[str, str]]) -> str:
        """The key of a row from its (column name, cell) pairs, in any order."""
        pairs = sorted((_norm(name), cell.strip()) for name, cell in named if cell.strip())
        digest = hashlib.sha256(json.dumps(pairs, ensure_ascii=False).encode()).hexdigest()
        count = self._seen.get(digest, 0) + 1
        self._seen[digest] = count
        return digest if count == 1 else f"{digest}#{count}"


# -- shared: tables (CSV, gzip CSV, Parquet) -------------------------------------------


def _norm(name: str) -> str:
    """A column name reduced to lowercase letters and digits, so FOCUS's
    ``ChargePeriodStart``, CUR 1's ``lineItem/UsageStartDate`` and CUR 2's
    ``line_item_usage_start_date`` each match their spelling in any dialect."""
    return re.sub(r"[^0-9a-z]", "", name.casefold())


class _Row(NamedTuple):  # a tuple: one is made per row
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


# zlib.error: a gzip stream corrupt inside (BadGzipFile, an OSError, covers the header).
_READ_ERRORS = (csv.Error, UnicodeDecodeError, OSError, EOFError, zlib.error)


def _read_error(path: Path, exc: Exception) -> InputError:
    """The InputError for one of _READ_ERRORS met while reading *path*."""
    if isinstance(exc, UnicodeDecodeError):
        return InputError(f"{path}: not UTF-8 text (byte {exc.start}): is it the right file?")
    if isinstance(exc, csv.Error):
        return InputError(f"{path}: malformed CSV: {exc}")
    if isinstance(exc, zlib.error | EOFError):
        return InputError(f"{path}: corrupt or truncated gzip data: {exc}")
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
                if any(map(str.strip, cells)):  # not blank; stops at the first cell that is not
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


# A cell read as no value: empty, or NULL in any letter case.
_NULLS = frozenset(
    {"", *("".join(spelling) for spelling in product(*zip("null", "NULL", strict=True)))}
)


class _Pick:
    """Several cells of a row by position, read at once (a header's positions: every
    row has them, as _lines_of checks); an absent column (None) reads as None."""

    __slots__ = ("get", "absent")

    def __init__(self, positions: Sequence[int | None]) -> None:
        self.absent = [i for i, p in enumerate(positions) if p is None]
        present = [0 if p is None else p for p in positions]  # absent: any cell, then None
        self.get: Callable[[Sequence[str]], Sequence[str]] = (
            itemgetter(*present)
            if len(present) > 1  # itemgetter of one position returns a cell, not a tuple
            else lambda cells: [cells[p] for p in present]
        )


class _Cells:
    """One data row, read by column position; errors name the file, row and column."""

    __slots__ = ("_path", "_row", "_names", "_cells")

    def __init__(self, path: Path, row: _Row, names: Sequence[str]) -> None:
        self._path = path
        self._row = row
        self._names = names
        self._cells = row.cells

    @property
    def named(self) -> Iterator[tuple[str, str]]:
        """(column name, cell) pairs: what a row without an id is keyed by."""
        return zip(self._names, self._row.cells, strict=False)

    def text(self, position: int | None) -> str | None:
        """The stripped cell; None when the column is absent, empty or NULL."""
        cells = self._cells
        if position is None or position >= len(cells):
            return None
        value = cells[position].strip()
        if not value or (len(value) == 4 and value.casefold() == "null"):
            return None
        return value

    def texts(self, pick: _Pick) -> list[str | None]:
        """The stripped cells *pick* names, each None when its column is absent, empty
        or NULL: ``[self.text(p) for p in positions]``, with the row's many cells read
        by C code (``itemgetter``, ``map``) instead of one call each.

        Positions are the header's: rows shorter than the header never get here."""
        stripped = map(str.strip, pick.get(self._cells))
        found = [None if value in _NULLS else value for value in stripped]
        for i in pick.absent:
            found[i] = None
        return found

    def decimal(self, position: int | None) -> Decimal | None:
        return self.as_decimal(self.text(position), position)

    def as_decimal(self, value: str | None, position: int | None) -> Decimal | None:
        """The number in *value*, the text of this row's cell at *position*."""
        if value is None:
            return None
        try:
            return parse_decimal(value)
        except ValueError:
            raise self.fail(
                f"unparsable number in {self._name(position)}: {_short(value)}"
            ) from None

    def day(self, position: int | None) -> date | None:
        return self.as_day(self.text(position), position)

    def as_day(self, value: str | None, position: int | None) -> date | None:
        """The day in *value*, the text of this row's cell at *position*."""
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
        cells = _Cells(path, row, columns.names)
        if len(row.cells) < len(columns.names):
            # A row cut short (a truncated download, a hand edit) would otherwise
            # read its missing cells as empty: a charge without its service or id.
            raise cells.fail(
                f"{len(row.cells)} cells where the header has {len(columns.names)}: "
                "is the row cut short?"
            )
        yield parse(cells)


# -- shared: cells several formats read ------------------------------------------------


def _cell_tags(cells: _Cells, position: int | None) -> tuple[tuple[str, str], ...]:
    return _text_tags(cells, cells.text(position))


def _text_tags(cells: _Cells, text: str | None) -> tuple[tuple[str, str], ...]:
    """The tags in *text*, the Tags cell of *cells*."""
    if text is None:
        return ()
    try:
        return _json_tags(text)
    except ValueError:
        raise cells.fail(f"Tags is not a JSON object: {_short(text)}") from None


def _first_text(cells: _Cells, positions: Sequence[int | None]) -> str | None:
    for position in positions:
        value = cells.text(position)
        if value is not None:
            return value
    return None
