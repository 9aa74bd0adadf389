"""`pilothouse ingest ...`: bring outside data into the store."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import typer
from rich.text import Text

from pilothouse import ingest as service
from pilothouse.cli.output import print_json, stdout_console
from pilothouse.cli.state import state_of
from pilothouse.errors import InputError
from pilothouse.sources.junit import ReportFile

app = typer.Typer(help="Bring outside data into the store.", no_args_is_help=True)


@app.command("junit")
def junit(
    ctx: typer.Context,
    paths: Annotated[
        list[str], typer.Argument(help="Report files, directories (recursive) or globs.")
    ],
    run_id: Annotated[str | None, typer.Option(help="CI run id (default $GITHUB_RUN_ID).")] = None,
    commit: Annotated[str | None, typer.Option(help="Commit SHA (default $GITHUB_SHA).")] = None,
    branch: Annotated[str | None, typer.Option(help="Branch (default $GITHUB_REF_NAME).")] = None,
    workflow: Annotated[
        str | None, typer.Option(help="Workflow name (default $GITHUB_WORKFLOW).")
    ] = None,
    job: Annotated[str | None, typer.Option(help="Job name (default $GITHUB_JOB).")] = None,
    attempt: Annotated[
        int | None, typer.Option(min=1, help="Run attempt (default $GITHUB_RUN_ATTEMPT or 1).")
    ] = None,
    started: Annotated[
        str | None, typer.Option(help="When the run started, ISO 8601 (default: now).")
    ] = None,
    repo: Annotated[
        str | None, typer.Option(help="Repository OWNER/NAME (default $GITHUB_REPOSITORY).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print counts as JSON.")] = False,
) -> None:
    """Ingest JUnit XML reports (pytest, nextest, jest, Surefire, go, PHPUnit, ...)."""
    state = state_of(ctx)
    run = service.run_from_environment(state.env, repository=state.config["ingest.repository"])
    run = replace(
        run,
        run_key=run_id or run.run_key,
        commit=commit or run.commit,
        branch=branch or run.branch,
        workflow=workflow or run.workflow,
        job=job or run.job,
        attempt=attempt or run.attempt,
        repository=repo or run.repository,
        created_at=service.parse_timestamp(started, what="--started") if started else None,
    )
    files = [ReportFile.open(p) for p in service.expand_paths(paths, cwd=state.cwd)]
    if not files:
        raise InputError("no report files given")
    with state.open_store() as store:
        counts = service.ingest_reports(store, files, run, now=state.now())
    if as_json:
        print_json(counts.as_dict())
        return
    line = (
        f"{counts.files} file(s), {counts.tests} tests: {counts.passed} passed, "
        f"{counts.failed} failed, {counts.errors} errors, {counts.skipped} skipped"
    )
    if counts.duplicates:
        line += f" ({counts.duplicates} already stored)"
    stdout_console().print(Text(line))
