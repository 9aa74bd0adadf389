"""Store reads for `/metrics`: counts, sums and histogram buckets made by the database,
one row per label set (and bucket), never one per run, job or test result.

Functions here take an open connection; `Store` wraps each.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, case, func, select

from pilothouse.store.columns import seconds_between
from pilothouse.store.schema import jobs, repositories, runs, sync_state, test_days
from pilothouse.store.scorecard import Span, latest_attempts

# A report's placeholder job (store.reports) has no queue: its times are the report's.
PLACEHOLDER_PREFIX = "junit:"
NO_LABEL = "none"


@dataclass(frozen=True, slots=True)
class Buckets:
    """The observations of one label set: how many fell in each bucket (`counts[i]`:
    above bound i-1, at most bound i; the last entry: above the last bound), and their
    sum."""

    labels: tuple[str, ...]
    counts: tuple[int, ...]
    total: float

    @property
    def count(self) -> int:
        return sum(self.counts)


def _bucket(seconds: ColumnElement[Any], bounds: Sequence[float]) -> ColumnElement[Any]:
    return case(
        *((seconds <= bound, index) for index, bound in enumerate(bounds)), else_=len(bounds)
    )


def _histogram(
    timed: Select[Any], labels: Sequence[str], bounds: Sequence[float], connection: Connection
) -> list[Buckets]:
    """Buckets per label set of *timed* (columns *labels* and `seconds`), counted in SQL."""
    inner = timed.subquery()
    label_columns = [inner.c[name] for name in labels]
    bucket = _bucket(inner.c.seconds, bounds).label("bucket")
    per_bucket = select(*label_columns, bucket, inner.c.seconds).subquery()
    grouped = [per_bucket.c[name] for name in labels]
    query = select(
        *grouped, per_bucket.c.bucket, func.count(), func.sum(per_bucket.c.seconds)
    ).group_by(*grouped, per_bucket.c.bucket)
    found: dict[tuple[str, ...], tuple[list[int], float]] = {}
    for row in connection.execute(query):
        key = tuple(NO_LABEL if value is None else str(value) for value in row[: len(labels)])
        counts, total = found.setdefault(key, ([0] * (len(bounds) + 1), 0.0))
        index, count, seconds = row[len(labels) :]
        counts[int(index)] += int(count)
        found[key] = (counts, total + float(seconds or 0.0))
    return [Buckets(key, tuple(counts), total) for key, (counts, total) in sorted(found.items())]


def run_duration_buckets(
    connection: Connection, since: datetime, bounds: Sequence[float]
) -> list[Buckets]:
    """Wall time of the completed runs created since *since* (latest attempt of each),
    per workflow and conclusion."""
    chosen = latest_attempts(Span(since), None, None).subquery()
    timed = select(
        chosen.c.workflow,
        chosen.c.conclusion,
        seconds_between(connection, chosen.c.started_at, chosen.c.finished_at).label("seconds"),
    ).where(
        chosen.c.status == "completed",
        chosen.c.started_at.is_not(None),
        chosen.c.finished_at.is_not(None),
    )
    return _histogram(timed, ("workflow", "conclusion"), bounds, connection)


def job_queue_buckets(
    connection: Connection, since: datetime, bounds: Sequence[float]
) -> list[Buckets]:
    """Queue time (created to started) of the jobs of runs created since *since*, per
    runner labels (a job's labels joined by commas); a report's placeholder job, which
    knows no queue, is left out."""
    timed = (
        select(
            jobs.c.runner_labels,
            seconds_between(connection, jobs.c.created_at, jobs.c.started_at).label("seconds"),
        )
        .join(runs, runs.c.id == jobs.c.run_id)
        .where(
            runs.c.created_at >= since,
            jobs.c.created_at.is_not(None),
            jobs.c.started_at.is_not(None),
            ~jobs.c.job_key.startswith(PLACEHOLDER_PREFIX),
        )
    )
    return _merge(
        Buckets((runner_label(raw),), item.counts, item.total)
        for item in _histogram(timed, ("runner_labels",), bounds, connection)
        for raw in item.labels
    )


def runner_label(labels_json: str) -> str:
    """The label a job's runner labels (stored as a JSON list) are exported under.

    >>> runner_label('["self-hosted", "linux"]'), runner_label("[]")
    ('self-hosted,linux', 'none')
    """
    try:
        labels = json.loads(labels_json)
    except ValueError:
        return NO_LABEL
    return (
        ",".join(str(label) for label in labels)
        if isinstance(labels, list) and labels
        else (NO_LABEL)
    )


def _merge(items: Any) -> list[Buckets]:
    """One Buckets per label set: two stored spellings can export as one label."""
    merged: dict[tuple[str, ...], Buckets] = {}
    for item in items:
        known = merged.get(item.labels)
        if known is not None:
            counts = tuple(a + b for a, b in zip(known.counts, item.counts, strict=True))
            item = Buckets(item.labels, counts, known.total + item.total)
        merged[item.labels] = item
    return [merged[key] for key in sorted(merged)]


def run_totals(connection: Connection) -> list[tuple[str, str, int]]:
    """(workflow, conclusion, run attempts) over every stored run attempt; an unfinished
    run counts under its status (queued, in_progress), an unnamed one as 'none'."""
    workflow = func.coalesce(runs.c.workflow, NO_LABEL)
    outcome = func.coalesce(runs.c.conclusion, runs.c.status, NO_LABEL)
    query = select(workflow, outcome, func.count()).group_by(workflow, outcome)
    return sorted((str(w), str(c), int(n)) for w, c, n in connection.execute(query))


def outcome_totals(connection: Connection) -> dict[str, int]:
    """Every stored test result by outcome (failed counts errors too), from the per-day
    rollups kept at ingest (store.rollups): a row per test and day, not per result."""
    query = select(
        func.coalesce(func.sum(test_days.c.passed), 0),
        func.coalesce(func.sum(test_days.c.failed), 0),
        func.coalesce(func.sum(test_days.c.skipped), 0),
    )
    passed, failed, skipped = connection.execute(query).one()
    return {"passed": int(passed), "failed": int(failed), "skipped": int(skipped)}


def sync_times(connection: Connection) -> list[tuple[str, datetime]]:
    """(repository, when its last complete sync ended) of every synced repository."""
    query = (
        select(repositories.c.full_name, sync_state.c.synced_at)
        .join(sync_state, sync_state.c.repository_id == repositories.c.id)
        .where(sync_state.c.synced_at.is_not(None))
        .order_by(repositories.c.full_name)
    )
    return [(str(name), at) for name, at in connection.execute(query)]
