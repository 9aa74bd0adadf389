"""Records of infrastructure status: resources, metric points, runners, window stats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

INSTANCE = "instance"
GROUP = "group"


@dataclass(frozen=True, slots=True)
class Resource:
    """An EC2 instance or an Auto Scaling group as DescribeInstances /
    DescribeAutoScalingGroups show it now.

    *key* is the instance id (``i-0abc...``) or ``asg:NAME``; *instance_type* of a group
    is its members' type when they share one (else the types joined by ``,``).
    """

    key: str
    kind: str  # INSTANCE | GROUP
    name: str
    region: str
    state: str  # running, stopped, ... for an instance; "3/3 InService" for a group
    instance_type: str
    group: str | None = None  # the Auto Scaling group an instance belongs to
    launched_at: datetime | None = None
    capacity: int | None = None  # a group's desired capacity


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One CloudWatch period of one metric of one resource."""

    resource: str  # Resource.key
    metric: str  # a METRICS name: cpu, memory, network_in, network_out, status_failed
    start: datetime
    period_seconds: int
    value: float


@dataclass(frozen=True, slots=True)
class Runner:
    """A self-hosted GitHub Actions runner as `GET .../actions/runners` lists it."""

    scope: str  # "repo:OWNER/NAME" or "org:ORG"
    runner_id: str
    name: str
    os: str
    status: str  # online | offline
    busy: bool
    labels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MetricStats:
    """One metric of one resource over a window, aggregated by the database."""

    resource: str
    metric: str
    points: int
    mean: float
    p50: float
    p95: float
    maximum: float
    below_idle_hours: float  # hours of periods below the idle threshold
    hours: float  # hours the points cover
    weekend_hours: float
    weekend_below_idle_hours: float
