"""Store writes and reads for job logs and the cache events read from them.

Functions here take an open connection; `Store` wraps each in a transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    case,
    cast,
    exists,
    func,
    insert,
    select,
    update,
)

from pilothouse.model import RESTORE_KINDS, CacheCounts, CacheEvent, CacheGroup, RunInfo
from pilothouse.sources.logs import LogStats
from pilothouse.store import keyed
from pilothouse.store.columns import seconds_between
from pilothouse.store.reports import fill_run, open_run
from pilothouse.store.schema import cache_events, job_logs, jobs, runs

_BATCH = 1000


@dataclass(frozen=True, slots=True)
class LogInput:
    """One job log to store: its identity, and its events read lazily into *stats*."""

    source: str
    digest: str
    size: int
    events: Iterable[CacheEvent]
    stats: LogStats


@dataclass(frozen=True, slots=True)
class StoredLog:
    new: bool
    events: int


def add_logs(
    connection: Connection, items: Iterable[tuple[RunInfo, LogInput]], now: datetime
) -> list[StoredLog]:
    """Store logs, each of its run's job (the same run and job identity as JUnit
    reports: a log and a report of one job meet in one job row)."""
    stored = []
    job_ids: dict[tuple[str, str, str, int, str | None], int] = {}
    for run, item in items:
        job = (run.provider, run.repository, run.run_key, run.attempt, run.job)
        if job not in job_ids:  # a job's logs share its row: look it up once
            run_id, job_id, missing = open_run(connection, run, now)
            if missing:
                fill_run(connection, run_id, missing)
            assert job_id is not None, "a log always names its job (ingest_logs.job_of)"
            job_ids[job] = job_id
        stored.append(add_log(connection, job_ids[job], item, now))
    return stored


def add_log(connection: Connection, job_id: int, item: LogInput, now: datetime) -> StoredLog:
    """Store one log of a job; a log the job already holds (same digest) adds nothing
    and is not read."""
    values = {
        "job_id": job_id, "digest": item.digest, "status": "read", "source": item.source,
        "size": item.size, "lines": 0, "read_at": now,
    }  # fmt: skip
    new = keyed.insert_new(connection, job_logs, values, ("job_id", "digest"))
    if new is None:
        return StoredLog(False, 0)
    log_id = int(new[0])
    count = 0
    for batch in _batches(item.events, log_id, job_id):
        connection.execute(insert(cache_events), batch)
        count += len(batch)
    stats = item.stats
    connection.execute(
        update(job_logs)
        .where(job_logs.c.id == log_id)
        .values(
            size=stats.bytes or item.size,
            lines=stats.lines,
            first_at=stats.first_at,
            last_at=stats.last_at,
        )  # fmt: skip
    )
    return StoredLog(True, count)


def mark_log_expired(connection: Connection, job_id: int, source: str, now: datetime) -> None:
    """A job whose log GitHub no longer has (404/410): noted, so it is not asked again."""
    values = {"job_id": job_id, "digest": "expired", "status": "expired", "source": source,
              "size": 0, "lines": 0, "read_at": now}  # fmt: skip
    keyed.insert_new(connection, job_logs, values, ("job_id", "digest"))


def _row(log_id: int, job_id: int, ordinal: int, event: CacheEvent) -> dict[str, Any]:
    return {
        "log_id": log_id, "ordinal": ordinal, "job_id": job_id, "line": event.line,
        "tool": event.tool, "kind": event.kind, "key_prefix": event.key_prefix,
        "cache_key": event.key, "step": event.step, "at": event.at, "seconds": event.seconds,
        "size_bytes": event.size_bytes, "hits": event.hits, "misses": event.misses,
        "language": event.language, "detail": event.detail,
    }  # fmt: skip


def _batches(
    events: Iterable[CacheEvent], log_id: int, job_id: int
) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for ordinal, event in enumerate(events):
        batch.append(_row(log_id, job_id, ordinal, event))
        if len(batch) >= _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def jobs_without_logs(connection: Connection, repository_id: int, run_keys: Sequence[str]) -> Any:
    """(job id, job key, run key) of the completed synced jobs of these runs that have
    no log stored (read or found expired)."""
    return connection.execute(
        select(jobs.c.id, jobs.c.job_key, runs.c.run_key)
        .join(runs, runs.c.id == jobs.c.run_id)
        .where(
            runs.c.repository_id == repository_id,
            runs.c.run_key.in_(run_keys),
            jobs.c.status == "completed",
            ~jobs.c.job_key.startswith("junit:"),
            ~exists().where(job_logs.c.job_id == jobs.c.id),
        )
        .order_by(jobs.c.id)
    ).all()


def _span_seconds(connection: Connection) -> ColumnElement[Any]:
    """The log's wall time in seconds."""
    return seconds_between(connection, job_logs.c.first_at, job_logs.c.last_at)


