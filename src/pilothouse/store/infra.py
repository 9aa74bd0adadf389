"""Store writes and reads of infrastructure status: instances and Auto Scaling groups,
their CloudWatch points and read cursors, and self-hosted runners.

Functions here take an open connection; `Store` wraps each in a transaction. Points are
aggregated per resource and metric by the database over a window: order statistics
(p50, p95: numpy's linear definition) picked by `row_number()` over the window's points,
idle and weekend hours summed, so a read returns a row per resource and metric.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Integer, case, cast, delete, extract, func, select

from pilothouse.infra.model import MetricPoint, MetricStats, Resource, Runner
from pilothouse.store import keyed
from pilothouse.store.schema import infra_cursors, infra_points, infra_resources, runners

_BATCH = 1000
# The percentiles the window's read returns, in percent.
PERCENTILES = (50, 95)


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
    weekend hours below it."""
    p = infra_points.c
    part = (p.resource_id, p.metric)
    weekend = _weekday(connection, p.period_start).in_((0, 6))
    ranked = (
        select(
            p.resource_id, p.metric, p.value, p.period_seconds,
            weekend.label("weekend"),
            func.row_number().over(partition_by=part, order_by=(p.value, p.period_start))
            .label("rank"),
            func.count().over(partition_by=part).label("n"),
        )
        .where(p.period_start >= since, p.period_start < until)
        .subquery()
    )  # fmt: skip
    c = ranked.c
    picks: list[ColumnElement[Any]] = []
    for q in PERCENTILES:
        low = (c.n - 1) * q // 100 + 1
        high = ((c.n - 1) * q + 99) // 100 + 1
        picks += [func.max(case((c.rank == low, c.value))),
                  func.max(case((c.rank == high, c.value))),
                  func.max((c.n - 1) * q % 100)]  # fmt: skip
    idle = c.value < idle_below
    query = (
        select(
            infra_resources.c.resource_key, c.metric, func.count(), func.avg(c.value),
            func.max(c.value), *picks,
            func.sum(case((idle, c.period_seconds), else_=0)),
            func.sum(c.period_seconds),
            func.sum(case((c.weekend, c.period_seconds), else_=0)),
            func.sum(case((c.weekend & idle, c.period_seconds), else_=0)),
        )
        .join(infra_resources, infra_resources.c.id == c.resource_id)
        .group_by(infra_resources.c.resource_key, c.metric)
        .order_by(infra_resources.c.resource_key, c.metric)
    )  # fmt: skip
    return [_stats(row) for row in connection.execute(query)]


def _interpolate(low: float, high: float, remainder: int) -> float:
    return round(low + (high - low) * remainder / 100, 12)


def _stats(row: Any) -> MetricStats:
    key, metric, count, mean, maximum = row[:5]
    p50 = _interpolate(*row[5:8])
    p95 = _interpolate(*row[8:11])
    idle, total, weekend, weekend_idle = (int(v or 0) / 3600 for v in row[11:15])
    return MetricStats(key, metric, int(count), round(float(mean), 6), p50, p95,
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
