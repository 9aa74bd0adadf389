"""Pipelines and runners from the store's run attempts, jobs and steps: per workflow
duration, queue time, success and re-run rates; the slowest jobs and steps; queue time
per runner label; a run's jobs as a timeline. Pure: records in, records out."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from pilothouse.analysis.test_stats import percentile
from pilothouse.model import AttemptTimes, JobTimes

# A run that was cancelled or skipped did not run to its end: its time says nothing
# about how long the workflow takes (the scorecard's rule too).
NOT_TIMED = frozenset({"cancelled", "skipped"})
NO_WORKFLOW = "(no workflow)"
SLOWEST = 10

K = TypeVar("K", bound=Hashable)


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _p(values: Sequence[float], q: float) -> float | None:
    return _round(percentile(values, q)) if values else None


def _day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def workflow_of(name: str | None) -> str:
    return name if name else NO_WORKFLOW


def latest_attempts(attempts: Iterable[AttemptTimes]) -> list[AttemptTimes]:
    """The latest attempt of each run (repository, run id): it speaks for the run."""
    latest: dict[tuple[int, str], AttemptTimes] = {}
    for item in attempts:
        key = (item.repository_id, item.run_key)
        if key not in latest or item.attempt > latest[key].attempt:
            latest[key] = item
    return sorted(latest.values(), key=lambda a: (a.created_at, a.run_key))


def is_timed(item: AttemptTimes) -> bool:
    """A completed run that ran to its end, with both its start and end known."""
    return (
        item.status == "completed" and item.conclusion not in NOT_TIMED and item.seconds is not None
    )


@dataclass(frozen=True, slots=True)
class WorkflowStats:
    """One workflow's runs in a window."""

    workflow: str
    runs: int
    attempts: int
    rerun: int  # runs with more than one attempt
    succeeded: int  # runs whose latest attempt succeeded
    concluded: int  # runs whose latest attempt ran to its end
    duration_p50: float | None
    duration_p90: float | None
    queue_p50: float | None
    queue_p90: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow,
            "runs": self.runs,
            "attempts": self.attempts,
            "attempts_per_run": round(self.attempts / self.runs, 3) if self.runs else None,
            "rerun_rate": round(self.rerun / self.runs, 4) if self.runs else None,
            "success_rate": round(self.succeeded / self.concluded, 4) if self.concluded else None,
            "duration_p50_seconds": self.duration_p50,
            "duration_p90_seconds": self.duration_p90,
            "queue_p50_seconds": self.queue_p50,
            "queue_p90_seconds": self.queue_p90,
        }


def _group(items: Iterable[Any], key: Callable[[Any], K]) -> dict[K, list[Any]]:
    found: dict[K, list[Any]] = defaultdict(list)
    for item in items:
        found[key(item)].append(item)
    return found


def workflow_stats(
    attempts: Sequence[AttemptTimes], jobs: Sequence[JobTimes]
) -> list[WorkflowStats]:
    """Per workflow, busiest first: runs, attempts, re-runs, success rate (of the runs
    that ran to their end), run duration p50/p90 (latest attempts), job queue p50/p90."""
    by_workflow = _group(attempts, lambda a: workflow_of(a.workflow))
    queues = _group(
        (j for j in jobs if j.queued_seconds is not None), lambda j: workflow_of(j.workflow)
    )
    found = []
    for name, items in by_workflow.items():
        latest = latest_attempts(items)
        timed = [a for a in latest if is_timed(a)]
        concluded = [a for a in latest if a.status == "completed" and a.conclusion not in NOT_TIMED]
        durations = [a.seconds for a in timed if a.seconds is not None]
        waits = [max(0.0, j.queued_seconds) for j in queues.get(name, [])]
        found.append(
            WorkflowStats(
                workflow=name,
                runs=len(latest),
                attempts=len(items),
                rerun=sum(1 for a in latest if a.attempt > 1),
                succeeded=sum(1 for a in concluded if a.conclusion == "success"),
                concluded=len(concluded),
                duration_p50=_p(durations, 50),
                duration_p90=_p(durations, 90),
                queue_p50=_p(waits, 50),
                queue_p90=_p(waits, 90),
            )
        )
    return sorted(found, key=lambda w: (-w.runs, w.workflow))


def days_between(first: date, last: date) -> list[date]:
    """Every day from *first* to *last*, both included."""
    return [date.fromordinal(n) for n in range(first.toordinal(), last.toordinal() + 1)]


def daily_durations(
    attempts: Sequence[AttemptTimes], days: Sequence[date]
) -> dict[str, dict[str, list[float | None]]]:
    """Per workflow and day (of the run's creation), the p50 and p90 duration of the
    runs that ran to their end; None on a day without one."""
    found: dict[str, dict[str, list[float | None]]] = {}
    timed = [a for a in latest_attempts(attempts) if is_timed(a)]
    for name, items in sorted(_group(timed, lambda a: workflow_of(a.workflow)).items()):
        per_day = _group(items, lambda a: _day(a.created_at))
        values = [[a.seconds for a in per_day.get(day, [])] for day in days]
        found[name] = {"p50": [_p(v, 50) for v in values], "p90": [_p(v, 90) for v in values]}
    return found


@dataclass(frozen=True, slots=True)
class Slowest:
    """One job (or step) name's times over a window."""

    key: tuple[str, ...]
    count: int
    p50: float | None
    p90: float | None
    max: float | None


