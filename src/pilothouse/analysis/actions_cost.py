"""GitHub Actions cost from job durations: GitHub's per-run billing endpoints are
being retired, and the usage report lags, so price the jobs the store holds."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal

from pilothouse.model import CostLine

SERVICE = "GitHub Actions"


def billed_minutes(started: datetime, finished: datetime) -> int:
    """GitHub rounds each job up to a whole minute.

    >>> from datetime import UTC, datetime, timedelta
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> billed_minutes(t, t + timedelta(seconds=61)), billed_minutes(t, t)
    (2, 0)
    """
    seconds = (finished - started).total_seconds()
    return max(0, math.ceil(seconds / 60))


def runner_rate(labels: Sequence[str], rates: Mapping[str, float]) -> tuple[str, float] | None:
    """The rate that applies to a job's runner labels; None for self-hosted runners.

    An exact label (a larger runner's name) wins; otherwise the OS the labels name.
    """
    if any(label.lower() == "self-hosted" for label in labels):
        return None
    for label in labels:
        if label in rates:
            return label, rates[label]
    text = " ".join(labels).lower()
    for os_name, hints in (
        ("windows", ("windows",)),
        ("macos", ("macos", "mac")),
        ("linux", ("ubuntu", "linux")),
    ):
        if os_name in rates and any(hint in text for hint in hints):
            return os_name, rates[os_name]
    return None


def actions_cost_lines(
    jobs: Iterable[tuple[str, str | None, str, str, datetime, datetime]],
    rates: Mapping[str, float],
    currency: str,
) -> list[CostLine]:
    """One cost line per billed job: minutes (rounded up) x its runner's rate."""
    lines = []
    for job_key, workflow, repository, labels_json, started, finished in jobs:
        labels = json.loads(labels_json or "[]")
        rate = runner_rate(labels, rates)
        minutes = billed_minutes(started, finished)
        if rate is None or minutes == 0:
            continue
        label, per_minute = rate
        lines.append(
            CostLine(
                source="actions-minutes",
                line_key=f"job:{job_key}",
                day=started.date(),
                service=SERVICE,
                amount=Decimal(str(per_minute)) * minutes,
                currency=currency,
                category="Usage",
                sku=label,
                quantity=Decimal(minutes),
                unit="minutes",
                repository=repository,
                workflow=workflow,
            )
        )
    return lines


def without_reported_days(
    computed: Iterable[CostLine], reported: Iterable[CostLine]
) -> list[CostLine]:
    """Computed Actions lines for the days (per repository) the usage report does not
    cover: no double count. A report line without a repository covers its whole day."""
    covered = {(line.day, line.repository) for line in reported if line.source == "github-usage"}
    return without_covered_days(computed, covered)


def without_covered_days(
    computed: Iterable[CostLine], covered: set[tuple[date, str | None]]
) -> list[CostLine]:
    """Computed Actions lines but for the (day, repository) pairs the usage report covers."""
    whole_days = {day for day, repository in covered if repository is None}
    return [
        line
        for line in computed
        if line.day not in whole_days and (line.day, line.repository) not in covered
    ]
