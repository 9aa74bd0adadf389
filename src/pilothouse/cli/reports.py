"""`pilothouse tests`, `runs` and `report`: read the store back."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from pilothouse.analysis.test_stats import TestStats, failing_tests, summarize_tests
from pilothouse.cli.output import percent, print_json, seconds, stdout_console, when
from pilothouse.cli.settings import validated_by
from pilothouse.cli.state import State, state_of
from pilothouse.model import RunSummary

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
LimitOption = Annotated[
    int | None,
    typer.Option(
        help="Rows to show (default: report.limit; --json: all).",
        callback=validated_by("report.limit"),
    ),
]


def _limit(state: State, limit: int | None) -> int:
    return limit if limit is not None else int(state.config["report.limit"])


def _tests_table(title: str, stats: list[TestStats]) -> Table:
    table = Table(title=title, title_justify="left")
    for header in ("test", "runs", "pass rate", "failures", "mean", "p90", "last"):
        table.add_column(header, justify="left" if header in ("test", "last") else "right")
    for item in stats:
        label = f"{item.classname}::{item.name}" if item.classname else item.name
        table.add_row(
            Text(label),  # Text, never markup: test names may hold [brackets]
            str(item.runs),
            percent(item.pass_rate),
            str(item.failures),
            seconds(item.mean_seconds),
            seconds(item.p90_seconds),
            item.last_outcome,
        )
    return table


def tests(ctx: typer.Context, as_json: JsonFlag = False, limit: LimitOption = None) -> None:
    """Per test: runs, pass rate, failures, mean and p90 duration, last outcome; slowest first."""
    state = state_of(ctx)
    with state.open_store() as store:
        stats = summarize_tests(store.test_observations())
    if as_json:
        shown = stats if limit is None else stats[:limit]
        print_json({"tests": [s.as_dict() for s in shown]})
        return
    stdout_console().print(
        _tests_table(f"{len(stats)} tests, slowest first", stats[: _limit(state, limit)])
    )


def _run_dict(run: RunSummary) -> dict[str, Any]:
    return {
        "id": run.id,
        "provider": run.provider,
        "repository": run.repository,
        "workflow": run.workflow,
        "commit": run.commit,
        "branch": run.branch,
        "attempt": run.attempt,
        "status": run.status,
        "conclusion": run.conclusion,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration_seconds": run.duration_seconds,
        "url": run.html_url,
        "tests": run.tests,
        "failed_tests": run.failed,
        "attempts": [
            {
                "attempt": a.attempt,
                "status": a.status,
                "conclusion": a.conclusion,
                "started_at": a.started_at,
                "finished_at": a.finished_at,
                "tests": a.tests,
                "failed_tests": a.failed,
            }
            for a in run.attempts
        ],
        "jobs": [
            {
                "name": job.name,
                "attempt": job.attempt,
                "status": job.status,
                "conclusion": job.conclusion,
                "runner_labels": list(job.runner_labels),
                "runner_name": job.runner_name,
                "created_at": job.created_at,
                "started_at": job.started_at,
                "finished_at": job.finished_at,
                "queued_seconds": job.queued_seconds,
                "duration_seconds": job.duration_seconds,
            }
            for job in run.jobs
        ],
    }


def _runs_table(title: str, items: list[RunSummary]) -> Table:
    table = Table(title=title, title_justify="left")
    for header in (
        "created",
        "workflow",
        "run",
        "attempts",
        "branch",
        "commit",
        "conclusion",
        "duration",
        "jobs",
        "tests",
        "failed",
    ):
        table.add_column(header)
    for run in items:
        table.add_row(
            when(run.created_at),
            Text(run.workflow or "-"),
            Text(run.id),
            str(run.attempt),
            Text(run.branch or "-"),
            (run.commit or "-")[:10],
            Text(run.conclusion or run.status or "-"),
            seconds(run.duration_seconds),
            str(len(run.jobs)),
            str(run.tests),
            str(run.failed),
        )
    return table


def runs(ctx: typer.Context, as_json: JsonFlag = False, limit: LimitOption = None) -> None:
    """Pipeline runs, newest first, with their jobs."""
    state = state_of(ctx)
    with state.open_store() as store:
        items = store.list_runs(limit=limit if as_json else _limit(state, limit))
        total = store.run_count()
    if as_json:
        print_json({"runs": [_run_dict(r) for r in items]})
        return
    stdout_console().print(_runs_table(f"{total} runs, newest first", items))


def report(ctx: typer.Context, as_json: JsonFlag = False, limit: LimitOption = None) -> None:
    """What the store holds: runs, tests, the slowest and the failing tests."""
    state = state_of(ctx)
    shown = _limit(state, limit)
    with state.open_store() as store:
        counts = store.counts()
        run_count = store.run_count()
        stats = summarize_tests(store.test_observations())
        recent = store.list_runs(limit=shown)
    failing = failing_tests(stats)
    if as_json:
        print_json(
            {
                "store": store.description,
                "counts": counts,
                "slowest": [s.as_dict() for s in stats[:shown]],
                "failing": [s.as_dict() for s in failing[:shown]],
            }
        )
        return
    console = stdout_console()
    console.print(Text(f"Store: {store.description}"))
    console.print(
        Text(
            f"{run_count} runs ({counts['runs']} attempts), {counts['jobs']} jobs, "
            f"{counts['reports']} reports, "
            f"{len(stats)} tests, {counts['test_results']} test results"
        )
    )
    console.print(_runs_table("Latest runs", recent))
    console.print(_tests_table("Slowest tests", stats[:shown]))
    failing_now = sum(1 for s in failing if s.last_outcome in ("failed", "error"))
    console.print(
        _tests_table(
            f"Failing tests ({len(failing)} failed at least once, {failing_now} failing now)",
            failing[:shown],
        )
    )
