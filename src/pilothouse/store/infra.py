"""Store writes and reads of infrastructure status: instances and Auto Scaling groups,
their CloudWatch points and read cursors, and self-hosted runners.

Functions here take an open connection; `Store` wraps each in a transaction. Points are
aggregated per resource and metric by the database over a window: counts, means, idle and
weekend hours summed, and the p50 and p95 (numpy's linear definition) from the two order
statistics around each rank, so a read returns a few values per resource and metric.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Integer, case, cast, delete, extract, func, select

from pilothouse.infra.metrics import BY_NAME
from pilothouse.infra.model import MetricPoint, MetricStats, Resource, Runner
from pilothouse.store import keyed
from pilothouse.store.schema import infra_cursors, infra_points, infra_resources, runners

_BATCH = 1000
# The percentiles the window's read returns, in percent.
PERCENTILES = (50, 95)
METRIC_NAMES = tuple(sorted(BY_NAME))


@dataclass(frozen=True, slots=True)
class SavedStatus:
    resources: int  # new resources
    points: int  # new points
    known_points: int  # points already stored


@dataclass(frozen=True, slots=True)
class StoredResource:
    resource: Resource
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class StoredRunner:
    runner: Runner
    seen_at: datetime


def _resource_values(resource: Resource, seen_at: datetime) -> dict[str, Any]:
    return {
        "resource_key": resource.key,
        "kind": resource.kind,
        "name": resource.name,
        "region": resource.region,
        "state": resource.state,
        "instance_type": resource.instance_type,
        "group_name": resource.group,
        "launched_at": resource.launched_at,
        "capacity": resource.capacity,
        "seen_at": seen_at,
    }


def save_status(
    connection: Connection,
    resources: Sequence[Resource],
    points: Iterable[MetricPoint],
    read_through: Mapping[tuple[str, str], datetime],
    seen_at: datetime,
) -> SavedStatus:
    """Upsert *resources*, insert the new *points* (a stored period is never changed)
    and move each (resource, metric) cursor of *read_through* forward."""
    ids: dict[str, int] = {}
    new = 0
    for resource in resources:
        values = _resource_values(resource, seen_at)
        ids[resource.key], inserted = keyed.ensure_id(
            connection, infra_resources, values, ["resource_key"], update_existing=True
        )
        new += inserted
    added = known = 0
    batch: list[dict[str, Any]] = []
    for point in points:
        batch.append({"resource_id": ids[point.resource], "metric": point.metric,
                      "period_start": point.start, "period_seconds": point.period_seconds,
                      "value": point.value})  # fmt: skip
        if len(batch) == _BATCH:
            added, known = _flush(connection, batch, added, known)
    added, known = _flush(connection, batch, added, known)
    for (key, metric), through in sorted(read_through.items()):
        keyed.upsert(connection, infra_cursors,
                     {"resource_id": ids[key], "metric": metric, "read_through": through},
                     ["resource_id", "metric"])  # fmt: skip
    return SavedStatus(new, added, known)


def _flush(
    connection: Connection, batch: list[dict[str, Any]], added: int, known: int
) -> tuple[int, int]:
    # In key order, so concurrent writers of the same points lock them in one order.
    batch.sort(key=lambda row: (row["resource_id"], row["metric"], row["period_start"]))
    fresh = keyed.insert_new_many(
        connection, infra_points, batch, ["resource_id", "metric", "period_start"]
    )
    total = len(batch)
    batch.clear()
    return added + fresh, known + total - fresh


def cursors(connection: Connection) -> dict[tuple[str, str], datetime]:
    """Where the reads of each (resource key, metric) got to."""
    query = select(
        infra_resources.c.resource_key, infra_cursors.c.metric, infra_cursors.c.read_through
    ).join(infra_resources, infra_resources.c.id == infra_cursors.c.resource_id)
    return {(key, metric): through for key, metric, through in connection.execute(query)}


def resources(connection: Connection) -> list[StoredResource]:
    """Every resource as last seen: groups first, then instances, by name."""
    r = infra_resources.c
    query = select(
        r.resource_key, r.kind, r.name, r.region, r.state, r.instance_type, r.group_name,
        r.launched_at, r.capacity, r.seen_at,
    ).order_by(r.kind, r.name, r.resource_key)  # fmt: skip
    return [StoredResource(Resource(*row[:9]), row[9]) for row in connection.execute(query)]


def _weekday(connection: Connection, column: Any) -> ColumnElement[Any]:
    """The day of the week of a UTC time, 0 = Sunday .. 6 = Saturday, on both backends."""
    if connection.dialect.name == "postgresql":
        return cast(extract("dow", column), Integer)
    return cast(func.strftime("%w", column), Integer)


def metric_stats(
    connection: Connection, since: datetime, until: datetime, idle_below: float
) -> list[MetricStats]:
    """Per resource and metric, the points of [*since*, *until*): count, mean, p50, p95,
    max, hours below *idle_below*, hours, weekend (Saturday, Sunday UTC) hours and
    weekend hours below it.

    Each resource's metric is read through the primary key (resource, metric, period):
    one aggregate, then per percentile its order statistics by ORDER BY value LIMIT 2
    OFFSET k, so only the window's rows of each are visited, never the history's.
    (One windowed `row_number()` over every point cost 4x as long on SQLite:
    benchmarks/infra_read.py.)"""
    p = infra_points.c
    idle = p.value < idle_below
    weekend = _weekday(connection, p.period_start).in_((0, 6))
    aggregate = select(
        func.count(), func.avg(p.value), func.max(p.value),
        func.sum(case((idle, p.period_seconds), else_=0)),
        func.sum(p.period_seconds),
        func.sum(case((weekend, p.period_seconds), else_=0)),
        func.sum(case((weekend & idle, p.period_seconds), else_=0)),
    )  # fmt: skip
    found = []
    resources = select(infra_resources.c.id, infra_resources.c.resource_key)
    for resource_id, key in connection.execute(resources.order_by(infra_resources.c.resource_key)):
        for metric in METRIC_NAMES:
            where = (p.resource_id == resource_id, p.metric == metric,
                     p.period_start >= since, p.period_start < until)  # fmt: skip
            count, mean, maximum, *hours = connection.execute(aggregate.where(*where)).one()
            if count:
                picks = [_percentile(connection, where, count, q) for q in PERCENTILES]
                found.append(_stats(key, metric, count, mean, maximum, picks, hours))
    return found


def _percentile(connection: Connection, where: tuple[Any, ...], count: int, q: int) -> float:
    """The *q*-th percentile of *count* values (numpy's linear definition): the two order
    statistics around its rank, read by offset, interpolated."""
    rank, remainder = divmod((count - 1) * q, 100)
    query = select(infra_points.c.value).where(*where).order_by(infra_points.c.value)
    values = [float(v) for v in connection.execute(query.limit(2).offset(rank)).scalars()]
    high = values[1] if remainder and len(values) > 1 else values[0]
    return round(values[0] + (high - values[0]) * remainder / 100, 12)


def _stats(
    key: str, metric: str, count: int, mean: float, maximum: float,
    picks: list[float], hours: list[Any],
) -> MetricStats:  # fmt: skip
    idle, total, weekend, weekend_idle = (int(v or 0) / 3600 for v in hours)
    return MetricStats(key, metric, int(count), round(float(mean), 6), picks[0], picks[1],
                       float(maximum), idle, total, weekend, weekend_idle)  # fmt: skip


def point_range(connection: Connection) -> tuple[datetime, datetime] | None:
    """The first and last stored period (two index reads)."""
    first, last = connection.execute(
        select(func.min(infra_points.c.period_start), func.max(infra_points.c.period_start))
    ).one()
    return None if first is None else (first, last)


# -- runners ------------------------------------------------------------------------------


def replace_runners(
    connection: Connection, scope: str, listed: Sequence[Runner], seen_at: datetime
) -> int:
    """The runners of *scope* become *listed* (upserted; those gone are removed); how
    many are new."""
    new = 0
    for runner in listed:
        values = {"scope": scope, "runner_key": runner.runner_id, "name": runner.name,
                  "os": runner.os, "status": runner.status, "busy": runner.busy,
                  "labels": json.dumps(list(runner.labels)), "seen_at": seen_at}  # fmt: skip
        new += keyed.upsert(connection, runners, values, ["scope", "runner_key"])
    gone = runners.c.scope == scope
    if listed:
        gone = gone & runners.c.runner_key.not_in([r.runner_id for r in listed])
    connection.execute(delete(runners).where(gone))
    return new


def stored_runners(connection: Connection) -> list[StoredRunner]:
    """Every runner as last listed, by scope and name."""
    r = runners.c
    query = select(r.scope, r.runner_key, r.name, r.os, r.status, r.busy, r.labels,
                   r.seen_at).order_by(r.scope, r.name, r.runner_key)  # fmt: skip
    return [
        StoredRunner(
            Runner(scope, key, name, os_name, status, bool(busy), tuple(json.loads(labels))), seen
        )  # fmt: skip
        for scope, key, name, os_name, status, busy, labels, seen in connection.execute(query)
    ]


__all__ = [
    "MetricPoint",
    "MetricStats",
    "Resource",
    "Runner",
    "SavedStatus",
    "StoredResource",
    "StoredRunner",
]
