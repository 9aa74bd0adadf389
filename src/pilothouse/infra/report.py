"""What the stored status says (pure): per instance and group its utilisation over the
window, idle hours, and what weekday-only provisioning and right-sizing would save; per
runner label set the runners that can take its jobs. Also the `cost whatif` scenarios
these make, so the what-if reads the store instead of a hand-made utilisation CSV.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pilothouse.analysis import whatif
from pilothouse.infra.model import GROUP, MetricStats, Resource, Runner

# A resource whose weekend periods are at least this idle (CPU below the threshold)
# would lose nothing by running Monday to Friday only.
WEEKEND_IDLE_SHARE = 0.9
WEEKEND_HOURS_PER_WEEK = 48
# Fewest hours of CPU points a recommendation needs (a day at least).
MIN_HOURS = 24.0


@dataclass(frozen=True, slots=True)
class Thresholds:
    idle_cpu: float  # percent: a period below it is idle
    target_cpu: float  # percent: the p95 CPU a smaller size may reach


@dataclass(frozen=True, slots=True)
class Status:
    """One instance or group over the window."""

    resource: Resource
    seen_at: datetime
    stats: Mapping[str, MetricStats]
    weekdays_only: bool
    rightsize: whatif.Recommendation | None
    hourly_price: float | None

    @property
    def units(self) -> int:
        """Instances this row stands for (a group: its desired capacity)."""
        if self.resource.kind == GROUP:
            return self.resource.capacity or 0
        return 1 if self.resource.state == "running" else 0

    def saving_per_day(self) -> dict[str, float | None]:
        """Money per day each recommendation saves at cost.instance_prices (None: no price)."""
        price = self.hourly_price
        weekdays = rightsize = None
        if price is not None:
            weekdays = (
                price * self.units * WEEKEND_HOURS_PER_WEEK / 7 if self.weekdays_only else 0.0
            )
            ratio = float(self.rightsize.price_ratio) if self.rightsize else 1.0
            rightsize = price * self.units * 24 * (1 - ratio)
        return {"weekdays_only": _money(weekdays), "rightsize": _money(rightsize)}


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _single_type(resource: Resource) -> str | None:
    types = resource.instance_type.split(",")
    return types[0] if len(types) == 1 and types[0] else None


def judge(
    resource: Resource,
    seen_at: datetime,
    stats: Mapping[str, MetricStats],
    prices: Mapping[str, float],
    thresholds: Thresholds,
) -> Status:
    """One resource's status and recommendations from its window's stats."""
    cpu = stats.get("cpu")
    kind = _single_type(resource)
    weekdays = rightsize = None
    if cpu is not None and cpu.hours >= MIN_HOURS:
        weekdays = bool(cpu.weekend_hours) and (
            cpu.weekend_below_idle_hours / cpu.weekend_hours >= WEEKEND_IDLE_SHARE
        )
        if kind is not None:
            usage = whatif.Utilisation(resource.key, kind, cpu.p95)
            rightsize = whatif.recommend_size(usage, prices, target_cpu=thresholds.target_cpu)
    price = prices.get(kind) if kind is not None else None
    return Status(resource, seen_at, stats, bool(weekdays), rightsize, price)


def statuses(
    resources: Iterable[tuple[Resource, datetime]],
    stats: Iterable[MetricStats],
    prices: Mapping[str, float],
    thresholds: Thresholds,
) -> list[Status]:
    """Every resource with its window's stats (none when it sent no point)."""
    by_resource: dict[str, dict[str, MetricStats]] = {}
    for item in stats:
        by_resource.setdefault(item.resource, {})[item.metric] = item
    return [
        judge(resource, seen, by_resource.get(resource.key, {}), prices, thresholds)
        for resource, seen in resources
    ]


def _metric(stats: MetricStats | None) -> dict[str, Any] | None:
    if stats is None:
        return None
    return {"p50": round(stats.p50, 2), "p95": round(stats.p95, 2),
            "max": round(stats.maximum, 2), "mean": round(stats.mean, 2),
            "points": stats.points}  # fmt: skip


def _gigabytes(stats: MetricStats | None) -> float | None:
    return None if stats is None else round(stats.mean * stats.points / 1e9, 3)


