"""Store reads for the dashboard's Pipelines and Infrastructure pages: the run attempts,
jobs and steps of a window (times in seconds, computed by the database) and what each
repository's syncs left behind.

Functions here take an open connection; `Store` wraps each.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, func, select

from pilothouse.model import AttemptTimes, JobTimes, RepositorySync, StepTimes
from pilothouse.store.columns import seconds_between
from pilothouse.store.schema import job_logs, jobs, repositories, runs, steps, sync_state

# Statuses of a run that has not finished (GitHub's queued, waiting, requested, pending
# and in_progress): one stored so and never refreshed is a sync that missed its end.
_FINISHED = "completed"


def _windowed(query: Select[Any], since: datetime) -> Select[Any]:
    """*query* (over runs) limited to runs created since *since* (runs.created_at's index)."""
    return query.where(runs.c.created_at >= since)


def attempt_times(connection: Connection, since: datetime) -> Iterator[AttemptTimes]:
    """Every attempt of the runs created since *since*, oldest first."""
    query = select(
        runs.c.repository_id,
        runs.c.run_key,
        runs.c.attempt,
        runs.c.workflow,
        runs.c.status,
        runs.c.conclusion,
        runs.c.created_at,
        seconds_between(connection, runs.c.started_at, runs.c.finished_at),
    ).order_by(runs.c.created_at, runs.c.run_key, runs.c.attempt)
    for row in connection.execute(_windowed(query, since)):
        yield AttemptTimes(*row)


def job_times(connection: Connection, since: datetime) -> Iterator[JobTimes]:
    """Every job of the runs created since *since*."""
    query = select(
        runs.c.workflow,
        jobs.c.name,
        jobs.c.runner_labels,
        jobs.c.created_at,
        seconds_between(connection, jobs.c.created_at, jobs.c.started_at),
        seconds_between(connection, jobs.c.started_at, jobs.c.finished_at),
    ).join(runs, runs.c.id == jobs.c.run_id)
    for row in connection.execute(_windowed(query, since).order_by(jobs.c.id)):
        yield JobTimes(*row)


def step_times(connection: Connection, since: datetime) -> Iterator[StepTimes]:
    """Every timed step of the jobs of runs created since *since*."""
    query = (
        select(
            runs.c.workflow,
            jobs.c.name,
            steps.c.name,
            seconds_between(connection, steps.c.started_at, steps.c.finished_at),
        )
        .join(jobs, jobs.c.id == steps.c.job_id)
        .join(runs, runs.c.id == jobs.c.run_id)
        .where(steps.c.started_at.is_not(None), steps.c.finished_at.is_not(None))
    )
    for row in connection.execute(_windowed(query, since).order_by(steps.c.job_id, steps.c.number)):
        yield StepTimes(*row)


def step_count(connection: Connection) -> int:
    """How many steps the store holds at all (zero: no sync has stored any)."""
    return int(connection.execute(select(func.count()).select_from(steps)).scalar_one())


def repository_syncs(connection: Connection) -> list[RepositorySync]:
    """Every repository with its last complete sync, its runs, and what a sync left
    unfinished or found expired; by provider and name."""
    of_repo = runs.c.repository_id == repositories.c.id
    run_count = select(func.count(func.distinct(runs.c.run_key))).where(of_repo).scalar_subquery()
    last_run = select(func.max(runs.c.created_at)).where(of_repo).scalar_subquery()
    unfinished = (
        select(func.count())
        .where(of_repo, runs.c.status.is_not(None), runs.c.status != _FINISHED)
        .scalar_subquery()
    )
    expired = (
        select(func.count())
        .select_from(job_logs)
        .join(jobs, jobs.c.id == job_logs.c.job_id)
        .join(runs, runs.c.id == jobs.c.run_id)
        .where(of_repo, job_logs.c.status == "expired")
        .scalar_subquery()
    )
    query = (
        select(
            repositories.c.provider,
            repositories.c.full_name,
            sync_state.c.synced_at,
            sync_state.c.cursor,
            run_count,
            last_run,
            unfinished,
            expired,
        )
        .outerjoin(sync_state, sync_state.c.repository_id == repositories.c.id)
        .order_by(repositories.c.provider, repositories.c.full_name)
    )
    return [RepositorySync(*row) for row in connection.execute(query)]
