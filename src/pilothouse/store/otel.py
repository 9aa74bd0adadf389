"""Store reads and writes of `pilothouse export otel`: the finished run attempts a
destination does not have yet, their jobs and steps, and the record of what was sent.

Functions here take an open connection; `Store` wraps each.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, select

from pilothouse.store import keyed
from pilothouse.store.schema import jobs, otel_exports, repositories, runs, steps
from pilothouse.telemetry.model import ExportJob, ExportRun, ExportStep

_FINISHED = "completed"


def runs_to_export(
    connection: Connection,
    destination: str,
    *,
    since: datetime | None,
    repository: str | None,
    again: bool,
) -> list[int]:
    """The ids of the finished run attempts to send, oldest first: those created since
    *since* (of *repository*), less what *destination* already has unless *again*."""
    query = (
        select(runs.c.id)
        .join(repositories, repositories.c.id == runs.c.repository_id)
        .where(runs.c.status == _FINISHED, runs.c.finished_at.is_not(None))
        .order_by(runs.c.created_at, runs.c.id)
    )
    if since is not None:
        query = query.where(runs.c.created_at >= since)
    if repository is not None:
        query = query.where(repositories.c.full_name == repository)
    if not again:
        sent = exists().where(
            otel_exports.c.destination == destination, otel_exports.c.run_id == runs.c.id
        )
        query = query.where(~sent)
    return [int(row[0]) for row in connection.execute(query)]


def export_runs(connection: Connection, run_ids: Sequence[int]) -> list[ExportRun]:
    """The runs *run_ids* (a batch: a few hundred) with their jobs and steps."""
    if not run_ids:
        return []
    job_rows = connection.execute(
        select(
            jobs.c.id,
            jobs.c.run_id,
            jobs.c.job_key,
            jobs.c.name,
            jobs.c.runner_labels,
            jobs.c.runner_name,
            jobs.c.conclusion,
            jobs.c.created_at,
            jobs.c.started_at,
            jobs.c.finished_at,
        )
        .where(jobs.c.run_id.in_(run_ids))
        .order_by(jobs.c.run_id, jobs.c.started_at, jobs.c.id)
    ).all()
    step_rows: dict[int, list[ExportStep]] = defaultdict(list)
    job_ids = [row.id for row in job_rows]
    for start in range(0, len(job_ids), 500):
        for step in connection.execute(
            select(
                steps.c.job_id,
                steps.c.number,
                steps.c.name,
                steps.c.conclusion,
                steps.c.started_at,
                steps.c.finished_at,
            )
            .where(steps.c.job_id.in_(job_ids[start : start + 500]))
            .order_by(steps.c.job_id, steps.c.number)
        ):
            step_rows[step.job_id].append(ExportStep(*step[1:]))
    jobs_of: dict[int, list[ExportJob]] = defaultdict(list)
    for row in job_rows:
        jobs_of[row.run_id].append(
            ExportJob(
                job_key=row.job_key,
                name=row.name,
                runner_labels=_labels(row.runner_labels),
                runner_name=row.runner_name,
                conclusion=row.conclusion,
                created_at=row.created_at,
                started_at=row.started_at,
                finished_at=row.finished_at,
                steps=tuple(step_rows[row.id]),
            )
        )
    run_rows = connection.execute(
        select(
            runs.c.id,
            repositories.c.provider,
            repositories.c.full_name.label("repository"),
            runs.c.run_key,
            runs.c.attempt,
            runs.c.run_number,
            runs.c.workflow,
            runs.c.event,
            runs.c.branch,
            runs.c.commit_sha,
            runs.c.conclusion,
            runs.c.html_url,
            runs.c.created_at,
            runs.c.started_at,
            runs.c.finished_at,
        )
        .join(repositories, repositories.c.id == runs.c.repository_id)
        .where(runs.c.id.in_(run_ids))
        .order_by(runs.c.created_at, runs.c.id)
    )
    return [ExportRun(**run._mapping, jobs=tuple(jobs_of[run.id])) for run in run_rows]


def _labels(text: Any) -> tuple[str, ...]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return ()
    return tuple(str(item) for item in value) if isinstance(value, list) else ()


def mark_exported(
    connection: Connection, destination: str, run_ids: Sequence[int], at: datetime
) -> int:
    """Record *run_ids* as sent to *destination*; how many were not recorded before."""
    rows = [{"destination": destination, "run_id": i, "exported_at": at} for i in run_ids]
    return keyed.insert_new_many(connection, otel_exports, rows, ("destination", "run_id"))
