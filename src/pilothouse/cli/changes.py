"""`pilothouse changes`: level shifts (regressions, improvements) and one-day anomalies
in each workflow's build, test and queue time, pass rate, cache hit rate and spend,
each shift with the commits, runner labels and workflow files that changed with it."""

from __future__ import annotations

import enum
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from pilothouse.analysis import regressions as reg
from pilothouse.cli import cost as cost_cli
from pilothouse.cli.output import Col, fitted_table, markdown_cell, print_json, stdout_console
from pilothouse.cli.score import resolve_targets
from pilothouse.cli.state import State, state_of
from pilothouse.cli.window import SinceOption, Window, WindowOption, resolve_window
from pilothouse.store import Store

# Days read unless told: a quarter holds a level before and after most shifts.
DEFAULT_WINDOW_DAYS = 90
ALL_WORKFLOWS = "(all)"


class ChangesFormat(enum.StrEnum):
    table = "table"
    markdown = "markdown"
    json = "json"


def _run_time_series(
    store: Store, state: State, window: Window, metrics: Sequence[str]
) -> list[reg.Series]:
    """Build time of the build workflows, test time of the test workflows, run time of
    the others (targets.build_workflows, targets.test_workflows)."""
    targets = resolve_targets(state, None)
    observed = store.observations("run_time", _since(window), targets.branch)
    build, tests = set(targets.build_workflows), set(targets.test_workflows)

    def kind(workflow: str) -> str:
        return (
            "build_time" if workflow in build else "test_time" if workflow in tests else "run_time"
        )

    return [
        series
        for name in ("build_time", "test_time", "run_time")
        if name in metrics
        for series in reg.series_of(
            reg.METRICS[name], (o for o in observed if kind(o.workflow) == name)
        )
    ]


def _since(window: Window) -> datetime:
    return window.since or datetime(1970, 1, 1, tzinfo=UTC)


def _cost_series(store: Store, state: State, window: Window, today: date) -> list[reg.Series]:
    """Daily spend in the main currency, in all and per workflow (`cost --by workflow`),
    up to the last day every daily-billed source has billed."""
    first = _since(window).date()
    span = cost_cli.cost_window(today, max((today - first).days + 1, 1))
    data = cost_cli.cost_data(store, state, span, by="workflow")
    report = data["currencies"].get(str(state.config["cost.currency"]).upper())
    if report is None:
        return []
    billed = date.fromisoformat(report["billed_through"])
    days = [row for row in report["daily"] if date.fromisoformat(row["day"]) < min(billed, today)]
    metric = reg.METRICS["daily_cost"]
    groups = [ALL_WORKFLOWS, *sorted(report["by_group"])]
    found = []
    for group in groups:
        values = [(row["day"], row["total"] if group == ALL_WORKFLOWS else
                   row["groups"].get(group, "0")) for row in days]  # fmt: skip
        found.append(
            reg.Series(metric, group, _spend_points(values, every_day=group == ALL_WORKFLOWS))
        )
    return found


def _spend_points(values: list[tuple[str, str]], *, every_day: bool) -> tuple[reg.Point, ...]:
    """A day per (day, amount) from the first day with spend on; a workflow's days
    without spend are days it did not run (a weekly release), not a level of zero."""
    started = next((i for i, (_day, amount) in enumerate(values) if float(amount)), None)
    if started is None:
        return ()
    return tuple(
        reg.Point(date.fromisoformat(day), float(amount), 1)
        for day, amount in values[started:]
        if every_day or float(amount)
    )


def collect_series(
    store: Store, state: State, window: Window, metrics: Sequence[str]
) -> list[reg.Series]:
    """Every series of *metrics* over *window*, read from the store."""
    found = _run_time_series(store, state, window, metrics)
    branch = resolve_targets(state, None).branch
    for name in ("queue_time", "pass_rate", "cache_hit_rate"):
        if name in metrics:
            observed = store.observations(name, _since(window), branch)
            found += reg.series_of(reg.METRICS[name], observed)
    if "daily_cost" in metrics:
        found += _cost_series(store, state, window, state.now().date())
    return found


