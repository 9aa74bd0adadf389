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

The readers live in :mod:`.focus`, :mod:`.cur`, :mod:`.github_usage` and
:mod:`.bedrock` (priced by :mod:`.prices`), on the shared table and value
parsing of ``_tables`` and ``_values``; this package re-exports their public
names and dispatches on a format name.
"""

from __future__ import annotations

# The Parquet reader imports pyarrow through importlib.import_module; keep the name
# reachable here so ``pilothouse.sources.costs.importlib`` still resolves.
import importlib  # noqa: F401
from collections.abc import Iterator
from pathlib import Path

from pilothouse.errors import InputError
from pilothouse.model import CostLine
from pilothouse.sources.costs._values import parse_day, parse_decimal, parse_instant
from pilothouse.sources.costs.bedrock import (
    BedrockResult,
    CostFileResult,
    SkipLog,
    iter_bedrock_log,
    read_bedrock_log,
)
from pilothouse.sources.costs.cur import read_cur
from pilothouse.sources.costs.focus import NO_CURRENCY as NO_CURRENCY
from pilothouse.sources.costs.focus import read_focus
from pilothouse.sources.costs.github_usage import read_github_usage
from pilothouse.sources.costs.prices import ModelRates, PriceBook, bare_model_id
from pilothouse.sources.costs.prices import price_book_from_config as price_book_from_config
from pilothouse.sources.costs.prices import token_pricer as token_pricer

__all__ = [
    "FORMATS",
    "REPLACES_PERIODS",
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
# Sources whose every delivery holds a billing period's whole report: AWS re-delivers
# a CUR period until it is closed, and may re-key its line items, so a period
# delivered again replaces the earlier delivery's lines instead of adding to them.
# (FOCUS exports are not always whole periods, so FOCUS lines are only added.)
REPLACES_PERIODS: frozenset[str] = frozenset({"cur"})


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
