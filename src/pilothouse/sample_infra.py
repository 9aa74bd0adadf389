"""The sample's infrastructure: the two EC2 instances its cost export bills
(`sample_costs.RESOURCES`) with hourly CloudWatch points, as `ingest cloudwatch` stores
them. The runner pool is busy on weekdays and half busy on weekends; the build cache idles,
and idles through weekends: `infra` advises weekday-only provisioning and a smaller size
for it, and `cost whatif --from-infra` prices that on the sample's bills."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from pilothouse.infra.model import INSTANCE, MetricPoint, Resource

REGION = "us-east-1"
HOUR = 3600
RESOURCES = (
    Resource("i-ci-runner-pool", INSTANCE, "ci-runner-pool", REGION, "running", "c6i.4xlarge"),
    Resource("i-build-cache", INSTANCE, "build-cache", REGION, "running", "m5.2xlarge"),
)
Curve = Callable[[datetime, random.Random], float]


def _runners_cpu(at: datetime, rng: random.Random) -> float:
    if at.weekday() >= 5:
        return rng.uniform(15, 30)
    return rng.uniform(55, 85) if 8 <= at.hour < 20 else rng.uniform(10, 25)


def _cache_cpu(at: datetime, rng: random.Random) -> float:
    return rng.uniform(1, 3) if at.weekday() >= 5 else rng.uniform(4, 12)


CURVES: dict[str, dict[str, Curve]] = {
    "i-ci-runner-pool": {
        "cpu": _runners_cpu,
        "memory": lambda at, rng: rng.uniform(45, 70),
        "network_in": lambda at, rng: rng.uniform(2e9, 6e9),
        "network_out": lambda at, rng: rng.uniform(5e8, 2e9),
    },
    "i-build-cache": {
        "cpu": _cache_cpu,
        "memory": lambda at, rng: rng.uniform(30, 40),
        "network_in": lambda at, rng: rng.uniform(1e8, 4e8),
        "network_out": lambda at, rng: rng.uniform(1e9, 3e9),
    },
}


def infra_points(*, days: int, end: date, seed: int) -> list[MetricPoint]:
    """Hourly points of every metric of RESOURCES over the *days* days before *end*; one
    failed status check on the runner pool three days before *end*."""
    rng = random.Random(f"infra-{seed}")
    start = datetime.combine(end - timedelta(days=days), time(), tzinfo=UTC)
    failed = datetime.combine(end - timedelta(days=3), time(14), tzinfo=UTC)
    points = []
    for hour in range(days * 24):
        at = start + timedelta(hours=hour)
        for resource in RESOURCES:
            for metric, curve in CURVES[resource.key].items():
                value = round(curve(at, rng), 3)
                points.append(MetricPoint(resource.key, metric, at, HOUR, value))
            down = 1.0 if resource.key == "i-ci-runner-pool" and at == failed else 0.0
            points.append(MetricPoint(resource.key, "status_failed", at, HOUR, down))
    return points