def status_dict(status: Status) -> dict[str, Any]:
    """A status as `infra --json` prints it."""
    r, s = status.resource, status.stats
    cpu = s.get("cpu")
    failed = s.get("status_failed")
    return {
        "key": r.key, "kind": r.kind, "name": r.name, "region": r.region, "state": r.state,
        "instance_type": r.instance_type, "group": r.group, "capacity": r.capacity,
        "launched_at": r.launched_at, "seen_at": status.seen_at,
        "cpu_percent": _metric(cpu), "memory_percent": _metric(s.get("memory")),
        "network_in_gb": _gigabytes(s.get("network_in")),
        "network_out_gb": _gigabytes(s.get("network_out")),
        "status_check_failed": None if failed is None else failed.maximum > 0,
        "hours": None if cpu is None else round(cpu.hours, 2),
        "idle_hours": None if cpu is None else round(cpu.below_idle_hours, 2),
        "weekend_hours": None if cpu is None else round(cpu.weekend_hours, 2),
        "weekend_idle_hours": None if cpu is None else round(cpu.weekend_below_idle_hours, 2),
        "weekdays_only": status.weekdays_only,
        "rightsize_to": status.rightsize.proposed if status.rightsize else None,
        "rightsize_projected_cpu_p95": status.rightsize.projected_cpu if status.rightsize else None,
        "hourly_price": status.hourly_price,
        "saving_per_day": status.saving_per_day(),
    }  # fmt: skip


# -- feeding `cost whatif` ----------------------------------------------------------------


def members(items: Sequence[Status], group: str) -> list[str]:
    return [s.resource.key for s in items if s.resource.kind != GROUP and s.resource.group == group]


def whatif_scenarios(
    items: Sequence[Status], prices: Mapping[str, float], target_cpu: float
) -> list[whatif.Scenario]:
    """The `cost whatif` scenarios of the stored utilisation: right-size each instance
    by its p95 CPU (as `--rightsize-from CSV` would), and run Monday to Friday only the
    instances (and groups' instances) idle on weekends. Cost lines meet them by resource
    id: the instance id, as AWS CUR and FOCUS name EC2 resources."""
    usages = [
        whatif.Utilisation(s.resource.key, s.resource.instance_type, s.stats["cpu"].p95)
        for s in items
        if s.resource.kind != GROUP and "cpu" in s.stats and s.stats["cpu"].hours >= MIN_HOURS
    ]
    found = []
    if usages:
        scenario, _ = whatif.rightsize_from_utilisation(usages, prices, target_cpu=target_cpu)
        found.append(scenario)
    weekend = sorted({key for s in items if s.weekdays_only
                      for key in ([s.resource.key] if s.resource.kind != GROUP
                                  else members(items, s.resource.name))})  # fmt: skip
    if weekend:
        found.append(whatif.weekdays_only(weekend))
    return found


# -- runners and their queues -------------------------------------------------------------


def _folded(labels: Iterable[str]) -> set[str]:
    return {label.casefold() for label in labels}


def runners_for(labels: Sequence[str], runners: Sequence[Runner]) -> dict[str, int]:
    """The runners whose labels hold every label a job asked for, by state: online and
    idle, busy, offline (labels compare without case, as GitHub matches them)."""
    asked = _folded(labels)
    able = [r for r in runners if asked and asked <= _folded(r.labels)]
    return {
        "idle": sum(1 for r in able if r.status == "online" and not r.busy),
        "busy": sum(1 for r in able if r.status == "online" and r.busy),
        "offline": sum(1 for r in able if r.status != "online"),
    }


def runner_dict(runner: Runner, seen_at: datetime) -> dict[str, Any]:
    return {"scope": runner.scope, "id": runner.runner_id, "name": runner.name,
            "os": runner.os, "status": runner.status, "busy": runner.busy,
            "labels": list(runner.labels), "seen_at": seen_at}  # fmt: skip


def total_saving(items: Sequence[Status]) -> dict[str, float | None]:
    """What every recommendation together saves per day (priced ones only)."""
    sums: dict[str, float | None] = {}
    for name in ("weekdays_only", "rightsize"):
        values = [v for s in items if (v := s.saving_per_day()[name]) is not None]
        sums[name] = round(sum(values), 2) if values else None
    return sums
