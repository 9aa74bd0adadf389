"""Store reads and writes of the CI baselines (`ci baseline`, the scorecard).

Functions here take an open connection; `Store` wraps each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from pilothouse.model import Baseline
from pilothouse.store.columns import seconds_between
from pilothouse.store.schema import ci_baselines, jobs, runs

_COLUMNS = [f.name for f in fields(Baseline)]


def save(connection: Connection, items: Sequence[Baseline]) -> None:
    """Replace the baselines of the items' workflows and branches."""
    for item in items:
        connection.execute(
            delete(ci_baselines).where(
                ci_baselines.c.workflow == item.workflow, ci_baselines.c.branch == item.branch
            )
        )
    if items:
        connection.execute(insert(ci_baselines), [asdict(item) for item in items])


def read(
    connection: Connection, *, branch: str | None = None, workflows: Sequence[str] | None = None
) -> list[Baseline]:
    """Saved baselines (of *branch* and *workflows* when given), by workflow."""
    query = select(*(ci_baselines.c[name] for name in _COLUMNS))
    if branch is not None:
        query = query.where(ci_baselines.c.branch == branch)
    if workflows is not None:
        query = query.where(ci_baselines.c.workflow.in_(list(workflows)))
    rows = connection.execute(query.order_by(ci_baselines.c.workflow, ci_baselines.c.branch))
    return [Baseline(*row) for row in rows]


def queue_times(
    connection: Connection, since: datetime, until: datetime, branch: str
) -> list[tuple[str, float]]:
    """(workflow, seconds from created to started) of every started job of the runs on
    *branch* created in [since, until)."""
    query = (
        select(runs.c.workflow, seconds_between(connection, jobs.c.created_at, jobs.c.started_at))
        .join(runs, runs.c.id == jobs.c.run_id)
        .where(
            runs.c.created_at >= since,
            runs.c.created_at < until,
            runs.c.branch == branch,
            runs.c.workflow.is_not(None),
            jobs.c.created_at.is_not(None),
            jobs.c.started_at.is_not(None),
        )
    )
    return [(str(name), float(value)) for name, value in connection.execute(query)]


def run_workflows(
    connection: Connection, since: datetime, until: datetime, branch: str
) -> dict[tuple[str, int], str]:
    """The workflow of each run attempt (run key, attempt) on *branch* created in
    [since, until)."""
    query = select(runs.c.run_key, runs.c.attempt, runs.c.workflow).where(
        runs.c.created_at >= since,
        runs.c.created_at < until,
        runs.c.branch == branch,
        runs.c.workflow.is_not(None),
    )
    return {(key, attempt): name for key, attempt, name in connection.execute(query)}