def slowest(items: Iterable[tuple[tuple[str, ...], float | None]], limit: int) -> list[Slowest]:
    """The *limit* keys (workflow, job[, step]) with the longest p50 time, with their
    count (timed ones), p90 and longest time."""
    by_key: dict[tuple[str, ...], list[float]] = defaultdict(list)
    for key, seconds in items:
        if seconds is not None:
            by_key[key].append(max(0.0, seconds))
    ranked = [
        Slowest(key, len(values), _p(values, 50), _p(values, 90), _round(max(values)))
        for key, values in by_key.items()
    ]
    ranked.sort(key=lambda s: (-(s.p50 or 0.0), -(s.p90 or 0.0), s.key))
    return ranked[:limit]


def labels_of(runner_labels: str) -> str:
    """A job's runner labels as one readable key ("self-hosted, linux, x64")."""
    try:
        labels = json.loads(runner_labels or "[]")
    except ValueError:
        labels = [runner_labels]
    if not isinstance(labels, list) or not labels:
        return "(no label)"
    return ", ".join(str(label) for label in labels)


@dataclass(frozen=True, slots=True)
class LabelQueue:
    """The jobs that asked for one set of runner labels, and their wait for a runner."""

    labels: str
    jobs: int
    queue_p50: float | None
    queue_p90: float | None
    queue_max: float | None
    last_used: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "jobs": self.jobs,
            "queue_p50_seconds": self.queue_p50,
            "queue_p90_seconds": self.queue_p90,
            "queue_max_seconds": self.queue_max,
            "last_used": self.last_used,
        }


def label_queues(jobs: Sequence[JobTimes]) -> list[LabelQueue]:
    """Per runner label set, most used first: jobs and queue time p50/p90/max."""
    found = []
    for labels, items in _group(jobs, lambda j: labels_of(j.runner_labels)).items():
        waits = [max(0.0, j.queued_seconds) for j in items if j.queued_seconds is not None]
        created = [j.created_at for j in items if j.created_at is not None]
        found.append(
            LabelQueue(
                labels,
                len(items),
                _p(waits, 50),
                _p(waits, 90),
                _round(max(waits)) if waits else None,
                max(created) if created else None,
            )
        )
    return sorted(found, key=lambda q: (-q.jobs, q.labels))


def daily_label_queues(
    jobs: Sequence[JobTimes], days: Sequence[date]
) -> dict[str, list[float | None]]:
    """Per runner label set and day (of the job's creation), the p90 queue time."""
    waited = [j for j in jobs if j.queued_seconds is not None and j.created_at is not None]
    found: dict[str, list[float | None]] = {}
    for labels, items in sorted(_group(waited, lambda j: labels_of(j.runner_labels)).items()):
        per_day = _group(items, lambda j: _day(j.created_at))
        found[labels] = [
            _p([max(0.0, j.queued_seconds) for j in per_day.get(day, [])], 90) for day in days
        ]
    return found


@dataclass(frozen=True, slots=True)
class Bar:
    """One job on a run's timeline: offsets from the run's first job creation, in
    seconds and as a share (0..100) of the whole span."""

    index: int  # the job's position in the run's job list
    queued_from: float | None
    started: float | None
    finished: float | None
    left: float  # percent: where the bar (queue included) starts
    queue_width: float  # percent
    run_width: float  # percent

    @property
    def run_left(self) -> float:
        """Percent: where the run part starts (after the queue part)."""
        return round(self.left + self.queue_width, 2)


def timeline(
    spans: Sequence[tuple[datetime | None, datetime | None, datetime | None]],
) -> list[Bar]:
    """A bar per job given as (created, started, finished): a job without a start has
    no run part, one without an end runs to the latest known time, one without any
    time is an empty bar at the start."""
    known = [moment for span in spans for moment in span if moment is not None]
    if not known:
        return [Bar(index, None, None, None, 0.0, 0.0, 0.0) for index in range(len(spans))]
    origin, end = min(known), max(known)
    whole = max((end - origin).total_seconds(), 1.0)

    def offset(moment: datetime | None) -> float | None:
        return None if moment is None else (moment - origin).total_seconds()

    def share(seconds: float) -> float:
        return round(100.0 * seconds / whole, 2)

    bars = []
    for index, (created, started, finished) in enumerate(spans):
        queued, begun, done = offset(created), offset(started), offset(finished)
        first = queued if queued is not None else begun
        left = first if first is not None else 0.0
        run_from = begun if begun is not None else left
        run_to = done if done is not None else (whole if begun is not None else run_from)
        bars.append(
            Bar(
                index,
                _round(queued),
                _round(begun),
                _round(done),
                share(left),
                share(max(0.0, run_from - left)),
                share(max(0.0, run_to - run_from)),
            )
        )
    return bars


# A repository synced longer ago than this is shown as stale: CI data a day old no
# longer describes today's pipeline (a scheduled sync runs at least daily).
STALE_AFTER_SECONDS = 24 * 3600


def sync_freshness(synced_at: datetime | None, now: datetime) -> tuple[str, float | None]:
    """("never" | "fresh" | "stale", seconds since the last complete sync)."""
    if synced_at is None:
        return "never", None
    age = max(0.0, (now - synced_at).total_seconds())
    return ("stale" if age > STALE_AFTER_SECONDS else "fresh"), round(age, 1)
