"""Amazon Bedrock model invocation logs (JSON lines, optionally gzip), priced per record.

Bad input raises :class:`~pilothouse.errors.InputError` naming the file and the
line number.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pilothouse.errors import InputError
from pilothouse.model import CostLine
from pilothouse.sources.costs._tables import _READ_ERRORS, _Keys, _open_text, _read_error
from pilothouse.sources.costs._values import _short, _tags_of, parse_instant
from pilothouse.sources.costs.prices import (
    PriceBook,
    _catalogue_price,
    _genai_prices_version,
    _Tokens,
)

_SCHEMA = "ModelInvocationLog"
_LOG_PREFIX = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][^ {]*\s+$")  # CloudWatch export
_MAX_NOTES = 5


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
        key = keys.given(request) if request else keys.of_content([("record", text)])
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
