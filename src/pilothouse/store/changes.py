"""Store reads for `pilothouse changes`: one observation per run (or job) of each
metric, summed by the database where a run has many rows (report suites, cache
events), with the run's commit and its jobs' runner labels, so a change can be laid
next to what changed in its window.

Functions here take an open connection; `Store` wraps each.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, case, func, null, or_, select

from pilothouse.analysis.regressions import Observation
from pilothouse.store.columns import seconds_between
from pilothouse.store.keyed import upsert
from pilothouse.store.metrics import PLACEHOLDER_PREFIX
from pilothouse.store.schema import (
    cache_events,
    jobs,
    report_suites,
    reports,
    runs,
    sync_failures,
    workflows,
)
from pilothouse.store.scorecard import Span, latest_attempts

_NOT_TIMED = ("cancelled", "skipped")


def _labels(raw: str) -> tuple[str, ...]:
    try:
        found = json.loads(raw)
    except ValueError:
        return ()
    return tuple(str(label) for label in found) if isinstance(found, list) else ()


def _run_labels(connection: Connection, since: datetime, branch: str | None) -> dict[int, str]:
    """Each run's runner label sets (`a,b; c`), from its jobs (a report's placeholder
    job keeps the labels the runner's environment named)."""
    query = (
        select(jobs.c.run_id, jobs.c.runner_labels)
        .join(runs, runs.c.id == jobs.c.run_id)
        .where(runs.c.created_at >= since)
        .distinct()
    )
    if branch is not None:
        query = query.where(runs.c.branch == branch)
    found: dict[int, set[str]] = {}
    for run_id, raw in connection.execute(query):
        labels = _labels(raw)
        if labels:
            found.setdefault(run_id, set()).add(",".join(labels))
    return {run_id: "; ".join(sorted(sets)) for run_id, sets in found.items()}


def _observations(
    rows: Iterable[Any], labels: dict[int, str], weighted: bool = False
) -> list[Observation]:
    found = []
    for run_id, workflow, created_at, commit, value, weight in rows:
        if value is None or (weighted and not weight):
            continue
        label = labels.get(run_id, "")
        found.append(
            Observation(str(workflow), created_at, float(value), float(weight or 1), commit, label)
        )
    return found


def run_time_observations(
    connection: Connection, since: datetime, branch: str | None
) -> list[Observation]:
    """Wall time (seconds) of each completed run of a named workflow created since
    *since* (latest attempt; cancelled and skipped runs say nothing about time)."""
    chosen = latest_attempts(Span(since), None, branch).subquery()
    query = (
        select(
            chosen.c.id,
            chosen.c.workflow,
            chosen.c.created_at,
            chosen.c.commit_sha,
            seconds_between(connection, chosen.c.started_at, chosen.c.finished_at),
            null(),
        )
        .where(
            chosen.c.status == "completed",
            or_(chosen.c.conclusion.is_(None), chosen.c.conclusion.not_in(_NOT_TIMED)),
            chosen.c.created_at.is_not(None),
            chosen.c.started_at.is_not(None),
            chosen.c.finished_at.is_not(None),
        )
        .order_by(chosen.c.created_at, chosen.c.run_key)
    )
    return _observations(connection.execute(query), _run_labels(connection, since, branch))


def _scoped(query: Select[Any], since: datetime, branch: str | None) -> Select[Any]:
    query = query.where(
        runs.c.created_at >= since, runs.c.created_at.is_not(None), runs.c.workflow.is_not(None)
    )
    return query if branch is None else query.where(runs.c.branch == branch)


