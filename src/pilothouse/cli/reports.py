"""`pilothouse tests`, `runs` and `report`: read the store back."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pilothouse.analysis.test_stats import TestStats, failing_tests
from pilothouse.cli.cost import cost_window
from pilothouse.cli.output import (
    Col,
    fitted_table,
    percent,
    print_json,
    seconds,
    stdout_console,
    when,
)
from pilothouse.cli.settings import validated_by
from pilothouse.cli.state import State, state_of
from pilothouse.cli.window import (
    SinceOption,
    Window,
    WindowOption,
    empty_window_note,
    resolve_window,
    results_note,
)
from pilothouse.files import write_atomically
from pilothouse.model import RunSummary
from pilothouse.store import Store

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
LimitOption = Annotated[
    int | None,
    typer.Option(
        help="Rows to show (default: report.limit; --json: all).",
        callback=validated_by("report.limit"),
    ),
]

# `tests` and `report` read the last 30 days unless told otherwise, as CI dashboards do:
# durations and pass rates describe the suite as it is now, and the read stays bounded.
DEFAULT_WINDOW_DAYS = 30

TEST_COLUMNS = (
    Col("test", fold=True, min_width=44),
    Col("runs", "right", drop=2),
    Col("pass rate", "right", drop=4),
    Col("failures", "right", drop=3),
    Col("median", "right"),
    Col("p90", "right"),
    Col("last", drop=1),
)


def _limit(state: State, limit: int | None) -> int:
    return limit if limit is not None else int(state.config["report.limit"])


def _tests_table(title: str, stats: list[TestStats], width: int) -> Table:
    rows = [
        (
            f"{item.classname}::{item.name}" if item.classname else item.name,
            str(item.runs),
            percent(item.pass_rate),
            str(item.failures),
            seconds(item.median_seconds),
            seconds(item.p90_seconds),
            item.last_outcome,
        )
        for item in stats
    ]
    return fitted_table(title, TEST_COLUMNS, rows, width)


def _show(
    state: State,
    data: dict[str, Any] | None,
    note: str | None,
    render: Callable[[Console], None],
    header: tuple[str, ...] = (),
) -> None:
    """JSON when *data* is given (with the empty-window *note* on stderr), else the
    *header* lines then the note in place of the tables, or the tables."""
    if data is not None:
        print_json(data)
        if note:
            sys.stderr.write(f"pilothouse: {note}\n")
        return
    console = stdout_console(state.env)
    for line in (*header, note):
        if line:
            console.print(Text(line))
    if not note:
        render(console)


def tests_data(
    store: Store, state: State, window: Window, *, limit: int | None = None
) -> dict[str, Any]:
    """`tests --json`: per-test statistics over *window*, slowest first (the first
    *limit* tests; None: all)."""
    return tests_dict(store.test_stats(since=window.since), limit)


def tests_dict(stats: list[TestStats], limit: int | None) -> dict[str, Any]:
    shown = stats if limit is None else stats[:limit]
    return {"tests": [s.as_dict() for s in shown]}


def tests(
    ctx: typer.Context,
    as_json: JsonFlag = False,
    limit: LimitOption = None,
    window_days: WindowOption = None,
    since: SinceOption = None,
) -> None:
    """Per test: runs, pass rate, failures, median and p90 duration, last outcome; slowest
    first, over the last 30 days (--window, --since)."""
    state = state_of(ctx)
    window = resolve_window(
        state.now(), days=window_days, since=since, default_days=DEFAULT_WINDOW_DAYS
    )
    with state.open_store() as store:
        stats = store.test_stats(since=window.since)
        note = None if stats else results_note(store, window)
    title = f"{len(stats)} tests {window.label}, slowest first"
    _show(
        state,
        tests_dict(stats, limit) if as_json else None,
        note,
        lambda console: console.print(
            _tests_table(title, stats[: _limit(state, limit)], console.width)
        ),
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


RUN_COLUMNS = (
    Col("created"),
    Col("workflow", fold=True, min_width=10),
    Col("run", drop=5),
    Col("attempts", "right", drop=2),
    Col("branch", fold=True, min_width=6),
    Col("commit", drop=4),
    Col("conclusion"),
    Col("duration", "right", drop=6),
    Col("jobs", "right", drop=1),
    Col("tests", "right", drop=3),
    Col("failed", "right"),
)


def _runs_table(title: str, items: list[RunSummary], width: int) -> Table:
    rows = [
        (
            when(run.created_at),
            run.workflow or "-",
            run.id,
            str(run.attempt),
            run.branch or "-",
            (run.commit or "-")[:7],
            run.conclusion or run.status or "-",
            seconds(run.duration_seconds),
            str(len(run.jobs)),
            str(run.tests),
            str(run.failed),
        )
        for run in items
    ]
    return fitted_table(title, RUN_COLUMNS, rows, width)


def runs_data(
    store: Store, state: State, window: Window, *, limit: int | None = None
) -> dict[str, Any]:
    """`runs --json`: the *limit* newest runs of *window* (None: all), with their
    attempts and jobs."""
    return _runs_dict(store.list_runs(limit=limit, since=window.since))


def _runs_dict(items: list[RunSummary]) -> dict[str, Any]:
    return {"runs": [_run_dict(r) for r in items]}


def run_data(store: Store, state: State, run_id: str) -> dict[str, Any]:
    """The run *run_id* as `runs --json` shows it (one entry per repository holding
    a run of that id; none when the store has none)."""
    return _runs_dict(store.runs_by_key(run_id))


def runs(
    ctx: typer.Context,
    as_json: JsonFlag = False,
    limit: LimitOption = None,
    window_days: WindowOption = None,
    since: SinceOption = None,
) -> None:
    """Pipeline runs, newest first, with their jobs (all of them, or --window / --since)."""
    state = state_of(ctx)
    window = resolve_window(state.now(), days=window_days, since=since, default_days=None)
    with state.open_store() as store:
        items = store.list_runs(
            limit=limit if as_json else _limit(state, limit), since=window.since
        )
        total = store.run_count(since=window.since)
        note = None if total else empty_window_note("runs", window, store.run_range())
    label = "" if window.since is None else f" {window.label}"
    _show(
        state,
        _runs_dict(items) if as_json else None,
        note,
        lambda console: console.print(
            _runs_table(f"{total} runs{label}, newest first", items, console.width)
        ),
    )


def report_data(
    store: Store, state: State, window: Window, *, limit: int | None = None
) -> dict[str, Any]:
    """`report --json`: what the store holds, and the *limit* (default report.limit)
    slowest and failing tests of *window*."""
    stats = store.test_stats(since=window.since)
    return _report_dict(store, store.counts(), stats, _limit(state, limit))


FAILING_NOW = ("failed", "error")


def _report_dict(
    store: Store, counts: dict[str, int], stats: list[TestStats], shown: int
) -> dict[str, Any]:
    failing = failing_tests(stats)
    return {
        "store": store.description,
        "counts": counts,
        # The lists hold the first *shown*; the totals say how many there are.
        "totals": {
            "tests": len(stats),
            "failing": len(failing),
            "failing_now": sum(1 for s in failing if s.last_outcome in FAILING_NOW),
        },
        "slowest": [s.as_dict() for s in stats[:shown]],
        "failing": [s.as_dict() for s in failing[:shown]],
    }


HtmlOption = Annotated[
    str | None,
    typer.Option(
        "--html",
        metavar="FILE",
        help="Write the scorecard, tests and costs as one self-contained HTML file "
        "(no request of any kind; - for stdout).",
    ),
]


def _cost_days(today: date, window_days: int | None, since: datetime | None) -> list[date]:
    """The days of spend the HTML report shows: those of --window or --since (*since*),
    else the 30 `cost` shows."""
    if since is not None:
        return cost_window(today, max((today - since.date()).days + 1, 1))
    return cost_window(today, window_days or DEFAULT_WINDOW_DAYS)


def _size(count: int) -> str:
    return f"{count} bytes" if count < 1024 else f"{count / 1024:.0f} KiB"


def _html_report(
    state: State, target: str, window: Window, *, window_days: int | None, since: bool, shown: int
) -> None:
    """`report --html TARGET`: render the file, then write it in one step (*since*:
    the window is --since's)."""
    from pilothouse.web.report import Scope, render_report  # Jinja: not for the tables

    start = window.since if since else None
    scope = Scope(window, window_days, _cost_days(state.now().date(), window_days, start), shown)
    with state.open_store() as store:
        text = render_report(store, state, scope)
    if target == "-":
        sys.stdout.write(text)
        return
    payload = text.encode("utf-8")
    write_atomically(Path(target), payload, what="report")
    written = len(payload)
    sys.stderr.write(f"pilothouse: wrote {target} ({_size(written)})\n")


def report(
    ctx: typer.Context,
    as_json: JsonFlag = False,
    html: HtmlOption = None,
    limit: LimitOption = None,
    window_days: WindowOption = None,
    since: SinceOption = None,
) -> None:
    """What the store holds, and over the last 30 days (--window, --since): the latest
    runs, the slowest and the failing tests.

    --html FILE writes the scorecard (over targets.window_days unless --window), the tests
    and the daily costs instead, as one HTML file to mail or keep as a CI artifact.
    """
    state = state_of(ctx)
    shown = _limit(state, limit)
    window = resolve_window(
        state.now(), days=window_days, since=since, default_days=DEFAULT_WINDOW_DAYS
    )
    if html is not None:
        if as_json:
            raise typer.BadParameter("--html and --json exclude each other", param_hint="--html")
        _html_report(
            state, html, window, window_days=window_days, since=since is not None, shown=shown
        )
        return
    with state.open_store() as store:
        counts = store.counts()
        run_count = store.run_count()
        stats = store.test_stats(since=window.since)
        recent = store.list_runs(limit=shown, since=window.since)
        note = None if stats or recent else results_note(store, window)
    failing = failing_tests(stats)
    data = _report_dict(store, counts, stats, shown)
    totals = data["totals"]

    def render(console: Console) -> None:
        width = console.width
        console.print(_runs_table(f"Latest runs {window.label}", recent, width))
        console.print(_tests_table(f"Slowest of {len(stats)} tests", stats[:shown], width))
        title = (
            f"Failing tests ({totals['failing']} failed at least once, "
            f"{totals['failing_now']} failing now)"
        )
        console.print(_tests_table(title, failing[:shown], width))

    header = (
        f"Store: {store.description}",
        f"{run_count} runs ({counts['runs']} attempts), {counts['jobs']} jobs, "
        f"{counts['reports']} reports, {counts['test_results']} test results",
    )
    _show(state, data if as_json else None, note, render, header)
