"""Store writes and reads for the cost ledger."""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import MAX_PREC, Context, Decimal, Inexact, Rounded
from itertools import chain
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    Dialect,
    Float,
    and_,
    case,
    cast,
    delete,
    func,
    select,
    update,
)

from pilothouse.model import CostLine
from pilothouse.store import keyed
from pilothouse.store.columns import INT64, Int64, Name
from pilothouse.store.schema import alerts_sent, cost_lines, jobs, repositories, runs

if TYPE_CHECKING:  # the analysis layer is not imported by every writer
    from pilothouse.analysis.cost_forecast import DailySpend

BATCH = 1000

# Amounts are kept twice: exact text, and as amount_units + amount_frac / 10**SCALE,
# integers the database sums exactly (SQLite and PostgreSQL alike). Twelve decimals
# cover what billing exports write (CUR prices to 10, FOCUS samples to 11); an
# amount with more, or beyond int64, keeps NULL parts and is summed from its text.
SCALE = 12
_ONE = 10**SCALE
_EXACT = Context(prec=60, traps=[Inexact, Rounded])  # scaling never rounds silently
_UNROUNDED = Context(prec=MAX_PREC)  # sums of the few lines beyond the scale


def exact_parts(amount: Decimal | str) -> tuple[int, int] | tuple[None, None]:
    """(floor(amount), the rest in units of 10**-SCALE), or (None, None) when the
    amount is not a whole number of those units or its floor does not fit int64.

    >>> exact_parts("-1.25"), exact_parts("0.0000000000001")
    ((-2, 750000000000), (None, None))
    """
    # Plain notation with at most SCALE decimals (what exports write, and a Decimal's
    # str of such an amount) scales by moving the point: int() of the digits, no Decimal.
    whole, _dot, fraction = (amount if isinstance(amount, str) else str(amount)).partition(".")
    if len(fraction) <= SCALE:
        try:
            return _split(int(whole + fraction.ljust(SCALE, "0")))
        except ValueError:  # an exponent, NaN, Infinity...: Decimal reads them
            pass
    value = Decimal(amount)
    if not value.is_finite() or value.adjusted() > 19:  # 10**20 and more: beyond int64
        return None, None
    try:
        scaled = _EXACT.scaleb(value, SCALE)
    except (Inexact, Rounded):  # more digits than _EXACT keeps
        return None, None
    whole_units = scaled.to_integral_value()
    if scaled != whole_units:
        return None, None
    return _split(int(whole_units))


def _split(scaled: int) -> tuple[int, int] | tuple[None, None]:
    """units + frac / 10**SCALE of *scaled* units of 10**-SCALE, when units fit int64."""
    units, frac = divmod(scaled, _ONE)
    if not INT64[0] <= units <= INT64[1]:
        return None, None
    return units, frac


def exact_amount(units: int, frac: int) -> Decimal:
    """The Decimal of units + frac / 10**SCALE, exactly (no context rounding)."""
    return Decimal(f"{units * _ONE + frac}E-{SCALE}")


@functools.lru_cache(maxsize=4096)  # lines share their few tag sets
def _tags_text(tags: tuple[tuple[str, str], ...]) -> str:
    return json.dumps(dict(tags), sort_keys=True) if tags else "{}"


# The driver-level insert's columns: first those a line's attributes fill as they are,
# then those derived from it (_columns' order).
_AS_IS = ("source", "line_key", "service", "category", "resource", "region", "account", "sku",
          "unit", "repository", "workflow", "model", "input_tokens", "output_tokens",
          "cache_read_tokens", "cache_write_tokens")  # fmt: skip
_NAMES = (*_AS_IS, "day", "amount", "currency", "quantity", "tags", "billing_period",
          "amount_units", "amount_frac")  # fmt: skip
