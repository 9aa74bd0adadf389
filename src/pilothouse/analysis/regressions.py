"""Regressions and anomalies per workflow and metric: observations (one per run or
job) become daily points, `changepoints.detect` finds level shifts and outliers in
them, and each shift is laid next to what changed in its window: the commits first
seen there, the runner labels that came or went, the workflow files updated.

Pure: records in, records out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from statistics import median
from typing import Any

from pilothouse.analysis import changepoints as cp


@dataclass(frozen=True, slots=True)
class Metric:
    """A metric the command watches: its unit, and which way is worse."""

    name: str
    title: str
    unit: str
    higher_is_worse: bool
    pooled: bool = False  # a rate: a day's value pools its runs' counts (weights)


METRICS = {
    m.name: m
    for m in (
        Metric("build_time", "Build time", "s", True),
        Metric("test_time", "Test time", "s", True),
        Metric("run_time", "Run time", "s", True),  # workflows neither build nor test
        Metric("queue_time", "Queue time", "s", True),
        Metric("pass_rate", "Test pass rate", "%", False, pooled=True),
        Metric("cache_hit_rate", "Cache hit rate", "%", False, pooled=True),
        Metric("daily_cost", "Daily cost", "", True),
    )
}


@dataclass(frozen=True, slots=True)
class Observation:
    """One run's (or job's) value of a metric, with what it ran on."""

    workflow: str
    at: datetime
    value: float
    weight: float = 1.0
    commit: str | None = None
    labels: str = ""  # runner label sets, "a,b; c"


@dataclass(frozen=True, slots=True)
class Point:
    """A day of a series: its value and what its runs were."""

    day: date
    value: float
    count: int
    commits: tuple[str, ...] = ()
    labels: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class Series:
    metric: Metric
    workflow: str
    points: tuple[Point, ...]


@dataclass(frozen=True, slots=True)
class Change:
    """A level shift of one series, with what changed in its window."""

    metric: Metric
    workflow: str
    day: date  # the first day at the new level
    last_before: date  # the last day at the old level
    shift: cp.Shift
    commits: tuple[str, ...]
    labels_added: tuple[str, ...]
    labels_removed: tuple[str, ...]
    workflow_files: tuple[str, ...]

    @property
    def verdict(self) -> str:
        worse = (self.shift.change > 0) == self.metric.higher_is_worse
        return "regression" if worse else "improvement"

    def as_dict(self) -> dict[str, Any]:
        shift = self.shift
        return {
            "metric": self.metric.name,
            "workflow": self.workflow,
            "verdict": self.verdict,
            "day": self.day.isoformat(),
            "window": [self.last_before.isoformat(), self.day.isoformat()],
            "unit": self.metric.unit,
            "before": _level(shift.before),
            "after": _level(shift.after),
            "change": round(shift.change, 3),
            "relative": None if shift.relative is None else round(shift.relative, 4),
            "commits": list(self.commits),
            "runner_labels": {
                "added": list(self.labels_added),
                "removed": list(self.labels_removed),
            },  # fmt: skip
            "workflow_files": list(self.workflow_files),
        }


@dataclass(frozen=True, slots=True)
class Anomaly:
    """A single day far from both of its neighbourhoods: not a change of level."""

    metric: Metric
    workflow: str
    day: date
    value: float
    expected: float
    sigmas: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric.name,
            "workflow": self.workflow,
            "day": self.day.isoformat(),
            "unit": self.metric.unit,
            "value": round(self.value, 3),
            "expected": round(self.expected, 3),
            "sigmas": self.sigmas,
        }


def _level(level: cp.Level) -> dict[str, Any]:
    return {
        "median": round(level.median, 3),
        "interval": [round(level.low, 3), round(level.high, 3)],
        "days": level.points,
    }


def _day_value(items: Sequence[Observation], pooled: bool) -> float:
    if not pooled:
        return median(o.value for o in items)
    weight = sum(o.weight for o in items)
    return sum(o.value * o.weight for o in items) / weight


def daily_points(observations: Iterable[Observation], *, pooled: bool = False) -> list[Point]:
    """One point per UTC day with observations: the median of the day (a rate: its
    runs pooled by weight), the day's commits in order, its runner label sets."""
    days: dict[date, list[Observation]] = {}
    for item in sorted(observations, key=lambda o: o.at):
        days.setdefault(item.at.date(), []).append(item)
    points = []
    for day, items in sorted(days.items()):
        commits = tuple(dict.fromkeys(o.commit for o in items if o.commit))
        labels = frozenset(part for o in items for part in o.labels.split("; ") if part)
        points.append(Point(day, _day_value(items, pooled), len(items), commits, labels))
    return points


