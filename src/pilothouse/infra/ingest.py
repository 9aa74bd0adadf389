"""`ingest cloudwatch` and `ingest runners`: read the outside world, then write once.

Everything of a call is read first (describe, list, every GetMetricData page, every
runners page) and written in one transaction: a failed call writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pilothouse.infra import cloudwatch
from pilothouse.infra import metrics as plan
from pilothouse.infra.model import Runner
from pilothouse.store import Store


@dataclass(frozen=True, slots=True)
class CloudWatchCounts:
    """What one `ingest cloudwatch` read and stored."""

    instances: int
    groups: int
    new_resources: int
    queries: int
    points: int
    new_points: int

    def as_dict(self) -> dict[str, int]:
        return {"instances": self.instances, "groups": self.groups,
                "new_resources": self.new_resources, "queries": self.queries,
                "points": self.points, "new_points": self.new_points}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Selection:
    """What to read: named instances and groups, else the tagged instances."""

    instances: Sequence[str]
    groups: Sequence[str]
    watch_tag: str
    period_seconds: int
    backfill_days: int


def ingest_cloudwatch(
    store: Store, aws: Any, selection: Selection, *, now: datetime
) -> CloudWatchCounts:
    """Describe the resources, read each metric from its cursor to the newest settled
    period, and store it all with the cursors moved to that period's end."""
    resources = cloudwatch.discover(
        aws, instances=selection.instances, groups=selection.groups, watch_tag=selection.watch_tag
    )
    end = plan.read_end(now, selection.period_seconds)
    queries = plan.plan(
        resources,
        cloudwatch.agent_metrics(aws) if resources else {},
        store.infra_cursors(),
        end=end,
        backfill=timedelta(days=selection.backfill_days),
        period_seconds=selection.period_seconds,
    )
    points = list(cloudwatch.read_points(aws, queries, end=end,
                                         period_seconds=selection.period_seconds))  # fmt: skip
    read_through = {(q.resource, q.metric): end for q in queries}
    saved = store.save_infra(resources, points, read_through, seen_at=now)
    groups = sum(1 for r in resources if r.kind == "group")
    return CloudWatchCounts(len(resources) - groups, groups, saved.resources, len(queries),
                            len(points), saved.points)  # fmt: skip


def store_runners(
    store: Store, listings: Mapping[str, Sequence[Runner]], *, now: datetime
) -> dict[str, int]:
    """Each scope's listing replaces what the store held of it; counts per status."""
    new = store.replace_runners(listings, seen_at=now)
    listed = [runner for runners in listings.values() for runner in runners]
    return {
        "scopes": len(listings),
        "runners": len(listed),
        "new": new,
        "online": sum(1 for r in listed if r.status == "online"),
        "busy": sum(1 for r in listed if r.busy),
        "offline": sum(1 for r in listed if r.status != "online"),
    }
