"""Store writes and reads for the cost ledger."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Connection, Float, and_, cast, delete, func, select, update

from pilothouse.analysis.cost_forecast import DailySpend
from pilothouse.model import CostLine
from pilothouse.store import keyed
from pilothouse.store.schema import alerts_sent, cost_lines, jobs, repositories, runs

BATCH = 1000


def _row(line: CostLine) -> dict[str, Any]:
    return {
        "source": line.source,
        "line_key": line.line_key,
        "day": line.day,
        "service": line.service,
        "amount": str(line.amount),
        "currency": line.currency.upper(),
        "category": line.category,
        "resource": line.resource,
        "region": line.region,
        "account": line.account,
        "sku": line.sku,
        "quantity": None if line.quantity is None else str(line.quantity),
        "unit": line.unit,
        "repository": line.repository,
        "workflow": line.workflow,
        "model": line.model,
        "input_tokens": line.input_tokens,
        "output_tokens": line.output_tokens,
        "cache_read_tokens": line.cache_read_tokens,
        "cache_write_tokens": line.cache_write_tokens,
        "tags": json.dumps(dict(line.tags), sort_keys=True),
        "billing_period": line.billing_period,
    }


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
    for source, some in _by_source(keys).items():
        where = and_(cost_lines.c.source == source, cost_lines.c.line_key.in_(some))
        query = select(cost_lines.c.line_key).where(where)
        known.update((source, key) for key in connection.execute(query).scalars())
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


def _flush(connection: Connection, pending: dict[tuple[str, str], CostLine]) -> int:
    """Insert the lines not stored yet; how many were not stored before this ingest."""
    known = _known_keys(connection, pending)
    fresh = sorted(key for key in pending if key not in known)  # in key order: no deadlock
    redelivered = _drop_aside(connection, fresh)
    # A concurrent ingest of the same lines may insert some first: those count as known.
    inserted = keyed.insert_new_many(
        connection, cost_lines, [_row(pending[key]) for key in fresh], ("source", "line_key")
    )
    pending.clear()
    return inserted - redelivered


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
    for line in lines:
        seen += 1
        period = (line.source, line.billing_period)
        if line.source in replacing and period[1] is not None and period not in periods:
            new += _flush(connection, pending)
            _set_aside(connection, line.source, period[1])
            periods.add((line.source, period[1]))
        pending[(line.source, line.line_key)] = line
        if len(pending) >= BATCH:
            new += _flush(connection, pending)
    new += _flush(connection, pending)
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


def read_lines(connection: Connection, since: date, until: date) -> Iterator[CostLine]:
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
