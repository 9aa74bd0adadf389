"""Following a run: its state as records (pure), the lines and table that show it
(pure), and the loop that polls GitHub until the run completes."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from pilothouse.ci.polling import ConditionalGets
from pilothouse.errors import PilothouseError
from pilothouse.sources.github import GitHubError, parse_time

# A run ending so counts as passed: exit 0. Anything else (failure, cancelled,
# timed_out, action_required, startup_failure, stale) is exit 1.
PASSING = ("success", "neutral", "skipped")
_STYLE = {"success": "green", "failure": "bold red", "cancelled": "yellow"}


@dataclass(frozen=True, slots=True)
class StepView:
    number: int
    name: str
    status: str
    conclusion: str | None
    started: datetime | None
    completed: datetime | None


@dataclass(frozen=True, slots=True)
class JobView:
    id: int
    name: str
    status: str
    conclusion: str | None
    started: datetime | None
    completed: datetime | None
    steps: tuple[StepView, ...]


@dataclass(frozen=True, slots=True)
class RunView:
    """A run and the jobs of its latest attempt, as the last poll saw them."""

    id: int
    name: str
    attempt: int
    status: str
    conclusion: str | None
    html_url: str
    created: datetime | None
    updated: datetime | None
    jobs: tuple[JobView, ...]

    @property
    def done(self) -> bool:
        return self.status == "completed"


def _step(data: Mapping[str, Any]) -> StepView:
    return StepView(
        int(data["number"]),
        str(data.get("name") or ""),
        str(data.get("status") or ""),
        data.get("conclusion"),
        parse_time(data.get("started_at")),
        parse_time(data.get("completed_at")),
    )


def _job(data: Mapping[str, Any]) -> JobView:
    return JobView(
        int(data["id"]),
        str(data.get("name") or ""),
        str(data.get("status") or ""),
        data.get("conclusion"),
        parse_time(data.get("started_at")),
        parse_time(data.get("completed_at")),
        tuple(_step(s) for s in data.get("steps") or ()),
    )


def run_view(run: Mapping[str, Any], jobs: Sequence[Mapping[str, Any]]) -> RunView:
    """A RunView from GET /actions/runs/{id} and the jobs listing of its latest attempt."""
    return RunView(
        int(run["id"]),
        str(run.get("name") or ""),
        int(run.get("run_attempt") or 1),
        str(run.get("status") or ""),
        run.get("conclusion"),
        str(run.get("html_url") or ""),
        parse_time(run.get("created_at")),
        parse_time(run.get("updated_at")),
        tuple(_job(j) for j in jobs),
    )


def exit_code(view: RunView) -> int:
    """0 when the run passed (success, neutral, skipped), else 1."""
    return 0 if view.conclusion in PASSING else 1


def seconds(started: datetime | None, ended: datetime | None, now: datetime) -> float | None:
    """How long something ran: to its end, or to *now* while it runs."""
    if started is None:
        return None
    return max(0.0, ((ended or now) - started).total_seconds())


def duration_text(value: float | None) -> str:
    """
    >>> duration_text(None), duration_text(42), duration_text(3725)
    ('', '42s', '1h02m')
    """
    if value is None:
        return ""
    whole = int(value)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def state_text(status: str, conclusion: str | None) -> str:
    return conclusion if status == "completed" and conclusion else status


# -- plain lines (a pipe, a CI log): one per change --------------------------------------


def _states(view: RunView) -> Iterator[tuple[str, str, str]]:
    """(key, label, state) of the run, each job and each step."""
    yield (
        "run",
        f"run {view.id} ({view.name}, attempt {view.attempt})",
        state_text(view.status, view.conclusion),
    )
    for job in view.jobs:
        yield f"job:{job.id}", f"job {job.name}", state_text(job.status, job.conclusion)
        for step in job.steps:
            label = f"step {job.name} / {step.name}"
            yield f"step:{job.id}:{step.number}", label, state_text(step.status, step.conclusion)


def _ends(view: RunView) -> dict[str, tuple[datetime | None, datetime | None]]:
    times: dict[str, tuple[datetime | None, datetime | None]] = {"run": (view.created, None)}
    for job in view.jobs:
        times[f"job:{job.id}"] = (job.started, job.completed)
        for step in job.steps:
            times[f"step:{job.id}:{step.number}"] = (step.started, step.completed)
    return times


def changes(before: RunView | None, after: RunView) -> list[str]:
    """One line for the run, each job and each step whose state differs from *before*
    (everything on the first poll); a finished job or step with its duration."""
    old = {key: state for key, _label, state in _states(before)} if before else {}
    times = _ends(after)
    lines = []
    for key, label, state in _states(after):
        if old.get(key) == state:
            continue
        started, completed = times[key]
        took = duration_text(seconds(started, completed, completed)) if completed else ""
        lines.append(f"{label}: {state}" + (f" ({took})" if took else ""))
    if after.done and after.updated and (before is None or not before.done):
        took = duration_text(seconds(after.created, after.updated, after.updated))
        lines.append(f"{after.html_url}: {state_text(after.status, after.conclusion)} in {took}")
    return lines


# -- the live table (a terminal) ----------------------------------------------------------


def _styled(state: str) -> Text:
    return Text(state, style=_STYLE.get(state, "cyan" if state == "in_progress" else ""))


def table(view: RunView, now: datetime) -> Group:
    """A headline, then the jobs and their steps, state and duration; steps are shown for
    jobs that run or did not succeed (a finished good job is one line)."""
    title = (
        f"{view.name} run {view.id} (attempt {view.attempt}): "
        f"{state_text(view.status, view.conclusion)}"
    )
    grid = Table(expand=False)
    grid.add_column("job / step")
    grid.add_column("state")
    grid.add_column("duration", justify="right")
    for job in view.jobs:
        state = state_text(job.status, job.conclusion)
        took = duration_text(seconds(job.started, job.completed, now))
        grid.add_row(Text(job.name, style="bold"), _styled(state), took)
        if job.status == "completed" and job.conclusion in PASSING:
            continue
        for step in job.steps:
            step_state = state_text(step.status, step.conclusion)
            step_took = duration_text(seconds(step.started, step.completed, now))
            grid.add_row(Text(f"  {step.name}"), _styled(step_state), step_took)  # not markup
    return Group(Text(title), grid)


# -- polling ------------------------------------------------------------------------------


class RunPoller:
    """Reads one run and its latest attempt's jobs, with ETags (a 304 is free)."""

    def __init__(self, gets: ConditionalGets, repo: str, run_id: int) -> None:
        self.gets, self.repo, self.run_id = gets, repo, run_id

    def poll(self) -> RunView:
        base = f"/repos/{self.repo}/actions/runs/{self.run_id}"
        run = self.gets.get(base)
        jobs: list[Mapping[str, Any]] = []
        data = self.gets.get(f"{base}/jobs", {"per_page": 100})
        jobs += data.get("jobs") or []
        total = int(data.get("total_count") or 0)
        page = 2
        while len(jobs) < total and page <= 10:  # past 1,000 jobs the rest is not shown
            more = self.gets.get(f"{base}/jobs", {"per_page": 100, "page": page}).get("jobs")
            if not more:
                break
            jobs += more
            page += 1
        try:
            return run_view(run, jobs)
        except (KeyError, ValueError, TypeError) as exc:
            raise GitHubError(f"{base}: unexpected answer from GitHub: {exc!r}") from None


def follow(
    poller: RunPoller,
    *,
    interval: float,
    sleep: Callable[[float], None],
    show: Callable[[RunView | None, RunView], None],
    max_polls: int | None = None,
) -> RunView:
    """Poll until the run completes, handing each view (and the one before) to *show*."""
    before: RunView | None = None
    polls = 0
    while True:
        view = poller.poll()
        polls += 1
        show(before, view)
        if view.done:
            return view
        if max_polls is not None and polls >= max_polls:
            raise PilothouseError(
                f"run {view.id} still {view.status} after {polls} polls: {view.html_url}"
            )
        before = view
        sleep(interval)
