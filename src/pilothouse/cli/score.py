"""`pilothouse score`: the success criteria side by side, as a report and a CI gate.

Each number comes from the code that owns it: run wall times and artifact sizes from
the runs store, the pass rate from the flaky analysis, daily spend from the cost
ledger, workflow activity from the synced workflows, cache restores from job logs.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from pilothouse import flaky_reader
from pilothouse.analysis import flaky as flaky_analysis
from pilothouse.analysis import scorecard as card
from pilothouse.analysis.costs import split_by_currency
from pilothouse.cli import cost as cost_cli
from pilothouse.cli import flaky as flaky_cli
from pilothouse.cli.output import Col, fitted_table, markdown_cell, print_json, stdout_console
from pilothouse.cli.settings import validated_by
from pilothouse.cli.state import State, state_of
from pilothouse.errors import InputError
from pilothouse.model import CacheCounts
from pilothouse.sources.repository import default_branch, workflow_files
from pilothouse.store import Store
from pilothouse.store.scorecard import Span

NO_CACHE_DATA = "no cache data: ingest job logs (`ingest github --logs` or `ingest logs`)"


class ScoreFormat(enum.StrEnum):
    table = "table"
    markdown = "markdown"
    json = "json"


@dataclass(frozen=True, slots=True)
class Targets:
    """The `[targets]` settings, resolved for one command."""

    window_days: int
    branch: str
    build_workflows: tuple[str, ...]
    test_workflows: tuple[str, ...]

    def scope(self, workflows: Sequence[str]) -> str:
        return f"{', '.join(workflows)} on {self.branch}"


@dataclass(frozen=True, slots=True)
class Windows:
    """The window read (up to now) and the one before it, of as many days."""

    current: Span
    previous: Span

    @classmethod
    def ending(cls, now: datetime, days: int) -> Windows:
        start = now - timedelta(days=days)
        return cls(Span(start), Span(start - timedelta(days=days), start))


def resolve_targets(state: State, window_days: int | None) -> Targets:
    config = state.config
    branch = str(config["targets.branch"]) or default_branch(state.env, state.cwd) or "main"
    return Targets(
        window_days=window_days or int(config["targets.window_days"]),
        branch=branch,
        build_workflows=tuple(config["targets.build_workflows"]),
        test_workflows=tuple(config["targets.test_workflows"]),
    )


# -- the numbers, each from the code that owns it ---------------------------------------


def _run_times(
    store: Store, state: State, targets: Targets, windows: Windows
) -> list[card.Criterion]:
    config = state.config
    found = []
    for criterion, title, names, minutes, stretch in (
        ("build_time", "Build time (p50)", targets.build_workflows,
         config["targets.build_minutes"], None),
        ("test_time", "Test time (p50)", targets.test_workflows,
         config["targets.test_minutes"], config["targets.test_stretch_minutes"]),
    ):  # fmt: skip
        found.append(
            card.run_time(
                criterion,
                title,
                store.run_durations(windows.current, names, targets.branch),
                store.run_durations(windows.previous, names, targets.branch),
                target_minutes=float(minutes),
                scope=targets.scope(names),
                stretch_minutes=stretch,
            )
        )
    return found


def _cache_counts(store: Store, span: Span, targets: Targets, now: datetime) -> CacheCounts:
    """Restores by result in the build and test workflows' jobs, from the job logs'
    cache events (`ingest logs`, `ingest github --logs`), counted in SQL."""
    return store.cache_counts(
        since=span.since,
        until=span.until or now,
        workflows=[*targets.build_workflows, *targets.test_workflows],
        branch=targets.branch,
    )


def _cache(store: Store, state: State, targets: Targets, windows: Windows) -> card.Criterion:
    now = state.now()
    return card.cache_hit_rate(
        _cache_counts(store, windows.current, targets, now),
        _cache_counts(store, windows.previous, targets, now),
        target_percent=float(state.config["targets.cache_hit_percent"]),
        missing=NO_CACHE_DATA,
    )


def _artifacts(store: Store, state: State, targets: Targets, windows: Windows) -> card.Criterion:
    names = targets.build_workflows

    def totals(span: Span) -> list[int]:
        return [run.total_bytes for run in store.run_artifacts(span, names, targets.branch)]

    return card.artifact_size(
        totals(windows.current),
        totals(windows.previous),
        target_mb=float(state.config["targets.artifact_mb"]),
        scope=targets.scope(names),
    )


def gate_pass_rates(
    store: Store, state: State, windows: Windows
) -> tuple[card.PassRate, card.PassRate]:
    """The flaky analysis' gate (quarantined tests and outage attempts left out) over
    each window, read the way `flaky` reads a store (memory bounded by the tests)."""
    thresholds = flaky_cli.thresholds_of(state)
    rates = []
    for span in (windows.current, windows.previous):
        read = flaky_reader.detect(store, span.since, thresholds, until=span.until)
        tally = flaky_analysis.gate_of(read.totals, read.detection)
        held = len(flaky_analysis.quarantined(read.detection.report, thresholds))
        outages = len(read.detection.report.outages)
        rates.append(card.PassRate(tally.passed, tally.executed, held, outages))
    return rates[0], rates[1]


def _pass_rate(store: Store, state: State, windows: Windows) -> card.Criterion:
    current, previous = gate_pass_rates(store, state, windows)
    return card.test_pass_rate(
        current,
        previous,
        target_percent=float(state.config["targets.pass_rate_percent"]),
    )


def _daily_cost(store: Store, state: State, days: int) -> card.Criterion:
    """Mean daily spend over the window's complete days (up to yesterday), in the
    ledger's main currency, read as `cost` reads it (Actions minutes included)."""
    today = state.now().date()
    first = today - timedelta(days=2 * days)
    currency = str(state.config["cost.currency"]).upper()
    sums = cost_cli.load_ledger(store, state, first, today)
    lines = split_by_currency(summed.line for summed in sums).get(currency, [])
    every_day = [first + timedelta(days=i) for i in range(2 * days + 1)]
    today_lines = [line for line in lines if line.day == today]
    return card.daily_cost(
        card.spend_over(lines, every_day[days:-1]),
        card.spend_over(lines, every_day[:days]),
        target=float(state.config["cost.daily_target"]),
        alert_limit=float(state.config["budget.daily_limit"]),
        today=sum((line.amount for line in today_lines), Decimal(0)) if today_lines else None,
        currency=currency,
    )


