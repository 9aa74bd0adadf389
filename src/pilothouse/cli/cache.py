"""`pilothouse cache`: cache hit rates from job logs, and advice from the workflow files."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.text import Text

from pilothouse.analysis.cache import Advice, CacheRow, advise_workflow, summarise, total_counts
from pilothouse.cli.output import Col, fitted_table, percent, print_json, seconds, stdout_console
from pilothouse.cli.state import State, state_of
from pilothouse.cli.window import (
    SinceOption,
    Window,
    WindowOption,
    empty_window_note,
    resolve_window,
)
from pilothouse.errors import printable
from pilothouse.store import Store

DEFAULT_WINDOW_DAYS = 14  # the scorecard's window
# Runs are read up to now, as `score` reads them: a run dated later (clock skew, the
# whole last day of `sample`) would make the two disagree. The bound is exclusive: one
# microsecond (the store's resolution) on, a run made this instant still counts.
_INSTANT = timedelta(microseconds=1)
WORKFLOW_GLOBS = ("*.yml", "*.yaml")

COLUMNS = (
    Col("workflow", fold=True, min_width=10),
    Col("job", fold=True, min_width=8),
    Col("key family", fold=True, min_width=14),
    Col("restores", "right", drop=4),
    Col("exact", "right"),
    Col("partial", "right", drop=3),
    Col("miss", "right"),
    Col("hit rate", "right"),
    Col("before", "right", drop=2),
    Col("saved", "right", drop=1),
    Col("lost", "right", drop=1),
)
ADVICE_COLUMNS = (
    Col("where", fold=True, min_width=20),
    Col("rule", drop=1),
    Col("advice", fold=True, prose=True, min_width=30),
)


def _minutes(value: float | None) -> str:
    return "-" if value is None else seconds(value * 60)


def _cells(row: CacheRow) -> tuple[str, ...]:
    if row.is_compiler:
        counts = ("", f"{row.compiler_hits}", "", f"{row.compiler_misses}")
    else:
        c = row.counts
        counts = (str(c.restores), str(c.exact_hits), str(c.partial_hits), str(c.misses))
    return (
        row.workflow or "-", row.job, row.key_prefix, *counts, percent(row.hit_rate),
        percent(row.previous_hit_rate), _minutes(row.minutes_saved), _minutes(row.minutes_lost),
    )  # fmt: skip


def workflow_advice(root: Path) -> tuple[list[Advice], list[str], int]:
    """Advice for every workflow file under *root*/.github/workflows; files that are not
    YAML are named in the second list and skipped; the third is how many files there were."""
    folder = root / ".github" / "workflows"
    files = sorted({p for pattern in WORKFLOW_GLOBS for p in folder.glob(pattern) if p.is_file()})
    advice: list[Advice] = []
    problems: list[str] = []
    for path in files:
        shown = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        try:
            advice += advise_workflow(shown, path.read_text(encoding="utf-8", errors="replace"))
        except (yaml.YAMLError, OSError, RecursionError) as exc:  # one line, then the next file
            problems.append(f"{shown}: not a workflow file pilothouse can read: {_first(exc)}")
    return advice, problems, len(files)


def _first(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _previous(window: Window, now: datetime) -> tuple[datetime, datetime] | None:
    if window.since is None:
        return None
    return window.since - (now - window.since), window.since


def cache_rows(
    store: Store, window: Window, now: datetime, branch: str | None = None
) -> list[CacheRow]:
    """Cache restores per workflow, job and key family over *window* (up to *now*) on
    *branch* (None: all branches), with the hit rate of the window before, busiest first
    (summed in SQL)."""
    previous = _previous(window, now)
    groups = store.cache_groups(since=window.since, until=now + _INSTANT, branch=branch)
    before = (
        store.cache_groups(since=previous[0], until=previous[1], branch=branch) if previous else []
    )
    return summarise(groups, before)


def cache_data(
    store: Store,
    state: State,
    window: Window,
    root: Path | None = None,
    branch: str | None = None,
) -> dict[str, Any]:
    """`cache --json`: cache restores over *window* on *branch* (None: all), and advice
    from the workflow files under *root* (default: the working directory)."""
    advice, _problems, _read = workflow_advice(root or state.cwd)
    return _cache_dict(cache_rows(store, window, state.now(), branch), advice, branch)


def _cache_dict(rows: list[CacheRow], advice: list[Advice], branch: str | None) -> dict[str, Any]:
    return {
        "branch": branch,
        "scope": scope_label(branch),
        "caches": [r.as_dict() for r in rows],
        "advice": [a.as_dict() for a in advice],
    }


def cache(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    window_days: WindowOption = None,
    since: SinceOption = None,
    path: Annotated[
        Path, typer.Option("--path", help="Repository whose .github/workflows to advise on.")
    ] = Path("."),
    branch: Annotated[
        str | None,
        typer.Option(
            "--branch",
            help="Only runs on this branch (default: all branches; `score` counts the "
            "[targets] branch).",
        ),
    ] = None,
) -> None:
    """Cache restores per workflow, job and key family (exact hits, restore-key hits,
    misses, hit rate, trend, minutes saved and lost) from ingested job logs, over the
    last 14 days (--window, --since) on all branches (--branch); then advice from the
    workflow files."""
    state = state_of(ctx)
    now = state.now()
    window = resolve_window(now, days=window_days, since=since, default_days=DEFAULT_WINDOW_DAYS)
    scope = scope_label(branch)
    with state.open_store() as store:
        rows = cache_rows(store, window, now, branch)
        note = None
        if not rows:
            hint = ": `pilothouse ingest logs PATH` or `ingest github --logs` adds them"
            what = "cache events" if branch is None else f"cache events on {scope}"
            note = empty_window_note(what, window, store.cache_range(branch=branch), hint)
    root = path if path.is_absolute() else state.cwd / path
    advice, problems, read = workflow_advice(root)
    for problem in problems:
        sys.stderr.write(f"pilothouse: warning: {printable(problem)}\n")
    if as_json:
        print_json(_cache_dict(rows, advice, branch))
        if note:
            sys.stderr.write(f"pilothouse: {note}\n")
        return
    _render(stdout_console(state.env), rows, advice, f"{window.label}, {scope}", note)
    if not advice:  # say where advice was looked for, so "none" is not "did not look"
        folder = root / ".github" / "workflows"
        found = f"{read} workflow file(s) read" if read else "no workflow files"
        stdout_console(state.env).print(
            Text(f"No cache advice: {found} in {printable(str(folder))}")
        )


def _saved_lost_note(shown: set[str]) -> str:
    """What the saved and lost columns mean, for those of them the table shows."""
    named = "/".join(header for header in ("saved", "lost") if header in shown)
    if not named:
        return ""
    return (
        f" {named}: restores x the difference between the mean job time (first to last log "
        "line) on a miss or restore-key hit and on an exact hit."
    )


def scope_label(branch: str | None) -> str:
    """Which runs are counted, as the title and the JSON name them."""
    return "all branches" if branch is None else f"branch {branch}"


def _render(
    console: Console, rows: list[CacheRow], advice: list[Advice], scope: str, note: str | None
) -> None:
    width = console.width
    if note:
        console.print(Text(note))
    else:
        title = f"Cache restores {scope}"
        table = fitted_table(title, COLUMNS, [_cells(r) for r in rows], width)
        console.print(table)
        total = total_counts([r for r in rows if not r.is_compiler])
        shown = {str(column.header) for column in table.columns}
        console.print(Text(
            f"{total.restores} restores: {total.exact_hits} exact, {total.partial_hits} from a "
            f"restore key, {total.misses} missed; hit rate {percent(total.hit_rate)} (exact "
            f"hits / restores).{_saved_lost_note(shown)}"
        ))  # fmt: skip
    if advice:
        cells = [(f"{a.file}:{a.line}", a.rule, a.message) for a in advice]
        console.print(fitted_table("Advice from the workflow files", ADVICE_COLUMNS, cells, width))
