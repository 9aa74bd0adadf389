"""`pilothouse ci ...`: run a workflow on demand and follow it; save baselines."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from pilothouse.cli.github import checked_api_url, github_api
from pilothouse.cli.output import Col, fitted_table, print_json, stdout_console
from pilothouse.cli.settings import validated_by
from pilothouse.cli.state import State, state_of
from pilothouse.config import DEFAULT_GITHUB_API_URL
from pilothouse.errors import printable

if TYPE_CHECKING:
    from pilothouse.ci.baseline import Window
    from pilothouse.ci.watch import RunView
    from pilothouse.model import Baseline
    from pilothouse.sources.github import GitHubApi
    from pilothouse.store import Store

app = typer.Typer(
    help="Run a workflow on demand and follow it; save per-workflow baselines.",
    no_args_is_help=True,
)

# How many looks (at --interval) for the run a dispatch started before giving up.
FIND_TRIES = 20


def _repository(state: State, value: str | None) -> str:
    repo = value or state.env.get("GITHUB_REPOSITORY") or str(state.config["ingest.repository"])
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise typer.BadParameter(
            f"{repo!r}: expected OWNER/NAME (or set $GITHUB_REPOSITORY)", param_hint="--repo"
        )
    return repo


def _notify(err: Console) -> Callable[[str], None]:
    return lambda message: err.print(Text(message))


def _shower(state: State) -> tuple[Callable[[RunView | None, RunView], None], Callable[[], None]]:
    """How a followed run is shown: a live table on a terminal, a line per change in a
    pipe or CI log. Returns (show, stop)."""
    from rich.live import Live

    from pilothouse.ci import watch

    console = stdout_console(state.env)
    if not console.is_terminal:

        def lines(before: RunView | None, after: RunView) -> None:
            for line in watch.changes(before, after):
                console.print(Text(line))

        return lines, lambda: None
    live = Live(console=console, auto_refresh=False, transient=False)
    live.start()

    def redraw(_before: RunView | None, after: RunView) -> None:
        live.update(watch.table(after, state.now()), refresh=True)

    return redraw, live.stop


def _follow(state: State, api: GitHubApi, repo: str, run_id: int, interval: float) -> RunView:
    from pilothouse.ci import watch
    from pilothouse.ci.polling import ConditionalGets

    show, stop = _shower(state)
    try:
        poller = watch.RunPoller(ConditionalGets(api), repo, run_id)
        return watch.follow(poller, interval=interval, sleep=time.sleep, show=show)
    finally:
        stop()


def _ingest(state: State, api: GitHubApi, repo: str, view: RunView, patterns: list[str]) -> str:
    from pilothouse.ci import artifacts
    from pilothouse.github_sync import sync_run

    with state.open_store(create=True) as store:
        counts = sync_run(store, api, repo, view.id, now=state.now())
        reports = artifacts.ingest_junit_artifacts(
            store, api, repo, view.id, patterns=patterns, now=state.now()
        )
    line = (
        f"{repo}: run {view.id} stored: {counts.runs} run attempts, {counts.jobs} jobs, "
        f"{counts.steps} steps, {counts.artifacts} artifacts added"
    )
    if reports.artifacts:
        line += (
            f"; {reports.files} JUnit report(s) from {reports.artifacts} artifact(s): "
            f"{reports.tests} tests, {reports.failed} failed"
        )
    return line


@app.command("run")
def run(
    ctx: typer.Context,
    workflow: Annotated[
        str, typer.Argument(help="Workflow: file name (ci.yml), path, name or id.")
    ],
    ref: Annotated[
        str | None, typer.Option(help="Branch or tag to run on (default: the default branch).")
    ] = None,
    inputs: Annotated[
        list[str] | None,
        typer.Option("--input", help="A workflow_dispatch input, NAME=VALUE (repeatable)."),
    ] = None,
    watch_run: Annotated[
        bool, typer.Option("--watch", help="Follow the run to its end; exit with its outcome.")
    ] = False,
    ingest: Annotated[
        bool,
        typer.Option(
            "--ingest",
            help="Follow the run, then store it (jobs, steps, artifacts) and its JUnit "
            "artifacts (junit*, or ci.junit_artifacts).",
        ),
    ] = False,
    repo: Annotated[
        str | None, typer.Option(help="Repository OWNER/NAME (default $GITHUB_REPOSITORY).")
    ] = None,
    api_url: Annotated[
        str,
        typer.Option(
            help="API root; for GitHub Enterprise Server https://HOST/api/v3.",
            callback=checked_api_url,
        ),
    ] = DEFAULT_GITHUB_API_URL,
    interval: Annotated[float, typer.Option(min=0, help="Seconds between polls of the run.")] = 3.0,
    max_wait: Annotated[
        float, typer.Option(min=0, help="Most seconds to spend waiting on rate limits.")
    ] = 900.0,
) -> None:
    """Trigger a workflow_dispatch event and find the run it started; with --watch
    follow it (a live table of jobs and steps on a terminal, a line per change
    otherwise) and exit 0 when it succeeds, 1 when it does not.

    The token comes from $GITHUB_TOKEN or $GH_TOKEN and needs actions:write.
    """
    from pilothouse.ci.watch import exit_code
    from pilothouse.ci.workflow import parse_inputs

    state = state_of(ctx)
    repository = _repository(state, repo)
    try:
        given = parse_inputs(inputs or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--input") from None
    err = Console(stderr=True, highlight=False)
    with github_api(state, api_url=api_url, max_wait=max_wait, notify=_notify(err)) as api:
        run_id = _dispatched(state, api, repository, workflow, ref, given, interval, err)
        if not (watch_run or ingest):
            return
        view = _follow(state, api, repository, run_id, interval)
        if ingest:
            patterns = list(state.config["ci.junit_artifacts"])
            line = _ingest(state, api, repository, view, patterns)
            stdout_console(state.env).print(Text(line))
    if exit_code(view):
        sys.stderr.write(f"pilothouse: run {run_id} ended {printable(str(view.conclusion))}\n")
        raise typer.Exit(1)


def _dispatched(
    state: State,
    api: GitHubApi,
    repository: str,
    workflow: str,
    ref: str | None,
    given: dict[str, str],
    interval: float,
    err: Console,
) -> int:
    """Check the workflow file, dispatch, and find the run; says which on stderr."""
    from pilothouse.ci import dispatch as ci
    from pilothouse.ci.workflow import check_inputs

    found = ci.find_workflow(api, repository, workflow)
    branch = ref or ci.default_ref(api, repository)
    text, source = ci.workflow_file(api, repository, found, branch, state.cwd)
    check_inputs(ci.trigger_of(text, source), given, source=source)
    search = ci.RunSearch.before_dispatch(api, repository, found, branch, state.now())
    run_id = ci.dispatch(api, repository, found, branch, given)
    if run_id is None:
        run_id = search.find(tries=FIND_TRIES, interval=interval, sleep=time.sleep)
    url = f"{ci.web_root(api.api_url)}/{repository}/actions/runs/{run_id}"
    err.print(Text(f"{found.path}: dispatched on {branch}: run {run_id} ({url})"))
    return run_id


def _take_baselines(
    store: Store, window: Window, workflows: list[str] | None
) -> tuple[list[Baseline], list[str]]:
    """Each workflow's baseline over *window*; and the workflows without a timed run."""
    from pilothouse.ci import baseline as bl
    from pilothouse.store.scorecard import Span

    attempts = store.run_workflows(window.since, window.until, window.branch)
    names = workflows or sorted(set(attempts.values()))
    queues = bl.queue_seconds(store.queue_times(window.since, window.until, window.branch))
    tallies = store.suite_tallies(since=window.since, until=window.until)
    passes = bl.pass_counts(tallies, attempts)
    taken: list[Baseline] = []
    for name in names:
        cache = store.cache_counts(
            since=window.since, until=window.until, workflows=[name], branch=window.branch
        )
        durations = store.run_durations(Span(window.since, window.until), [name], window.branch)
        item = bl.take(
            name,
            window,
            durations=durations,
            queues=queues.get(name, []),
            cache=cache,
            passes=passes.get(name, (0, 0)),
        )
        if item is not None:
            taken.append(item)
    missing = [n for n in names if n not in {i.workflow for i in taken}]
    return taken, missing