def _window(query: Any, since: datetime | None, until: datetime | None) -> Any:
    if since is not None:
        query = query.where(runs.c.created_at >= since)
    if until is not None:
        query = query.where(runs.c.created_at < until)
    return query


def cache_groups(
    connection: Connection,
    since: datetime | None,
    until: datetime | None,
    branch: str | None = None,
) -> list[CacheGroup]:
    """Cache events per workflow, job name, key family, tool and kind, in the window
    (by the run's creation) of runs on *branch* (any when None), counted and averaged
    by the database."""
    span = _span_seconds(connection)
    query = _window(
        select(
            runs.c.workflow,
            jobs.c.name,
            cache_events.c.key_prefix,
            cache_events.c.tool,
            cache_events.c.kind,
            func.count(),
            func.sum(cache_events.c.hits),
            func.sum(cache_events.c.misses),
            func.avg(cache_events.c.seconds),
            func.avg(cast(span, Float)),
        )  # fmt: skip
        .select_from(cache_events)
        .join(job_logs, job_logs.c.id == cache_events.c.log_id)
        .join(jobs, jobs.c.id == cache_events.c.job_id)
        .join(runs, runs.c.id == jobs.c.run_id)
        .group_by(
            runs.c.workflow,
            jobs.c.name,
            cache_events.c.key_prefix,
            cache_events.c.tool,
            cache_events.c.kind,
        )  # fmt: skip
        .order_by(runs.c.workflow, jobs.c.name, cache_events.c.key_prefix, cache_events.c.kind),
        since,
        until,
    )
    if branch is not None:
        query = query.where(runs.c.branch == branch)
    return [
        CacheGroup(
            workflow,
            job,
            prefix,
            tool,
            kind,
            int(count),
            int(hits or 0),
            int(misses or 0),
            None if seconds is None else float(seconds),
            None if job_seconds is None else float(job_seconds),
        )  # fmt: skip
        for workflow, job, prefix, tool, kind, count, hits, misses, seconds, job_seconds in (
            connection.execute(query)
        )
    ]


def cache_counts(
    connection: Connection,
    *,
    since: datetime,
    until: datetime,
    workflows: Sequence[str] | None,
    branch: str | None,
) -> CacheCounts:
    """Restores (exact, partial, missed) in the jobs of runs of *workflows* (all when
    None) on *branch* (any when None) created in [since, until)."""
    kind = cache_events.c.kind
    query = _window(
        select(
            func.coalesce(func.sum(case((kind == "hit", 1), else_=0)), 0),
            func.coalesce(func.sum(case((kind == "partial", 1), else_=0)), 0),
            func.coalesce(func.sum(case((kind == "miss", 1), else_=0)), 0),
        )
        .select_from(cache_events)
        .join(jobs, jobs.c.id == cache_events.c.job_id)
        .join(runs, runs.c.id == jobs.c.run_id)
        .where(kind.in_(RESTORE_KINDS)),
        since,
        until,
    )
    if workflows is not None:
        query = query.where(runs.c.workflow.in_(list(workflows)))
    if branch is not None:
        query = query.where(runs.c.branch == branch)
    exact, partial, missed = connection.execute(query).one()
    return CacheCounts(exact_hits=int(exact), partial_hits=int(partial), misses=int(missed))


def log_range(
    connection: Connection, branch: str | None = None
) -> tuple[datetime, datetime] | None:
    """When the first and last runs (on *branch*, any when None) with cache events
    were created."""
    query = select(func.min(runs.c.created_at), func.max(runs.c.created_at)).where(
        runs.c.id.in_(select(jobs.c.run_id).join(cache_events, cache_events.c.job_id == jobs.c.id))
    )
    if branch is not None:
        query = query.where(runs.c.branch == branch)
    first, last = connection.execute(query).one()
    return None if first is None or last is None else (first, last)