def changes_data(
    store: Store,
    state: State,
    window: Window,
    *,
    metrics: Sequence[str] | None = None,
    workflows: Sequence[str] | None = None,
) -> dict[str, Any]:
    """`changes --json`: level shifts and anomalies of *metrics* (default: all) over
    *window*, of *workflows* (default: all), newest first."""
    chosen = list(metrics or METRIC_NAMES)
    series = [
        s
        for s in collect_series(store, state, window, chosen)
        if workflows is None or s.workflow in workflows
    ]
    found = reg.analyse(series, store.workflow_files())
    checkout = _checkout(state.cwd)
    return {
        "window": {"since": window.since, "label": window.label},
        "branch": resolve_targets(state, None).branch,
        "metrics": chosen,
        "series": [
            {"metric": s.metric.name, "workflow": s.workflow, "days": len(s.points)} for s in series
        ],
        "changes": [_with_workflow_edits(c.as_dict(), checkout) for c in found.changes],
        "anomalies": [a.as_dict() for a in found.anomalies],
    }


WORKFLOWS_FOLDER = ".github/workflows/"


def _checkout(root: Path) -> Any:
    """The git checkout at *root* (the working directory), or None."""
    from pilothouse.delivery.release.git import GitError, Repository

    try:
        return Repository.open(root)
    except GitError:
        return None


def workflow_edits(repository: Any, commits: Sequence[str]) -> list[str]:
    """The workflow files each of *commits* changed, as `path (changed in SHA)`, read
    from the checkout; a commit the checkout lacks (a shallow clone) is skipped."""
    from pilothouse.delivery.release.git import GitError

    found = []
    for commit in commits:
        try:
            paths = repository.touched(repository.resolve(commit))
        except GitError:
            continue
        found += [f"{p} (changed in {commit[:7]})" for p in paths if p.startswith(WORKFLOWS_FOLDER)]
    return found


def _with_workflow_edits(change: dict[str, Any], checkout: Any) -> dict[str, Any]:
    if checkout is None or not change["commits"]:
        return change
    edits = workflow_edits(checkout, change["commits"])
    return {**change, "workflow_files": [*change["workflow_files"], *edits]}


METRIC_NAMES = ("build_time", "test_time", "run_time", "queue_time", "pass_rate",
                "cache_hit_rate", "daily_cost")  # fmt: skip


# -- rendering ----------------------------------------------------------------------------


def amount(value: float, unit: str) -> str:
    """A metric's value for people: seconds as minutes, percent, money.

    >>> amount(754.0, "s"), amount(97.25, "%"), amount(12.5, "")
    ('12m34s', '97.2 %', '12.50')
    """
    if unit == "s":
        minutes, seconds = divmod(round(value), 60)
        return f"{minutes}m{seconds:02d}s" if minutes else f"{value:.1f}s"
    if unit == "%":
        return f"{value:.1f} %"
    return f"{value:.2f}"


def _relative(change: dict[str, Any]) -> str:
    return "" if change["relative"] is None else f" ({change['relative']:+.0%})"


def change_line(change: dict[str, Any]) -> str:
    """One change as a sentence, with what changed in its window."""
    unit = change["unit"]
    before, after = change["before"], change["after"]
    text = (
        f"{change['verdict']}: {change['metric']} of {change['workflow']} from "
        f"{change['day']}: {amount(before['median'], unit)} -> {amount(after['median'], unit)}"
        f"{_relative(change)} [after: {amount(after['interval'][0], unit)} .. "
        f"{amount(after['interval'][1], unit)}]"
    )
    return text + "".join(f"; {part}" for part in cause_parts(change))


def cause_parts(change: dict[str, Any]) -> list[str]:
    parts = []
    if change["commits"]:
        shown = ", ".join(c[:7] for c in change["commits"][:5])
        more = len(change["commits"]) - 5
        parts.append(f"commits {shown}" + (f" (+{more})" if more > 0 else ""))
    labels = change["runner_labels"]
    if labels["added"] or labels["removed"]:
        parts.append(
            "runner labels "
            + " ".join([*(f"+{x}" for x in labels["added"]), *(f"-{x}" for x in labels["removed"])])
        )
    if change["workflow_files"]:
        parts.append("workflow file " + ", ".join(change["workflow_files"]))
    return parts


CHANGE_COLUMNS = (
    Col("day"),
    Col("verdict"),
    Col("metric"),
    Col("workflow", fold=True),
    Col("before", "right"),
    Col("after", "right"),
    Col("change", "right", drop=2),
    Col("in the window", fold=True, min_width=20, prose=True, drop=1),
)