def _workflows(store: Store, windows: Windows, root: Path) -> card.Criterion:
    return card.workflows_active(
        store.workflow_activity(windows.current),
        store.workflow_activity(windows.previous),
        local_files=workflow_files(root),
    )


def build_scorecard(
    store: Store, state: State, targets: Targets, windows: Windows, root: Path
) -> card.Scorecard:
    """Every criterion, in the roadmap's order."""
    build, tests = _run_times(store, state, targets, windows)
    criteria = (
        build,
        tests,
        _cache(store, state, targets, windows),
        _artifacts(store, state, targets, windows),
        _pass_rate(store, state, windows),
        _daily_cost(store, state, targets.window_days),
        _workflows(store, windows, root),
    )
    return card.Scorecard(targets.window_days, criteria)


def score_data(
    store: Store, state: State, *, window_days: int | None = None, root: Path | None = None
) -> dict[str, Any]:
    """`score --json`: every criterion over the last *window_days* (default
    targets.window_days) and the window before; *root*'s workflow files (default: the
    working directory) must all be registered."""
    targets = resolve_targets(state, window_days)
    windows = Windows.ending(state.now(), targets.window_days)
    return build_scorecard(store, state, targets, windows, root or state.cwd).as_dict()


# -- rendering ----------------------------------------------------------------------------


