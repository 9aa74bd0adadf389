"""`pilothouse artifacts`: what each workflow's runs upload, against the size target."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from pilothouse.analysis import scorecard as card
from pilothouse.cli import artifacts_inspect
from pilothouse.cli.output import Col, fitted_table, print_json, stdout_console
from pilothouse.cli.score import Targets, Windows, resolve_targets
from pilothouse.cli.settings import validated_by
from pilothouse.cli.state import State, state_of
from pilothouse.model import RunArtifacts
from pilothouse.store import Store

app = typer.Typer(
    help="Artifact sizes per workflow: newest and p50 per run against the target, growth.",
    invoke_without_command=True,
)
LARGEST = 5


def _mb(size: float | None) -> float | None:
    return None if size is None else round(size / card.MB, 3)


def _by_workflow(runs: Sequence[RunArtifacts]) -> dict[str, list[RunArtifacts]]:
    found: dict[str, list[RunArtifacts]] = defaultdict(list)
    for run in runs:
        found[run.workflow].append(run)
    return found


def _largest(store: Store, first: RunArtifacts, newest: RunArtifacts) -> list[dict[str, Any]]:
    """The newest run's largest artifacts, each beside its size in the window's first run."""
    before = dict(store.artifacts_of_run(first.repository_id, first.run_key))
    return [
        {"name": name, "mb": _mb(size), "first_mb": _mb(before.get(name))}
        for name, size in store.artifacts_of_run(newest.repository_id, newest.run_key)[:LARGEST]
    ]


def _workflow_entry(
    store: Store,
    name: str,
    runs: list[RunArtifacts],
    previous: list[RunArtifacts],
    target_mb: float,
    branch: str,
) -> dict[str, Any]:
    criterion = card.artifact_size(
        [r.total_bytes for r in runs], [r.total_bytes for r in previous],
        target_mb=target_mb, scope=f"{name} on {branch}",
    )  # fmt: skip
    first, newest = runs[0], runs[-1]
    return {
        "workflow": name,
        "runs": len(runs),
        "p50_mb": criterion.value,
        "newest_mb": _mb(newest.total_bytes),
        "newest_run": newest.run_key,
        "newest_at": newest.created_at,
        "first_mb": _mb(first.total_bytes),
        "growth_mb": _mb(newest.total_bytes - first.total_bytes),
        "previous_p50_mb": criterion.previous,
        "target_mb": target_mb,
        "status": criterion.status,
        "largest": _largest(store, first, newest),
    }


def artifact_report(store: Store, state: State, targets: Targets) -> dict[str, Any]:
    """Per workflow with artifacts on the branch in the window: sizes per run, growth,
    the largest artifacts."""
    windows = Windows.ending(state.now(), targets.window_days)
    current = _by_workflow(store.run_artifacts(windows.current, None, targets.branch))
    previous = _by_workflow(store.run_artifacts(windows.previous, None, targets.branch))
    target_mb = float(state.config["targets.artifact_mb"])
    return {
        "window_days": targets.window_days,
        "branch": targets.branch,
        "target_mb": target_mb,
        "workflows": [
            _workflow_entry(store, name, runs, previous.get(name, []), target_mb, targets.branch)
            for name, runs in sorted(current.items())
        ],
    }


def artifacts_data(store: Store, state: State, *, window_days: int | None = None) -> dict[str, Any]:
    """`artifacts --json`: artifact_report over the last *window_days* (default
    targets.window_days) on targets.branch."""
    return artifact_report(store, state, resolve_targets(state, window_days))


ARTIFACT_COLUMNS = (
    Col("workflow", fold=True, min_width=10),
    Col("runs", "right", drop=2),
    Col("p50", "right"),
    Col("newest", "right"),
    Col("growth", "right", drop=3),
    Col("previous p50", "right", drop=1),
    Col("status"),
    Col("largest in the newest run", fold=True, min_width=20, prose=True, drop=4),
)


def _size(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} MB"


def _render(console: Console, report: dict[str, Any]) -> None:
    rows = [
        (
            item["workflow"],
            str(item["runs"]),
            _size(item["p50_mb"]),
            _size(item["newest_mb"]),
            f"{item['growth_mb']:+.1f} MB",
            _size(item["previous_p50_mb"]),
            "under target" if item["status"] == "met" else "over target",
            ", ".join(f"{a['name']} {_size(a['mb'])}" for a in item["largest"]),
        )
        for item in report["workflows"]
    ]
    title = (
        f"Artifacts per run, last {report['window_days']} days on {report['branch']} "
        f"(target < {report['target_mb']:g} MB)"
    )
    console.print(fitted_table(title, ARTIFACT_COLUMNS, rows, console.width))


@app.callback()
def artifacts(
    ctx: typer.Context,
    window_days: Annotated[
        int | None,
        typer.Option(
            "--window",
            help="Days to read, up to now (default targets.window_days).",
            callback=validated_by("targets.window_days"),
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Per workflow: newest and p50 total artifact size per run against targets.artifact_mb,
    growth over the window, and the largest artifacts of the newest run."""
    if ctx.invoked_subcommand is not None:
        return
    state = state_of(ctx)
    targets = resolve_targets(state, window_days)
    with state.open_store() as store:
        report = artifacts_data(store, state, window_days=window_days)
    if as_json:
        print_json(report)
    elif not report["workflows"]:
        stdout_console(state.env).print(
            Text(
                f"No artifacts of runs on {targets.branch} in the last {targets.window_days} "
                "days: `pilothouse ingest github` syncs them"
            )
        )
    else:
        _render(stdout_console(state.env), report)


# `inspect` reads local files only (pilothouse.artifacts); the listing above reads the store.
app.command("inspect")(artifacts_inspect.inspect)
