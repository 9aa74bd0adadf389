"""The edge of the routines: each cadence calls the data functions the other commands
print (`cost --json`, `cost alerts --json`, `score --json`, `flaky --json`, `report
--json`, `changes --json`, `release notes --format json`) on the open store, and
hands their documents to `routines.sections`."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pilothouse.analysis import pipelines as flow
from pilothouse.cli import cost as cost_cli
from pilothouse.cli.changes import changes_data
from pilothouse.cli.flaky import flaky_data
from pilothouse.cli.reports import report_data
from pilothouse.cli.score import score_data
from pilothouse.cli.state import State
from pilothouse.cli.window import Window, resolve_window
from pilothouse.errors import PilothouseError
from pilothouse.routines import sections
from pilothouse.routines.model import CADENCE_DAYS, Cadence, Report, Section
from pilothouse.store import Store

# The seam for infrastructure status (instances, runners): a function from the open
# store and the state to a Section, or None when there is no infrastructure data.
InfraReader = Callable[[Store, State], Section | None]


def store_infra(store: Store, state: State) -> Section | None:
    """The infra section from what `pilothouse infra --json` reads (None: nothing stored)."""
    from pilothouse.cli.infra import DEFAULT_WINDOW_DAYS, infra_data

    return sections.infra_section(infra_data(store, state, window_days=DEFAULT_WINDOW_DAYS))


@dataclass(frozen=True, slots=True)
class Sources:
    """Where a routine reads what the store does not hold."""

    infra: InfraReader = store_infra
    checkout: Path | None = None  # the git checkout of the changelog (None: the working dir)


def _currency(state: State) -> str:
    return str(state.config["cost.currency"]).upper()


def _window(state: State, days: int) -> Window:
    return resolve_window(state.now(), days=days, since=None, default_days=None)


def _cost(store: Store, state: State, days: int) -> dict[str, Any]:
    return cost_cli.cost_data(store, state, cost_cli.cost_window(state.now().date(), days))


def _infra(store: Store, state: State, sources: Sources) -> Section:
    return sources.infra(store, state) or sections.no_infrastructure_data()


def daily(store: Store, state: State, sources: Sources) -> list[Section]:
    now = state.now()
    window = _window(state, 1)
    flaky_window = _window(state, int(state.config["flaky.window_days"]))
    stored = store.run_range()
    return [
        sections.spend_vs_limit(
            _cost(store, state, 2), cost_cli.alerts_data(store, state), _currency(state)
        ),  # fmt: skip
        sections.sync_watchdog(
            store.repository_syncs(),
            stored[1] if stored else None,
            now,
            max_hours=float(state.config["routine.stale_hours"]),
            failures=store.sync_failures(),
        ),
        sections.failing_tests(
            report_data(store, state, window),
            flaky_data(store, state, flaky_window),
            newly_since=now - timedelta(days=1),
        ),
        _infra(store, state, sources),
    ]


def _changes(store: Store, state: State, days: int) -> Section:
    since = state.now() - timedelta(days=days)
    # the levels before the period come from the 90 days `changes` reads by default
    data = changes_data(store, state, _window(state, max(90, days + 30)))
    return sections.recent_changes(data, since.date())


def weekly(store: Store, state: State, sources: Sources) -> list[Section]:
    days = CADENCE_DAYS[Cadence.weekly]
    now = state.now()
    flaky_window = _window(state, int(state.config["flaky.window_days"]))
    return [
        sections.performance(score_data(store, state, window_days=days)),
        _changes(store, state, days),
        sections.failing_tests(
            report_data(store, state, _window(state, days)),
            flaky_data(store, state, flaky_window),
            newly_since=now - timedelta(days=days),
        ),
        sections.cost_tracking(
            _cost(store, state, 2 * days + 1),
            cost_cli.alerts_data(store, state),
            _currency(state),
            days=days,
            monthly_budget=float(state.config["budget.monthly"]),
        ),
    ]


def monthly(store: Store, state: State, sources: Sources) -> list[Section]:
    days = CADENCE_DAYS[Cadence.monthly]
    return [
        sections.cost_tracking(
            _cost(store, state, 2 * days + 1),
            cost_cli.alerts_data(store, state),
            _currency(state),
            days=days,
            monthly_budget=float(state.config["budget.monthly"]),
        ),
        _whatif(store, state, days),
        sections.performance(score_data(store, state, window_days=days)),
        _changes(store, state, days),
        _changelog(state, days, sources.checkout or state.cwd),
    ]


def quarterly(store: Store, state: State, sources: Sources) -> list[Section]:
    days = CADENCE_DAYS[Cadence.quarterly]
    return [
        sections.capacity(_capacity(store, state, days)),
        _infra(store, state, sources),
        sections.budget_forecast(
            _cost(store, state, days),
            _currency(state),
            monthly_budget=float(state.config["budget.monthly"]),
        ),
        sections.performance(score_data(store, state, window_days=30)),
    ]


def _capacity(store: Store, state: State, days: int) -> list[tuple[str, list[dict[str, Any]]]]:
    """Per 30-day period of the last *days*: each runner label set's jobs, busy hours
    and queue time (the Infrastructure page's label queues)."""
    now = state.now()
    jobs = store.job_times(now - timedelta(days=days))
    periods = []
    for start in range(days, 0, -30):
        first, last = now - timedelta(days=start), now - timedelta(days=max(start - 30, 0))
        chosen = [j for j in jobs if j.created_at is not None and first <= j.created_at < last]
        busy: dict[str, float] = {}
        for job in chosen:
            label = flow.labels_of(job.runner_labels)
            busy[label] = busy.get(label, 0.0) + max(job.seconds or 0.0, 0.0)
        labels = [
            {**q.as_dict(), "busy_hours": round(busy.get(q.labels, 0.0) / 3600, 2)}
            for q in flow.label_queues(chosen)
        ]
        periods.append((f"{first:%Y-%m-%d} to {last:%Y-%m-%d}", labels))
    return periods


def _whatif(store: Store, state: State, days: int) -> Section:
    if not state.config["whatif.scenarios"]:
        return sections.whatifs(None, "no saved scenarios: add [[whatif.scenarios]] to "
                                "pilothouse.toml (docs/routines.md)")  # fmt: skip
    span = cost_cli.cost_window(state.now().date(), days)
    result = cost_cli.whatif_data(store, state, span, cost_cli.saved_scenarios(state))
    if result is None:
        return sections.whatifs(None, "no cost data in the period to price the scenarios on")
    return sections.whatifs(result, "")


def _month_base(root: Path, since: datetime) -> str | None:
    """The last commit before *since* on HEAD of the checkout at *root*, if any."""
    try:
        found = subprocess.run(
            ["git", "-C", str(root), "rev-list", "-1", f"--before={since.isoformat()}", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    return found.stdout.strip() or None


def _changelog(state: State, days: int, root: Path) -> Section:
    """The period's commits of the checkout at *root*, as `release notes --unreleased
    --from COMMIT` would list them."""
    from pilothouse.cli.release import _request  # the release settings, as `release notes`
    from pilothouse.delivery.release import render
    from pilothouse.delivery.release.git import Repository
    from pilothouse.delivery.release.history import plan
    from pilothouse.delivery.release.notes import release_json

    since = state.now() - timedelta(days=days)
    try:
        repository = Repository.open(root)
    except PilothouseError as exc:
        return sections.changelog(None, f"no changelog: {exc}")
    base = _month_base(root, since)
    request = _request(state, since=base, unreleased=True)
    try:
        release = release_json(plan(repository, request).release)
    except PilothouseError as exc:
        return sections.changelog(None, f"no changelog: {exc}")
    note = f"since {base[:7]}" if base else "the whole history"
    return sections.changelog(release, note, render.markdown(release))


CADENCES: dict[Cadence, Callable[[Store, State, Sources], list[Section]]] = {
    Cadence.daily: daily,
    Cadence.weekly: weekly,
    Cadence.monthly: monthly,
    Cadence.quarterly: quarterly,
}


def build_report(
    store: Store, state: State, cadence: Cadence, sources: Sources | None = None
) -> Report:
    """The *cadence* routine's report over the store as it is now."""
    now = state.now()
    since = now - timedelta(days=CADENCE_DAYS[cadence])
    found = CADENCES[cadence](store, state, sources or Sources())
    return Report(cadence, now, since, tuple(found))