BASELINE_COLUMNS = (
    "workflow",
    "runs",
    "duration p50",
    "p90",
    "queue p50",
    "p90",
    "cache hits",
    "pass rate",
)


def _baseline_rows(items: list[Baseline]) -> list[tuple[str, ...]]:
    from pilothouse.ci.watch import duration_text

    def percent(value: float | None, places: int) -> str:
        return "-" if value is None else f"{value:.{places}f} %"

    return [
        (
            i.workflow,
            str(i.runs),
            duration_text(i.duration_p50),
            duration_text(i.duration_p90),
            duration_text(i.queue_p50) or "-",
            duration_text(i.queue_p90) or "-",
            percent(i.cache_hit_percent, 1),
            percent(i.pass_percent, 3),
        )
        for i in items
    ]


@app.command("baseline")
def baseline(
    ctx: typer.Context,
    workflows: Annotated[
        list[str] | None,
        typer.Option("--workflow", help="Workflow name (repeatable; default: every one run)."),
    ] = None,
    window_days: Annotated[
        int | None,
        typer.Option(
            "--window",
            help="Days of runs to read, up to now (default targets.window_days).",
            callback=validated_by("targets.window_days"),
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the baselines as JSON.")] = False,
) -> None:
    """Measure each workflow's baseline from the stored runs of the scored branch (run
    duration p50/p90, job queue time p50/p90, cache hit rate, test pass rate) and save
    it: `score` shows it beside the criteria it covers."""
    from pilothouse.ci import baseline as bl
    from pilothouse.cli.score import resolve_targets

    state = state_of(ctx)
    targets = resolve_targets(state, window_days)
    now = state.now()
    window = bl.Window(targets.branch, now - timedelta(days=targets.window_days), now, now)
    with state.open_store() as store:
        taken, missing = _take_baselines(store, window, workflows)
    if taken:
        with state.open_store(create=True) as store:
            store.save_baselines(taken)
    for name in missing:
        sys.stderr.write(
            f"pilothouse: warning: {printable(name)}: no completed run on {targets.branch} in "
            f"the last {targets.window_days} days: no baseline saved\n"
        )
    if as_json:
        print_json({"baselines": [bl.as_dict(i) for i in taken], "missing": missing})
        return
    console = stdout_console(state.env)
    title = (
        f"Baselines saved: {len(taken)} workflow(s) on {targets.branch}, "
        f"last {targets.window_days} days (since {window.since:%Y-%m-%d %H:%M})"
    )
    columns = tuple(
        Col(name, "left" if i == 0 else "right") for i, name in enumerate(BASELINE_COLUMNS)
    )
    console.print(fitted_table(title, columns, _baseline_rows(taken), console.width))