def series_of(
    metric: Metric, observations: Iterable[Observation], workflows: Sequence[str] | None = None
) -> list[Series]:
    """A series per workflow (only *workflows*, when given) of *metric*."""
    by_workflow: dict[str, list[Observation]] = {}
    for item in observations:
        if workflows is None or item.workflow in workflows:
            by_workflow.setdefault(item.workflow, []).append(item)
    return [
        Series(metric, name, tuple(daily_points(items, pooled=metric.pooled)))
        for name, items in sorted(by_workflow.items())
    ]


# A workflow file updated this many days before a change's window still counts: the
# first runs after an edit may land a day later.
FILE_SLACK_DAYS = 1


def _files_in(
    files: Sequence[tuple[str, str, datetime | None]], workflow: str, start: date, end: date
) -> tuple[str, ...]:
    return tuple(
        f"{path} (updated {updated:%Y-%m-%d %H:%M})"
        for name, path, updated in files
        if name == workflow
        and updated is not None
        and (start.toordinal() - FILE_SLACK_DAYS) <= updated.date().toordinal() <= end.toordinal()
    )


def _change(
    series: Series, shift: cp.Shift, files: Sequence[tuple[str, str, datetime | None]]
) -> Change:
    before, after = series.points[shift.index - 1], series.points[shift.index]
    earlier = {c for p in series.points[: shift.index] for c in p.commits}
    return Change(
        metric=series.metric,
        workflow=series.workflow,
        day=after.day,
        last_before=before.day,
        shift=shift,
        commits=tuple(c for c in after.commits if c not in earlier),
        labels_added=tuple(sorted(after.labels - before.labels)),
        labels_removed=tuple(sorted(before.labels - after.labels)),
        workflow_files=_files_in(files, series.workflow, before.day, after.day),
    )


# Weekday factors are used when a series has this many days, every weekday among
# them, and a weekday that differs from the week's run by WEEKDAY_EFFECT or more.
WEEKDAY_MIN_DAYS = 21
WEEKDAY_EFFECT = 0.1


def weekday_factors(points: Sequence[Point]) -> dict[int, float] | None:
    """Each weekday's typical ratio to the median of the week around it, when the
    series has a weekly rhythm (spend that drops every weekend); None when it has not,
    or too few days to tell. A weekend is then no anomaly, and a level is compared
    weekday-adjusted.

    >>> days = [Point(date(2026, 11, 2) + timedelta(days=i), 60.0 if i % 7 > 4 else 100.0, 1)
    ...         for i in range(28)]
    >>> factors = weekday_factors(days)
    >>> factors[0], factors[5]
    (1.0, 0.6)
    """
    if len(points) < WEEKDAY_MIN_DAYS:
        return None
    values = [p.value for p in points]
    ratios: dict[int, list[float]] = {}
    for index, point in enumerate(points):
        base = median(values[max(0, index - 3) : index + 4])
        if base > 0:
            ratios.setdefault(point.day.weekday(), []).append(point.value / base)
    if len(ratios) < 7 or min(len(r) for r in ratios.values()) < 3:
        return None
    factors = {weekday: median(found) for weekday, found in ratios.items()}
    if all(abs(f - 1) < WEEKDAY_EFFECT for f in factors.values()) or min(factors.values()) <= 0:
        return None
    return factors


def _adjusted(points: Sequence[Point], factors: dict[int, float] | None) -> list[float]:
    if factors is None:
        return [p.value for p in points]
    return [p.value / factors[p.day.weekday()] for p in points]


@dataclass(frozen=True, slots=True)
class Found:
    changes: list[Change]
    anomalies: list[Anomaly]


def analyse(
    series: Iterable[Series], files: Sequence[tuple[str, str, datetime | None]] = ()
) -> Found:
    """Level shifts and anomalies of every series, newest first (weekday-adjusted
    when a series has a weekly rhythm, see weekday_factors); each shift with the
    commits first seen on its first new day, the runner labels that came or went
    between its last old day and first new one, and the workflow files (name, path,
    updated) updated in that window."""
    changes: list[Change] = []
    anomalies: list[Anomaly] = []
    for item in series:
        factors = weekday_factors(item.points)
        found = cp.detect(_adjusted(item.points, factors))
        changes += [_change(item, shift, files) for shift in found.changes]
        for outlier in found.outliers:
            point = item.points[outlier.index]
            factor = 1.0 if factors is None else factors[point.day.weekday()]
            anomalies.append(
                Anomaly(
                    item.metric,
                    item.workflow,
                    point.day,
                    point.value,
                    outlier.expected * factor,
                    outlier.sigmas,
                )  # fmt: skip
            )
    changes.sort(key=lambda c: (c.day, c.metric.name, c.workflow), reverse=True)
    anomalies.sort(key=lambda a: (a.day, a.metric.name, a.workflow), reverse=True)
    return Found(changes, anomalies)
