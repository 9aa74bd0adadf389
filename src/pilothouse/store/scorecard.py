"""Store reads for the scorecard and `artifacts`: run wall times, artifact sizes per
run, workflow activity. One row per run or per workflow, never per result.

Functions here take an open connection; `Store` wraps each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, exists, func, or_, select
from sqlalchemy.orm import aliased

from pilothouse.model import RunArtifacts, WorkflowActivity
from pilothouse.store.schema import artifacts, runs, workflows

# Completed runs that did not run to the end say nothing about how long a run takes.
_NOT_TIMED = ("cancelled", "skipped")


@dataclass(frozen=True, slots=True)
class Span:
    """Runs created at or after *since* and, when *until* is given, before it."""

    since: datetime
    until: datetime | None = None


def latest_attempts(
    span: Span, workflow_names: Sequence[str] | None, branch: str | None
) -> Select[Any]:
    """The latest attempt of each run on *branch* (None: any) created in *span*, of
    *workflow_names* (None: of any named workflow): runs.created_at's index finds the
    window, the unique (repository, run, attempt) index answers "is there a later
    attempt"."""
    later = aliased(runs)
    named = (
        runs.c.workflow.is_not(None)
        if workflow_names is None
        else runs.c.workflow.in_(list(workflow_names))
    )
    query = select(runs).where(
        runs.c.created_at >= span.since,
        named,
        ~exists().where(
            later.c.repository_id == runs.c.repository_id,
            later.c.run_key == runs.c.run_key,
            later.c.attempt > runs.c.attempt,
        ),
    )
    if branch is not None:
        query = query.where(runs.c.branch == branch)
    return query if span.until is None else query.where(runs.c.created_at < span.until)


def run_durations(
    connection: Connection, span: Span, workflow_names: Sequence[str], branch: str
) -> list[float]:
    """Wall time in seconds of each completed run (latest attempt), oldest first."""
    chosen = latest_attempts(span, workflow_names, branch).subquery()
    query = (
        select(chosen.c.started_at, chosen.c.finished_at)
        .where(
            chosen.c.status == "completed",
            or_(chosen.c.conclusion.is_(None), chosen.c.conclusion.not_in(_NOT_TIMED)),
            chosen.c.started_at.is_not(None),
            chosen.c.finished_at.is_not(None),
        )
        .order_by(chosen.c.created_at, chosen.c.run_key)
    )
    return [(finished - started).total_seconds() for started, finished in connection.execute(query)]


def run_artifacts(
    connection: Connection, span: Span, workflow_names: Sequence[str] | None, branch: str
) -> list[RunArtifacts]:
    """Per run (latest attempt in *span*) that uploaded artifacts: their total size and
    count, summed by the database; oldest first. *workflow_names* None: every workflow.

    The sums are correlated subqueries on the artifacts' (repository, run) index rather
    than a GROUP BY over runs, which let SQLite walk every run in key order."""
    window = latest_attempts(span, workflow_names, branch).subquery()
    of_run = and_(
        artifacts.c.repository_id == window.c.repository_id,
        artifacts.c.run_key == window.c.run_key,
    )
    total = select(func.sum(artifacts.c.size_bytes)).where(of_run).scalar_subquery()
    count = select(func.count()).where(of_run).scalar_subquery()
    query = (
        select(
            window.c.repository_id,
            window.c.run_key,
            window.c.workflow,
            window.c.created_at,
            total,
            count,
        )
        .where(exists().where(of_run))
        .order_by(window.c.created_at, window.c.run_key)
    )
    return [
        RunArtifacts(repo, key, workflow, created, int(size), int(number))
        for repo, key, workflow, created, size, number in connection.execute(query)
    ]


def artifacts_of_run(
    connection: Connection, repository_id: int, run_key: str
) -> list[tuple[str, int]]:
    """(name, size in bytes) of the artifacts one run uploaded, largest first."""
    query = (
        select(artifacts.c.name, artifacts.c.size_bytes)
        .where(artifacts.c.repository_id == repository_id, artifacts.c.run_key == run_key)
        .order_by(artifacts.c.size_bytes.desc(), artifacts.c.name)
    )
    return [(name, int(size)) for name, size in connection.execute(query)]


def workflow_activity(connection: Connection, span: Span) -> list[WorkflowActivity]:
    """Every registered workflow with its runs in *span*, matched by workflow id, or by
    name for runs that reports alone created. The window's runs are counted per
    workflow first (runs.created_at's index), then met with the few workflows here."""
    name, key = runs.c.workflow, runs.c.workflow_key
    counted = select(runs.c.repository_id, key, name, func.count()).where(
        runs.c.created_at >= span.since
    )
    if span.until is not None:
        counted = counted.where(runs.c.created_at < span.until)
    by_key: dict[tuple[int, str], int] = {}
    by_name: dict[tuple[int, str], int] = {}
    for repo, workflow_key, workflow, count in connection.execute(
        counted.group_by(runs.c.repository_id, key, name)
    ):
        if workflow_key is not None:
            by_key[(repo, workflow_key)] = by_key.get((repo, workflow_key), 0) + count
        elif workflow is not None:  # a run only reports made: known by its name
            by_name[(repo, workflow)] = by_name.get((repo, workflow), 0) + count
    query = select(
        workflows.c.repository_id, workflows.c.workflow_key, workflows.c.name,
        workflows.c.path, workflows.c.state,
    ).order_by(workflows.c.path, workflows.c.name)  # fmt: skip
    return [
        WorkflowActivity(
            name, path, state, by_key.get((repo, wkey), 0) + by_name.get((repo, name), 0)
        )
        for repo, wkey, name, path, state in connection.execute(query)
    ]
