"""`pilothouse score`: the success criteria side by side, as a report and a CI gate.

Each number comes from the code that owns it: run wall times and artifact sizes from
the runs store, the pass rate from the flaky analysis, daily spend from the cost
ledger, workflow activity from the synced workflows, cache restores from job logs.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
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


GateReads = tuple[flaky_reader.Read, flaky_reader.Read]


def gate_reads(store: Store, state: State, windows: Windows) -> GateReads:
    """The flaky analysis' read of each window, the way `flaky` reads a store (memory
    bounded by the tests)."""
    thresholds = flaky_cli.thresholds_of(state)
    current, previous = (
        flaky_reader.detect(store, span.since, thresholds, until=span.until)
        for span in (windows.current, windows.previous)
    )
    return current, previous


def gate_pass_rates(
    store: Store, state: State, windows: Windows, reads: GateReads | None = None
) -> tuple[card.PassRate, card.PassRate]:
    """The flaky analysis' gate (quarantined tests and outage attempts left out) over
    each window, from *reads* (gate_reads) when the caller made them already."""
    thresholds = flaky_cli.thresholds_of(state)
    rates = []
    for read in reads or gate_reads(store, state, windows):
        tally = flaky_analysis.gate_of(read.totals, read.detection)
        held = len(flaky_analysis.quarantined(read.detection.report, thresholds))
        outages = len(read.detection.report.outages)
        rates.append(card.PassRate(tally.passed, tally.executed, held, outages))
    return rates[0], rates[1]


def _pass_rate(
    store: Store, state: State, windows: Windows, reads: GateReads | None
) -> card.Criterion:
    current, previous = gate_pass_rates(store, state, windows, reads)
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
    store: Store,
    state: State,
    targets: Targets,
    windows: Windows,
    root: Path,
    *,
    reads: GateReads | None = None,
) -> card.Scorecard:
    """Every criterion, in the roadmap's order; *reads* (gate_reads) when the caller
    needs the flaky analysis' reads too, so that they are made once."""
    build, tests = _run_times(store, state, targets, windows)
    criteria = (
        build,
        tests,
        _cache(store, state, targets, windows),
        _artifacts(store, state, targets, windows),
        _pass_rate(store, state, windows, reads),
        _daily_cost(store, state, targets.window_days),
        _workflows(store, windows, root),
    )
    return card.Scorecard(targets.window_days, criteria)


TREND_WINDOWS = 6
TREND_DAYS = 366  # a trend reads at most about a year back: 90-day windows get 4 points