_COLUMNS = [cost_lines.c[name] for name in _NAMES]
assert {*_NAMES, "id"} == {column.name for column in cost_lines.columns}, "_columns fills all"
_TEXTS = [i for i, c in enumerate(_COLUMNS) if isinstance(c.type, Name)]
_KEYS = [(i, c.type.limit) for i, c in enumerate(_COLUMNS)
         if isinstance(c.type, Name) and c.type.limit is not None]  # fmt: skip
_INTS = [i for i, c in enumerate(_COLUMNS) if isinstance(c.type, Int64)]

Column = Sequence[Any]  # one column's values in a batch of rows


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _text(number: Decimal | None) -> str | None:
    return None if number is None else str(number)


def _columns(lines: Sequence[CostLine]) -> list[Column]:
    """The lines' values column by column in _NAMES order, as the column types bind
    them (dates as ISO text, which both backends read as dates). Built a column at a
    time, mostly by C code (a CostLine is a tuple: zip transposes a batch)."""
    fields = dict(zip(CostLine._fields, zip(*lines, strict=True), strict=True))
    amounts = list(map(str, fields["amount"]))
    units, fracs = zip(*map(exact_parts, amounts), strict=True)
    derived = (
        list(map(_iso, fields["day"])), amounts, list(map(str.upper, fields["currency"])),
        list(map(_text, fields["quantity"])), list(map(_tags_text, fields["tags"])),
        list(map(_iso, fields["billing_period"])), units, fracs,
    )  # fmt: skip
    return [*(fields[name] for name in _AS_IS), *derived]


def _plain(columns: Sequence[Column]) -> bool:
    """True when no column type check can refuse any value of *columns* (in _NAMES
    order): their text is ASCII without NUL, their keys fit, their integers are in
    int64 (what store/columns.py checks). A few C-level passes per batch, not a call
    per row."""
    text = "".join(chain.from_iterable(filter(None, columns[i]) for i in _TEXTS))
    if not text.isascii() or "\x00" in text:
        return False
    if any(max(map(len, filter(None, columns[i])), default=0) > limit for i, limit in _KEYS):
        return False
    numbers = list(chain.from_iterable(filter(None, columns[i]) for i in _INTS))  # 0 fits
    return not numbers or (INT64[0] <= min(numbers) and max(numbers) <= INT64[1])


def _check(columns: Sequence[Column], dialect: Dialect) -> None:
    """UnstorableValue naming the first field of a batch's *columns* that the column
    types refuse."""
    if _plain(columns):
        return
    for row in zip(*columns, strict=True):
        if not _plain([(value,) for value in row]):
            for column, value in zip(_COLUMNS, row, strict=True):
                if isinstance(column.type, Name | Int64):
                    column.type.process_bind_param(value, dialect)


def _mark(connection: Connection) -> str:
    """The driver's positional parameter marker (sqlite3: ?, psycopg: %s)."""
    return "?" if connection.dialect.paramstyle == "qmark" else "%s"


@functools.lru_cache(maxsize=64)
def _insert_statement(mark: str, names: tuple[str, ...]) -> str:
    return (
        f"INSERT INTO cost_lines ({', '.join(names)}) VALUES ({', '.join([mark] * len(names))}) "
        "ON CONFLICT (source, line_key) DO NOTHING"
    )


def _insert(connection: Connection, lines: Sequence[CostLine]) -> int:
    """INSERT through the driver's executemany, past SQLAlchemy's per-value binding
    (most of an ingest's time); the values are checked alike first. Lines a concurrent
    ingest stored first are left alone (ON CONFLICT, both dialects); how many were new.

    Columns NULL on every line of the batch are left out of the statement (a billing
    export fills none of the LLM columns, a usage log few of the billing ones): binding
    fewer values is a third of the insert's time."""
    if not lines:
        return 0
    columns = _columns(lines)
    _check(columns, connection.dialect)
    used = [i for i, column in enumerate(columns) if column.count(None) < len(column)]
    statement = _insert_statement(_mark(connection), tuple(_NAMES[i] for i in used))
    values = list(zip(*(columns[i] for i in used), strict=True))
    return int(connection.exec_driver_sql(statement, values).rowcount)