def _rows(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (
            c["day"],
            Text(c["verdict"], style="bold red" if c["verdict"] == "regression" else "green"),
            c["metric"],
            c["workflow"],
            amount(c["before"]["median"], c["unit"]),
            amount(c["after"]["median"], c["unit"]),
            _relative(c).strip(" ()") or amount(c["change"], c["unit"]),
            "; ".join(cause_parts(c)),
        )
        for c in data["changes"]
    ]


def anomaly_line(item: dict[str, Any]) -> str:
    unit = item["unit"]
    return (
        f"anomaly: {item['metric']} of {item['workflow']} on {item['day']}: "
        f"{amount(item['value'], unit)} (expected {amount(item['expected'], unit)}, "
        f"{item['sigmas']:g} sigma): one day, not a change of level"
    )


def headline(data: dict[str, Any]) -> str:
    regressions = sum(1 for c in data["changes"] if c["verdict"] == "regression")
    return (
        f"Changes {data['window']['label']} on {data['branch']}: {len(data['changes'])} level "
        f"shifts ({regressions} regressions), {len(data['anomalies'])} one-day anomalies, "
        f"in {len(data['series'])} series"
    )


def markdown(data: dict[str, Any]) -> str:
    lines = [f"### {markdown_cell(headline(data))}", ""]
    if data["changes"]:
        lines += ["| day | verdict | metric | workflow | before | after | in the window |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        lines += [
            f"| {c['day']} | {c['verdict']} | {c['metric']} | {markdown_cell(c['workflow'])} | "
            f"{amount(c['before']['median'], c['unit'])} | "
            f"{amount(c['after']['median'], c['unit'])}{_relative(c)} | "
            f"{markdown_cell('; '.join(cause_parts(c)))} |"
            for c in data["changes"]
        ]
    lines += [f"- {markdown_cell(anomaly_line(a))}" for a in data["anomalies"]]
    return "\n".join(lines) + "\n"


def _table(state: State, data: dict[str, Any]) -> None:
    console = stdout_console(state.env)
    console.print(Text(headline(data)))
    if data["changes"]:
        console.print(fitted_table("Level shifts, newest first", CHANGE_COLUMNS, _rows(data),
                                   console.width))  # fmt: skip
    for item in data["anomalies"]:
        console.print(Text(anomaly_line(item)))


def _choices(values: list[str] | None, known: Sequence[str], flag: str) -> list[str] | None:
    if not values:
        return None
    wrong = [v for v in values if v not in known]
    if wrong:
        raise typer.BadParameter(
            f"{', '.join(wrong)}: not one of {', '.join(known)}", param_hint=flag
        )
    return values


def changes(
    ctx: typer.Context,
    metric: Annotated[
        list[str] | None,
        typer.Option("--metric", help=f"Only these metrics (repeat): {', '.join(METRIC_NAMES)}."),
    ] = None,
    workflow: Annotated[
        list[str] | None,
        typer.Option(
            "--workflow", help=f"Only these workflows (repeat; {ALL_WORKFLOWS}: spend of all)."
        ),  # fmt: skip
    ] = None,
    window_days: WindowOption = None,
    since: SinceOption = None,
    fmt: Annotated[ChangesFormat, typer.Option("--format", help="Output format.")] = (
        ChangesFormat.table
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """Level shifts (regressions and improvements) and one-day anomalies of each
    workflow's build, test and queue time, pass rate, cache hit rate and daily spend,
    over the last 90 days (--window, --since); each shift with its medians before and
    after and the commits, runner labels and workflow files that changed in its window."""
    state = state_of(ctx)
    metrics = _choices(metric, METRIC_NAMES, "--metric")
    window = resolve_window(
        state.now(), days=window_days, since=since, default_days=DEFAULT_WINDOW_DAYS
    )
    with state.open_store() as store:
        data = changes_data(store, state, window, metrics=metrics, workflows=workflow or None)
    chosen = ChangesFormat.json if as_json else fmt
    if chosen is ChangesFormat.json:
        print_json(data)
    elif chosen is ChangesFormat.markdown:
        sys.stdout.write(markdown(data))
    else:
        _table(state, data)