def trend_windows(days: int) -> int:
    """How many windows of *days* a trend shows: up to TREND_WINDOWS, as many as fit in
    TREND_DAYS, at least the current and the previous one; an even number (every
    scorecard read gives two).

    >>> [trend_windows(d) for d in (7, 30, 60, 90, 365)]
    [6, 6, 6, 4, 2]
    """
    return max(2, min(TREND_WINDOWS, TREND_DAYS // days) // 2 * 2)


Trend = list[tuple[datetime, dict[str, float | None]]]


def _fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def score_trend(
    store: Store,
    state: State,
    current: card.Scorecard,
    *,
    root: Path | None = None,
    windows: int | None = None,
) -> Trend:
    """Each criterion's value over the last *windows* (default: trend_windows) windows
    of *current*'s length, oldest first, keyed by the window's start: *current* (the
    scorecard now) and the scorecard as it read at the end of every other window before
    (each one's previous window is the one between)."""
    targets = resolve_targets(state, current.window_days)
    days = timedelta(days=targets.window_days)
    windows = windows or trend_windows(targets.window_days)
    points: Trend = []
    for step in range(0, windows, 2):
        end = state.now() - step * days
        if step:
            then = replace(state, world=replace(state.world, clock=_fixed(end)))
            spans = Windows(Span(end - days, end), Span(end - 2 * days, end - days))
            scorecard = build_scorecard(store, then, targets, spans, root or state.cwd)
        else:
            scorecard = current
        points.append((end - days, {c.id: c.value for c in scorecard.criteria}))
        points.append((end - 2 * days, {c.id: c.previous for c in scorecard.criteria}))
    return sorted(points, key=lambda point: point[0])[-windows:]


def scorecard_now(
    store: Store, state: State, *, window_days: int | None = None, root: Path | None = None
) -> card.Scorecard:
    """Every criterion over the window ending now, with the previous window beside it
    (*root*: the checkout whose workflow files must be registered)."""
    targets = resolve_targets(state, window_days)
    windows = Windows.ending(state.now(), targets.window_days)
    return build_scorecard(store, state, targets, windows, root or state.cwd)


def score_baselines(store: Store, targets: Targets) -> dict[str, dict[str, Any]]:
    """The saved baselines (`ci baseline`) of the criteria they cover, keyed by
    criterion id; empty when none was taken on the scored branch."""
    from pilothouse.ci.baseline import criterion_baselines

    saved = store.baselines(branch=targets.branch)
    if not saved:
        return {}
    return criterion_baselines(saved, build=targets.build_workflows, tests=targets.test_workflows)


def _with_baseline(data: dict[str, Any], found: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {**data, "baseline": found} if found else data


def score_data(
    store: Store, state: State, *, window_days: int | None = None, root: Path | None = None
) -> dict[str, Any]:
    """The `score --json` dict: with "baseline" (each covered criterion's saved
    baseline) once `ci baseline` has saved one."""
    data = scorecard_now(store, state, window_days=window_days, root=root).as_dict()
    return _with_baseline(data, score_baselines(store, resolve_targets(state, window_days)))


# -- rendering ----------------------------------------------------------------------------


def amount_text(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "workflows":
        return f"{value:g}"
    if unit == "%":
        return f"{value:g} %"
    if unit in ("min", "MB"):
        return f"{value:.1f} {unit}"
    return f"{value:.2f} {unit}"


def target_text(item: card.Criterion) -> str:
    if item.comparison == "==":
        return f"all {item.target:g}" if item.samples else "all"
    unit = "" if item.unit == "workflows" else f" {item.unit}"
    return f"{item.comparison} {item.target:g}{unit}"


def value_text(item: card.Criterion) -> str:
    if item.unit == "workflows" and item.value is not None:
        return f"{item.value:g} of {item.target:g}"
    return amount_text(item.value, item.unit)


STATUS_LABEL = {"met": "met", "missed": "missed", "no-data": "no data"}
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
            Text(STATUS_LABEL[item.status], style=_STYLE[item.status]),
            value_text(item),
            target_text(item),
            amount_text(item.previous, item.unit),
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
        f"| {_MARK[c.status]} {STATUS_LABEL[c.status]} | {markdown_cell(c.title)} | "
        f"{markdown_cell(value_text(c))} | {markdown_cell(target_text(c))} | "
        f"{markdown_cell(amount_text(c.previous, c.unit))} | {c.samples} | "
        f"{markdown_cell(c.detail)} |"
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


def _baseline_note(scorecard: card.Scorecard, found: dict[str, dict[str, Any]]) -> str:
    """One line with the baselines beside the table; empty without any."""
    from pilothouse.ci.baseline import summary_line

    titles = {c.id: c.title for c in scorecard.criteria}
    return summary_line(found, titles) if found else ""


def _gate(scorecard: card.Scorecard, *, strict: bool) -> None:
    """Exit 1 naming each criterion that fails the gate."""
    failing = scorecard.failing(strict=strict)
    if not failing:
        return
    for item in failing:
        sys.stderr.write(
            f"pilothouse: score check: {item.id} {STATUS_LABEL[item.status]}: {value_text(item)} "
            f"(target {target_text(item)}; {item.detail})\n"
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
        scorecard = scorecard_now(store, state, window_days=targets.window_days, root=root)
        found = score_baselines(store, targets)
    title = _headline(scorecard, targets, windows.current.since)
    chosen = ScoreFormat.json if as_json else fmt
    note = _baseline_note(scorecard, found)
    if chosen is ScoreFormat.json:
        print_json(_with_baseline(scorecard.as_dict(), found))
    elif chosen is ScoreFormat.markdown:
        sys.stdout.write(markdown(scorecard, title) + (f"\n{note}\n" if note else ""))
    else:
        _table(state, scorecard, title)
        if note:
            stdout_console(state.env).print(Text(note))
    if summary:
        _append_summary(state, markdown(scorecard, title) + (f"\n{note}\n" if note else ""))
    if check or strict:
        _gate(scorecard, strict=strict)