def _amount(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "workflows":
        return f"{value:g}"
    if unit == "%":
        return f"{value:g} %"
    if unit in ("min", "MB"):
        return f"{value:.1f} {unit}"
    return f"{value:.2f} {unit}"


def _target(item: card.Criterion) -> str:
    if item.comparison == "==":
        return f"all {item.target:g}" if item.samples else "all"
    unit = "" if item.unit == "workflows" else f" {item.unit}"
    return f"{item.comparison} {item.target:g}{unit}"


def _value(item: card.Criterion) -> str:
    if item.unit == "workflows" and item.value is not None:
        return f"{item.value:g} of {item.target:g}"
    return _amount(item.value, item.unit)


_STATUS = {"met": "met", "missed": "missed", "no-data": "no data"}
_STYLE = {"met": "green", "missed": "bold red", "no-data": "yellow"}
_MARK = {"met": "✅", "missed": "❌", "no-data": "⚪"}


def _headline(scorecard: card.Scorecard, targets: Targets, since: datetime) -> str:
    return (
        f"Scorecard, last {targets.window_days} days (since {since:%Y-%m-%d %H:%M}), "
        f"branch {targets.branch}: {scorecard.count('met')} met, "
        f"{scorecard.count('missed')} missed, {scorecard.count('no-data')} no data"
    )


SCORE_COLUMNS = (
    Col("criterion"),
    Col("status"),
    Col("value", "right"),
    Col("target", "right", drop=2),
    Col("previous", "right", drop=1),
    Col("samples", "right"),  # always shown: a value means little without its samples
    Col("detail", fold=True, min_width=24, prose=True, drop=3),
)


def _table(state: State, scorecard: card.Scorecard, title: str) -> None:
    console = stdout_console(state.env)
    rows = [
        (
            item.title,
            Text(_STATUS[item.status], style=_STYLE[item.status]),
            _value(item),
            _target(item),
            _amount(item.previous, item.unit),
            str(item.samples),
            item.detail,
        )
        for item in scorecard.criteria
    ]
    console.print(fitted_table(title, SCORE_COLUMNS, rows, console.width))


def markdown(scorecard: card.Scorecard, title: str) -> str:
    """The scorecard as GitHub-flavoured Markdown, for $GITHUB_STEP_SUMMARY."""
    lines = [
        f"### {markdown_cell(title)}",
        "",
        "| | criterion | value | target | previous | samples | detail |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {_MARK[c.status]} {_STATUS[c.status]} | {markdown_cell(c.title)} | "
        f"{markdown_cell(_value(c))} | {markdown_cell(_target(c))} | "
        f"{markdown_cell(_amount(c.previous, c.unit))} | {c.samples} | {markdown_cell(c.detail)} |"
        for c in scorecard.criteria
    ]
    return "\n".join(lines) + "\n"


def _append_summary(state: State, text: str) -> None:
    target = state.env.get("GITHUB_STEP_SUMMARY", "")
    if not target:
        sys.stderr.write("pilothouse: --summary: GITHUB_STEP_SUMMARY is not set; nothing written\n")
        return
    path = Path(target)
    try:
        with path.open("a", encoding="utf-8") as stream:
            stream.write(text + "\n")
    except OSError as exc:
        raise InputError(f"{path}: cannot append the summary: {exc.strerror or exc}") from None


def _gate(scorecard: card.Scorecard, *, strict: bool) -> None:
    """Exit 1 naming each criterion that fails the gate."""
    failing = scorecard.failing(strict=strict)
    if not failing:
        return
    for item in failing:
        sys.stderr.write(
            f"pilothouse: score check: {item.id} {_STATUS[item.status]}: {_value(item)} "
            f"(target {_target(item)}; {item.detail})\n"
        )
    raise typer.Exit(1)


def score(
    ctx: typer.Context,
    window_days: Annotated[
        int | None,
        typer.Option(
            "--window",
            help="Days to read, up to now (default targets.window_days); the trend is the "
            "window before.",
            callback=validated_by("targets.window_days"),
        ),
    ] = None,
    fmt: Annotated[ScoreFormat, typer.Option("--format", help="Output format.")] = (
        ScoreFormat.table
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 when a criterion is missed (a CI gate).")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="With --check: also exit 1 when one has no data.")
    ] = False,
    summary: Annotated[
        bool,
        typer.Option("--summary", help="Also append the Markdown to $GITHUB_STEP_SUMMARY."),
    ] = False,
    path: Annotated[
        Path | None,
        typer.Option(
            "--path",
            help="Repository checkout whose .github/workflows files must all be registered "
            "(default: the working directory, when it has them).",
        ),
    ] = None,
) -> None:
    """The success criteria (build and test time, cache hit rate, artifact size, pass
    rate, daily cost, active workflows) against their targets, with the previous window."""
    state = state_of(ctx)
    targets = resolve_targets(state, window_days)
    root = path if path is not None else state.cwd
    if path is not None and workflow_files(path) is None:
        raise typer.BadParameter(f"{path} has no .github/workflows folder", param_hint="--path")
    windows = Windows.ending(state.now(), targets.window_days)
    with state.open_store() as store:
        scorecard = build_scorecard(store, state, targets, windows, root)
    title = _headline(scorecard, targets, windows.current.since)
    chosen = ScoreFormat.json if as_json else fmt
    if chosen is ScoreFormat.json:
        print_json(scorecard.as_dict())
    elif chosen is ScoreFormat.markdown:
        sys.stdout.write(markdown(scorecard, title))
    else:
        _table(state, scorecard, title)
    if summary:
        _append_summary(state, markdown(scorecard, title))
    if check or strict:
        _gate(scorecard, strict=strict)