def queue_observations(
    connection: Connection, since: datetime, branch: str | None
) -> list[Observation]:
    """Queue time (seconds from created to started) of each synced job of the runs
    created since *since*, with the job's own runner labels."""
    query = _scoped(
        select(
            runs.c.id,
            runs.c.workflow,
            runs.c.created_at,
            runs.c.commit_sha,
            seconds_between(connection, jobs.c.created_at, jobs.c.started_at),
            jobs.c.runner_labels,
        )
        .join(runs, runs.c.id == jobs.c.run_id)
        .where(
            jobs.c.created_at.is_not(None),
            jobs.c.started_at.is_not(None),
            ~jobs.c.job_key.startswith(PLACEHOLDER_PREFIX),
        ),
        since,
        branch,
    ).order_by(runs.c.created_at, jobs.c.id)
    return [
        Observation(
            str(workflow), at, max(float(seconds), 0.0), 1.0, commit, ",".join(_labels(raw))
        )  # fmt: skip
        for _run, workflow, at, commit, seconds, raw in connection.execute(query)
        if seconds is not None
    ]


def pass_rate_observations(
    connection: Connection, since: datetime, branch: str | None
) -> list[Observation]:
    """Per run attempt created since *since*: passed / executed test results (percent),
    weighted by the executed results, summed by the database from the report suites."""
    executed = func.sum(report_suites.c.executed)
    rate = 100.0 * func.sum(report_suites.c.passed) / func.nullif(executed, 0)
    query = _scoped(
        select(runs.c.id, runs.c.workflow, runs.c.created_at, runs.c.commit_sha, rate, executed)
        .select_from(report_suites)
        .join(reports, reports.c.id == report_suites.c.report_id)
        .join(runs, runs.c.id == reports.c.run_id),
        since,
        branch,
    ).group_by(runs.c.id, runs.c.workflow, runs.c.created_at, runs.c.commit_sha)
    rows = sorted(connection.execute(query), key=lambda row: (row[2], row[0]))
    return _observations(rows, _run_labels(connection, since, branch), weighted=True)


def cache_observations(
    connection: Connection, since: datetime, branch: str | None
) -> list[Observation]:
    """Per run created since *since*: exact cache hits per restore (percent), weighted
    by the restores, counted by the database from the job logs' cache events."""
    kind = cache_events.c.kind
    restores = func.sum(case((kind.in_(("hit", "partial", "miss")), 1), else_=0))
    hits = 100.0 * func.sum(case((kind == "hit", 1), else_=0)) / func.nullif(restores, 0)
    query = _scoped(
        select(runs.c.id, runs.c.workflow, runs.c.created_at, runs.c.commit_sha, hits, restores)
        .select_from(cache_events)
        .join(jobs, jobs.c.id == cache_events.c.job_id)
        .join(runs, runs.c.id == jobs.c.run_id),
        since,
        branch,
    ).group_by(runs.c.id, runs.c.workflow, runs.c.created_at, runs.c.commit_sha)
    rows = sorted(connection.execute(query), key=lambda row: (row[2], row[0]))
    return _observations(rows, _run_labels(connection, since, branch), weighted=True)


def workflow_files(connection: Connection) -> list[tuple[str, str, datetime | None]]:
    """(name, path, last updated) of every synced workflow: GitHub moves `updated_at`
    when the workflow's file changes."""
    query = select(workflows.c.name, workflows.c.path, workflows.c.updated_at).order_by(
        workflows.c.name, workflows.c.path
    )
    return [(str(name), str(path), updated) for name, path, updated in connection.execute(query)]


# A failure's message is cut to this many characters: one line for a report.
MAX_FAILURE_CHARS = 500


def record_sync_failure(
    connection: Connection, provider: str, repository: str, at: datetime, message: str
) -> None:
    """Keep *message* as the last failed sync of *repository* (replacing an older one)."""
    # Any error text is kept: no NUL or lone surrogate reaches PostgreSQL's text.
    text = message.replace("\x00", "\\x00").encode("utf-8", "replace").decode("utf-8")
    text = text[:MAX_FAILURE_CHARS]
    values = {"provider": provider, "repository": repository, "failed_at": at,
              "message": text}  # fmt: skip
    upsert(connection, sync_failures, values, ("provider", "repository"))


def sync_failure_list(connection: Connection) -> list[tuple[str, str, datetime, str]]:
    """(provider, repository, when, why) of each repository's last failed sync."""
    query = select(sync_failures).order_by(sync_failures.c.provider, sync_failures.c.repository)
    return [(p, r, at, m) for p, r, at, m in connection.execute(query)]
