"""`pilothouse ci ...`: run a workflow on demand and follow it; save baselines."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from pilothouse.cli.github import checked_api_url, github_api
from pilothouse.cli.output import stdout_console
from pilothouse.cli.state import State, state_of
from pilothouse.config import DEFAULT_GITHUB_API_URL
from pilothouse.errors import printable

if TYPE_CHECKING:
    from pilothouse.ci.watch import RunView
    from pilothouse.sources.github import GitHubApi

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
    from pilothouse.ci import dispatch as ci
    from pilothouse.ci.workflow import check_inputs, parse_inputs

    state = state_of(ctx)
    repository = _repository(state, repo)
    try:
        given = parse_inputs(inputs or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--input") from None
    err = Console(stderr=True, highlight=False)
    with github_api(state, api_url=api_url, max_wait=max_wait, notify=_notify(err)) as api:
        found = ci.find_workflow(api, repository, workflow)
        branch = ref or ci.default_ref(api, repository)
        text, source = ci.workflow_file(api, repository, found, branch, state.cwd)
        check_inputs(ci.trigger_of(text, source), given, source=source)
        search = ci.RunSearch.before_dispatch(api, repository, found, branch, state.now())
        run_id = ci.dispatch(api, repository, found, branch, given)
        if run_id is None:
            run_id = search.find(tries=FIND_TRIES, interval=interval, sleep=time.sleep)
        url = f"https://github.com/{repository}/actions/runs/{run_id}"
        err.print(Text(f"{found.path}: dispatched on {branch}: run {run_id} ({url})"))
        if not (watch_run or ingest):
            return
        view = _follow(state, api, repository, run_id, interval)
        if ingest:
            stdout_console(state.env).print(
                Text(
                    _ingest(state, api, repository, view, list(state.config["ci.junit_artifacts"]))
                )
            )
    from pilothouse.ci.watch import exit_code

    if exit_code(view):
        sys.stderr.write(f"pilothouse: run {run_id} ended {printable(str(view.conclusion))}\n")
        raise typer.Exit(1)