class CostIngest(NamedTuple):
    """What one ingest did to the ledger."""

    new: int
    known: int  # already stored (a re-delivered period refreshes their values)
    removed: int = 0  # lines of an earlier delivery of a period, absent from the new one


def _by_source(keys: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for source, key in keys:
        found.setdefault(source, []).append(key)
    return found


def _known_keys(connection: Connection, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (source, line key) pairs of *keys* that are stored."""
    known: set[tuple[str, str]] = set()
    mark = _mark(connection)
    for source, some in _by_source(keys).items():
        # Driver-level, like _insert: SQLAlchemy's expanding IN costs more than the query.
        query = (
            f"SELECT line_key FROM cost_lines WHERE source = {mark} "
            f"AND line_key IN ({', '.join([mark] * len(some))})"
        )
        found = connection.exec_driver_sql(query, (source, *some)).scalars()
        known.update((source, key) for key in found)
    return known


# While a billing period is being replaced, its earlier lines are set aside under
# their source plus this suffix (inside the ingest's transaction, so no reader sees it).
_ASIDE = "~earlier"


def _set_aside(connection: Connection, source: str, period: date) -> None:
    where = and_(cost_lines.c.source == source, cost_lines.c.billing_period == period)
    connection.execute(update(cost_lines).where(where).values(source=source + _ASIDE))


def _drop_aside(connection: Connection, keys: Iterable[tuple[str, str]]) -> int:
    """Remove these set-aside lines (re-delivered now); how many there were."""
    removed = 0
    for source, some in _by_source((source + _ASIDE, key) for source, key in keys).items():
        where = and_(cost_lines.c.source == source, cost_lines.c.line_key.in_(some))
        removed += connection.execute(delete(cost_lines).where(where)).rowcount
    return removed


def _flush(
    connection: Connection,
    pending: dict[tuple[str, str], CostLine],
    *,
    aside: bool = True,
    look: bool = True,
) -> tuple[int, bool]:
    """Insert the lines not stored yet; how many were not stored before this ingest,
    and whether all were. *aside*: whether a period was set aside (else there is
    nothing to drop); *look*: look up which lines are stored before inserting (else
    the insert's ON CONFLICT alone skips them)."""
    known = _known_keys(connection, pending) if look or aside else None
    # in key order: concurrent ingests take their locks alike, so never deadlock
    fresh = sorted(key for key in pending if key not in known) if known else sorted(pending)
    redelivered = _drop_aside(connection, fresh) if aside else 0
    # A concurrent ingest of the same lines may insert some first: those count as known.
    inserted = _insert(connection, [pending[key] for key in fresh])
    every = inserted == len(pending)
    pending.clear()
    return inserted - redelivered, every


def add_lines(
    connection: Connection, lines: Iterable[CostLine], *, replacing: Collection[str] = ()
) -> CostIngest:
    """Store lines not stored before. Streams in batches.

    For a source in *replacing*, each billing period the lines belong to replaces
    its earlier delivery: lines the earlier one stored and this one lacks are
    removed (AWS re-delivers a period's whole report, and may re-key its line
    items), lines in both take this delivery's values.
    """
    pending: dict[tuple[str, str], CostLine] = {}
    periods: set[tuple[str, date]] = set()
    seen = new = 0
    # Once a batch was all new (a fresh export), the next ones skip the look-up of
    # stored keys; a batch with stored lines turns it back on, so an export ingested
    # again does not try, and on PostgreSQL spend a sequence number, for every line.
    look = True
    for line in lines:
        seen += 1
        if line.source in replacing and line.billing_period is not None:
            period = (line.source, line.billing_period)
            if period not in periods:
                added, every = _flush(connection, pending)
                new, look = new + added, not every
                _set_aside(connection, line.source, line.billing_period)
                periods.add(period)
        pending[(line.source, line.line_key)] = line
        if len(pending) >= BATCH:
            added, every = _flush(connection, pending, aside=bool(periods), look=look)
            new, look = new + added, not every
    new += _flush(connection, pending, aside=bool(periods), look=look)[0]
    removed = 0
    for source, start in sorted(periods):
        where = and_(cost_lines.c.source == source + _ASIDE, cost_lines.c.billing_period == start)
        removed += connection.execute(delete(cost_lines).where(where)).rowcount
    return CostIngest(new, seen - new, removed)


class StoredRange(NamedTuple):
    """What the ledger holds: its line count and first and last days."""

    lines: int
    first: date | None
    last: date | None


def stored_range(connection: Connection) -> StoredRange:
    query = select(func.count(), func.min(cost_lines.c.day), func.max(cost_lines.c.day))
    count, first, last = connection.execute(query).one()
    return StoredRange(count, first, last)


def daily_spend(connection: Connection, since: date, until: date) -> DailySpend:
    """Spend per currency, source and day, summed by the database (as floats: for
    forecasting, not for the ledger's exact sums)."""
    spent = func.sum(cast(cost_lines.c.amount, Float))
    query = (
        select(cost_lines.c.currency, cost_lines.c.source, cost_lines.c.day, spent)
        .where(cost_lines.c.day >= since, cost_lines.c.day <= until)
        .group_by(cost_lines.c.currency, cost_lines.c.source, cost_lines.c.day)
    )
    found: DailySpend = {}
    for currency, source, day, amount in connection.execute(query):
        found.setdefault(currency, {}).setdefault(source, {})[day] = float(amount or 0.0)
    return found


def usage_report_days(
    connection: Connection, since: date, until: date
) -> set[tuple[date, str | None]]:
    """(day, repository) pairs GitHub's usage report covers."""
    query = (
        select(cost_lines.c.day, cost_lines.c.repository)
        .where(cost_lines.c.source == "github-usage")
        .where(cost_lines.c.day >= since, cost_lines.c.day <= until)
        .distinct()
    )
    return {(day, repository) for day, repository in connection.execute(query)}


class CostSum(NamedTuple):
    """Lines summed by the database: *line* carries their shared attributes (those
    asked for; the rest empty) and the exact sum of their amounts."""

    line: CostLine
    lines: int


# What lines may be grouped by, beyond currency, day and source.
GROUPABLE = ("service", "workflow", "model", "tags", "resource", "repository", "input_tokens",
             "output_tokens", "cache_read_tokens", "cache_write_tokens")  # fmt: skip


def sum_lines(
    connection: Connection, since: date, until: date, by: Sequence[str], *, signed: bool = False
) -> list[CostSum]:
    """Spend per currency, day, source and the columns *by*, summed exactly in SQL.

    With *signed*, credits, zero lines and charges are summed apart, so a group
    changes as a whole under a scenario that re-prices its lines. Lines whose amount
    has no exact integer parts (more than SCALE decimals) are added from their text.
    """
    unknown = set(by) - set(GROUPABLE)
    if unknown:
        raise ValueError(f"cannot group cost lines by {sorted(unknown)}")
    keys: list[ColumnElement[Any]] = [
        cost_lines.c[name] for name in ("currency", "day", "source", *by)
    ]
    units, frac = cost_lines.c.amount_units, cost_lines.c.amount_frac
    if signed:
        keys.append(case((units < 0, -1), (and_(units == 0, frac == 0), 0), else_=1))
    window = (cost_lines.c.day >= since, cost_lines.c.day <= until)
    summed = (
        select(*keys, func.sum(units), func.sum(frac), func.count())
        .where(*window, units.is_not(None))
        .group_by(*keys)
    )
    found: dict[tuple[Any, ...], list[Any]] = {}
    for *key, total_units, total_frac, count in connection.execute(summed):
        group = (*key, 0) if not signed else tuple(key)
        found[group] = [exact_amount(int(total_units), int(total_frac)), count]
    plain = keys[:-1] if signed else keys
    loose = select(*plain, cost_lines.c.amount).where(*window, units.is_(None))
    for *key, text in connection.execute(loose):
        amount = Decimal(text)
        group = (*key, (amount > 0) - (amount < 0) if signed else 0)
        entry = found.setdefault(group, [ZERO, 0])
        entry[0] = _UNROUNDED.add(entry[0], amount)
        entry[1] += 1
    return [CostSum(_summed_line(key, by, amount), count) for key, (amount, count) in found.items()]


ZERO = Decimal(0)


def _summed_line(key: Sequence[Any], by: Sequence[str], amount: Decimal) -> CostLine:
    currency, day, source, *values = key[:-1]
    attributes = dict(zip(by, values, strict=True))
    tags = attributes.pop("tags", None)
    return CostLine(
        source=source,
        line_key="",
        day=day,
        service=attributes.pop("service", None) or "",
        amount=amount,
        currency=currency,
        tags=tuple(sorted(json.loads(tags or "{}").items())),
        **attributes,
    )


def read_lines(connection: Connection, since: date, until: date) -> Iterator[CostLine]:
    """Every stored line of the window, one by one (to inspect a ledger: reports read
    `sum_lines`)."""
    query = (
        select(cost_lines)
        .where(cost_lines.c.day >= since, cost_lines.c.day <= until)
        .order_by(cost_lines.c.day, cost_lines.c.id)
    )
    for row in connection.execute(query).mappings():
        yield CostLine(
            source=row["source"],
            line_key=row["line_key"],
            day=row["day"],
            service=row["service"],
            amount=Decimal(row["amount"]),
            currency=row["currency"],
            category=row["category"],
            resource=row["resource"],
            region=row["region"],
            account=row["account"],
            sku=row["sku"],
            quantity=None if row["quantity"] is None else Decimal(row["quantity"]),
            unit=row["unit"],
            repository=row["repository"],
            workflow=row["workflow"],
            model=row["model"],
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"],
            cache_read_tokens=row["cache_read_tokens"],
            cache_write_tokens=row["cache_write_tokens"],
            tags=tuple(sorted(json.loads(row["tags"] or "{}").items())),
        )


def finished_jobs(
    connection: Connection, since: datetime
) -> Iterator[tuple[str, str | None, str, str, datetime, datetime]]:
    """(job key, workflow, repository, runner labels JSON, started, finished) of timed jobs."""
    synced = jobs.alias("synced")
    query = (
        select(
            jobs.c.job_key,
            runs.c.workflow,
            repositories.c.full_name,
            jobs.c.runner_labels,
            jobs.c.started_at,
            jobs.c.finished_at,
        )
        .join(runs, runs.c.id == jobs.c.run_id)
        .join(repositories, repositories.c.id == runs.c.repository_id)
        .where(
            jobs.c.started_at.is_not(None),
            jobs.c.finished_at.is_not(None),
            jobs.c.started_at >= since,
            # A JUnit report's placeholder job is priced only once a sync adopts it
            # into the real job, unless the store has no synced jobs for that run.
            ~jobs.c.job_key.startswith("junit:")
            | ~select(synced.c.id)
            .where(synced.c.run_id == runs.c.id, ~synced.c.job_key.startswith("junit:"))
            .exists(),
        )
    )
    for row in connection.execute(query):
        yield (row[0], row[1], row[2], row[3], row[4], row[5])


def sent_alerts(connection: Connection, keys: Iterable[str]) -> set[str]:
    wanted = list(keys)
    if not wanted:
        return set()
    query = select(alerts_sent.c.alert_key).where(alerts_sent.c.alert_key.in_(wanted))
    return set(connection.execute(query).scalars())


def mark_sent(connection: Connection, key: str, at: datetime) -> None:
    keyed.insert_new(connection, alerts_sent, {"alert_key": key, "sent_at": at}, ("alert_key",))
