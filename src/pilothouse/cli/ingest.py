"""`pilothouse ingest ...`: bring outside data into the store."""

from __future__ import annotations

import enum
from dataclasses import replace
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from pilothouse import ingest as service
from pilothouse.cli.output import print_json, progress_bar, stdout_console
from pilothouse.cli.state import state_of
from pilothouse.config import DEFAULT_GITHUB_API_URL
from pilothouse.errors import InputError
from pilothouse.sources.junit import ReportFile

app = typer.Typer(help="Bring outside data into the store.", no_args_is_help=True)


class CostFormat(enum.StrEnum):
    focus = "focus"
    cur = "cur"
    github_usage = "github-usage"
    bedrock_log = "bedrock-log"


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
    found = service.expand_paths(paths, cwd=state.cwd)
    if not found:
        raise InputError("no report files given")
    with progress_bar(state.env, quiet=as_json) as progress:
        task = progress.add_task("reading reports", total=len(found))
        files = [ReportFile.open(p) for p in progress.track(found, task_id=task)]
        progress.reset(task, description="storing reports", total=len(found))
        with state.open_store() as store:
            counts = service.ingest_reports(
                store,
                files,
                run,
                now=state.now(),
                on_file=lambda done: progress.update(task, completed=done),
            )
    if as_json:
        print_json(counts.as_dict())
        return
    line = (
        f"{counts.files} file(s), {counts.tests} tests: {counts.passed} passed, "
        f"{counts.failed} failed, {counts.errors} errors, {counts.skipped} skipped"
    )
    if counts.duplicates:
        line += f" ({counts.duplicates} already stored)"
    stdout_console(state.env).print(Text(line))


@app.command("github")
def github_actions(
    ctx: typer.Context,
    repo: Annotated[str, typer.Option(help="Repository OWNER/NAME.")],
    api_url: Annotated[
        str, typer.Option(help="API root; for GitHub Enterprise Server https://HOST/api/v3.")
    ] = DEFAULT_GITHUB_API_URL,
    since: Annotated[
        str | None, typer.Option(help="Only runs created since this date (ISO 8601).")
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="Re-read the whole history.")] = False,
    workflow: Annotated[
        str | None, typer.Option(help="Only runs of this workflow (name or .github path).")
    ] = None,
    max_wait: Annotated[
        float, typer.Option(min=0, help="Most seconds to spend waiting on rate limits.")
    ] = 900.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was added as JSON.")] = False,
) -> None:
    """Sync GitHub Actions runs, attempts, jobs, steps, artifacts and workflows.

    The token comes from $GITHUB_TOKEN or $GH_TOKEN. The first sync reads the whole
    history; later ones read what is new or changed since (a few requests when
    nothing changed).
    """
    if since and full:
        raise typer.BadParameter("--since and --full exclude each other", param_hint="--since")
    # Imported here: `ingest junit` in a CI job should not pay for an HTTP client.
    import httpx

    from pilothouse.github_sync import sync_github
    from pilothouse.sources.github import GitHubApi, Policy, token_from_environment

    state = state_of(ctx)
    token = token_from_environment(state.env)
    err = Console(stderr=True, highlight=False)
    progress = progress_bar(state.env, quiet=as_json)
    task = progress.add_task("runs", total=None)

    def advance(done: int, total: int | None) -> None:
        if total is not None:
            progress.update(task, total=total)
        progress.update(task, completed=done)

    with httpx.Client(timeout=30.0, follow_redirects=True) as client, progress:
        api = GitHubApi(
            client,
            token,
            api_url=api_url,
            policy=Policy(max_wait_seconds=max_wait),
            clock=state.now,
            notify=lambda message: err.print(Text(message)),
        )
        with state.open_store() as store:
            counts = sync_github(
                store,
                api,
                repo,
                since=service.parse_timestamp(since, what="--since") if since else None,
                full=full,
                workflow=workflow,
                now=state.now(),
                progress=advance,
            )
    if as_json:
        print_json(counts.as_dict())
        return
    stdout_console(state.env).print(
        Text(
            f"{repo}: {counts.runs} run attempts, {counts.jobs} jobs, {counts.steps} steps, "
            f"{counts.artifacts} artifacts added; {counts.unchanged} runs unchanged; "
            f"{counts.requests} API requests"
        )
    )


@app.command("cost")
def cost_exports(
    ctx: typer.Context,
    paths: Annotated[list[str], typer.Argument(help="Export files, directories or globs.")],
    fmt: Annotated[
        CostFormat, typer.Option("--format", help="focus, cur, github-usage or bedrock-log.")
    ],
    strict: Annotated[
        bool, typer.Option("--strict", help="Refuse a log line that is not an invocation record.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print counts as JSON.")] = False,
) -> None:
    """Ingest billing exports and LLM usage logs into the cost ledger (idempotent).

    FinOps FOCUS 1.0-1.2 CSV, AWS CUR 2.0 CSV (Parquet with pyarrow), GitHub's usage
    report CSV, AWS Bedrock model-invocation logs (JSON lines, priced per model with
    genai-prices and cost.model_prices overrides). One bad file and nothing is written.
    """
    from pilothouse.sources.costs import SkipLog, iter_cost_file, price_book_from_config

    state = state_of(ctx)
    files = service.expand_paths(paths, cwd=state.cwd, suffixes=None)
    book = price_book_from_config(
        state.config["cost.model_prices"], batch_discount=state.config["cost.batch_discount"]
    )
    skipped = SkipLog()
    lines = (
        line
        for path in files
        for line in iter_cost_file(path, fmt.value, strict=strict, prices=book, skipped=skipped)
    )
    with state.open_store() as store:
        new, known = store.add_cost_lines(lines)
    counts = {"files": len(files), "lines": new + known, "new": new, "duplicates": known,
              "skipped": skipped.count}  # fmt: skip
    if as_json:
        print_json(counts)
        return
    line = (
        f"{counts['files']} file(s), {counts['lines']} cost lines: {new} new, "
        f"{known} already stored"
    )
    if skipped.count:
        line += f", {skipped.count} log records skipped ({'; '.join(skipped.notes[:3])})"
    stdout_console(state.env).print(Text(line))
