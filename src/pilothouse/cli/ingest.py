"""`pilothouse ingest ...`: bring outside data into the store."""

from __future__ import annotations

import enum
import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from pilothouse import ingest as service
from pilothouse.cli.github import checked_api_url, github_api
from pilothouse.cli.output import print_json, progress_bar, stdout_console
from pilothouse.cli.state import State, state_of
from pilothouse.config import DEFAULT_GITHUB_API_URL
from pilothouse.errors import InputError, PilothouseError, StoreError, printable
from pilothouse.model import RunInfo

if TYPE_CHECKING:
    from pilothouse.store import Store

app = typer.Typer(help="Bring outside data into the store.", no_args_is_help=True)


def _timestamp(value: str | None, flag: str) -> datetime | None:
    """An ISO 8601 option value; a bad one is a usage error (exit 2), like any bad flag."""
    if value is None:
        return None
    try:
        return service.parse_timestamp(value, what=flag)
    except InputError as exc:
        message = f"{value!r} is not an ISO 8601 date-time"
        raise typer.BadParameter(message, param_hint=flag) from exc


def _warn(lines: list[str]) -> None:
    for line in lines:
        sys.stderr.write(f"pilothouse: warning: {printable(line)}\n")


def _repository(value: str | None) -> str | None:
    """--repo must be OWNER/NAME: checked while parsing, so a bad one exits 2."""
    if value is not None and (value.count("/") != 1 or not all(value.split("/"))):
        raise typer.BadParameter(f"{value!r}: expected OWNER/NAME", param_hint="--repo")
    return value


class CostFormat(enum.StrEnum):
    focus = "focus"
    cur = "cur"
    github_usage = "github-usage"
    bedrock_log = "bedrock-log"


def _given_run(state: State, **given: Any) -> RunInfo:
    """The run an ingest writes into: GitHub Actions' environment, then the flags given."""
    run = service.run_from_environment(state.env, repository=state.config["ingest.repository"])
    return replace(run, **{field: value for field, value in given.items() if value})


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
        int | None,
        typer.Option(min=1, max=2**31 - 1, help="Run attempt (default $GITHUB_RUN_ATTEMPT or 1)."),
    ] = None,
    started: Annotated[
        str | None, typer.Option(help="When the run started, ISO 8601 (default: now).")
    ] = None,
    repo: Annotated[
        str | None,
        typer.Option(
            help="Repository OWNER/NAME (default $GITHUB_REPOSITORY).", callback=_repository
        ),
    ] = None,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid", help="Store the valid reports, with a warning per invalid one."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print counts as JSON.")] = False,
) -> None:
    """Ingest JUnit XML reports (pytest, nextest, jest, Surefire, go, PHPUnit, ...).

    One invalid report and nothing is written (every invalid one is named), unless
    --skip-invalid.
    """
    state = state_of(ctx)
    run = _given_run(
        state,
        run_key=run_id,
        commit=commit,
        branch=branch,
        workflow=workflow,
        job=job,
        attempt=attempt,
        repository=repo,
        created_at=_timestamp(started, "--started"),
    )
    found = service.expand_paths(paths, cwd=state.cwd)
    with progress_bar(state.env, quiet=as_json) as progress:
        task = progress.add_task("reading reports", total=len(found))
        files, unreadable = service.open_reports(progress.track(found, task_id=task))
        if not files and not unreadable:
            raise InputError("no report files given")
        progress.reset(task, description="storing reports", total=len(files))
        with state.open_store(create=True) as store:
            # What is alive now (modules, the store) lives until exit: spare it from
            # the collections that the ingest's hundreds of thousands of records trigger.
            gc.freeze()
            counts = service.ingest_reports(
                store,
                files,
                run,
                now=state.now(),
                skip_invalid=skip_invalid,
                problems=unreadable,
                on_file=lambda done: progress.update(task, completed=done),
            )
    _warn([f"skipped {problem}" for problem in counts.invalid] + list(counts.warnings))
    if as_json:
        extra = {"skipped_files": len(counts.invalid)} if skip_invalid else {}
        print_json({**counts.as_dict(), **extra})
        return
    line = (
        f"{counts.files} file(s), {counts.tests} tests: {counts.passed} passed, "
        f"{counts.failed} failed, {counts.errors} errors, {counts.skipped} skipped"
    )
    if counts.duplicates:
        line += f" ({counts.duplicates} already stored)"
    stdout_console(state.env).print(Text(line))


@app.command("logs")
def logs(
    ctx: typer.Context,
    paths: Annotated[
        list[str], typer.Argument(help="Log files, directories (recursive) or globs.")
    ],
    run_id: Annotated[str | None, typer.Option(help="CI run id (default $GITHUB_RUN_ID).")] = None,
    job: Annotated[
        str | None, typer.Option(help="Job name (default $GITHUB_JOB, else each file's name).")
    ] = None,
    workflow: Annotated[
        str | None, typer.Option(help="Workflow name (default $GITHUB_WORKFLOW).")
    ] = None,
    commit: Annotated[str | None, typer.Option(help="Commit SHA (default $GITHUB_SHA).")] = None,
    branch: Annotated[str | None, typer.Option(help="Branch (default $GITHUB_REF_NAME).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print counts as JSON.")] = False,
) -> None:
    """Ingest CI job logs: the cache lines they hold (actions/cache, rust-cache, setup-*,
    sccache, ccache) become cache events of the run's job, for `pilothouse cache`.

    Read line by line (any size); the same log for the same job is stored once.
    """
    from pilothouse import ingest_logs

    state = state_of(ctx)
    run = _given_run(
        state, run_key=run_id, job=job, workflow=workflow, commit=commit, branch=branch
    )
    found = service.expand_paths(paths, cwd=state.cwd, suffixes=ingest_logs.LOG_SUFFIXES)
    files = ingest_logs.open_logs(found)
    with state.open_store(create=True) as store:
        counts = ingest_logs.ingest_logs(store, files, run, now=state.now())
    if as_json:
        print_json(counts.as_dict())
        return
    line = f"{counts.files} log(s): {counts.events} cache events"
    if counts.duplicates:
        line += f" ({counts.duplicates} log(s) already stored)"
    stdout_console(state.env).print(Text(line))


@app.command("cargo")
def cargo(
    ctx: typer.Context,
    paths: Annotated[
        list[str], typer.Argument(help="cargo --message-format=json outputs, directories or globs.")
    ],
    run_id: Annotated[str | None, typer.Option(help="CI run id (default $GITHUB_RUN_ID).")] = None,
    job: Annotated[str | None, typer.Option(help="Job name (default $GITHUB_JOB).")] = None,
    workflow: Annotated[
        str | None, typer.Option(help="Workflow name (default $GITHUB_WORKFLOW).")
    ] = None,
    commit: Annotated[str | None, typer.Option(help="Commit SHA (default $GITHUB_SHA).")] = None,
    timings: Annotated[
        str | None,
        typer.Option(help="cargo --timings report (cargo-timing.html) or timing-info JSON lines."),
    ] = None,
    workspace: Annotated[
        str | None,
        typer.Option(
            help="Workspace root: path packages under it are members "
            "(default $GITHUB_WORKSPACE, else the directory holding the target directory)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print counts as JSON.")] = False,
) -> None:
    """Ingest cargo build/test/check --message-format=json output: every unit, fresh or rebuilt.

    A malformed JSON line refuses the whole call (file:line named, nothing written);
    lines of human output mixed in are skipped. The same output twice adds nothing.
    """
    from pilothouse.cargo_ingest import ingest_cargo, open_outputs
    from pilothouse.sources.cargo import read_timings

    state = state_of(ctx)
    run = _given_run(state, run_key=run_id, commit=commit, workflow=workflow, job=job)
    found = service.expand_paths(paths, cwd=state.cwd, suffixes=(".json", ".jsonl", ".log", ".txt"))
    if timings is not None and len(found) != 1:
        raise typer.BadParameter(
            f"goes with one cargo output (the same cargo invocation), got {len(found)} files",
            param_hint="--timings",
        )
    timed = read_timings(state.cwd / timings) if timings is not None else None
    root = workspace or state.env.get("GITHUB_WORKSPACE") or None
    files = open_outputs(found)
    with state.open_store(create=True) as store:
        counts = ingest_cargo(store, files, run, now=state.now(), timings=timed, workspace=root)
    if as_json:
        print_json(counts.as_dict())
        return
    line = f"{counts.files} cargo output(s), {counts.units} units: {counts.rebuilt} rebuilt"
    if counts.duplicates:
        line += f" ({counts.duplicates} units already stored)"
    stdout_console(state.env).print(Text(line))


@app.command("github")
def github_actions(
    ctx: typer.Context,
    repo: Annotated[str, typer.Option(help="Repository OWNER/NAME.", callback=_repository)],
    api_url: Annotated[
        str,
        typer.Option(
            help="API root; for GitHub Enterprise Server https://HOST/api/v3.",
            callback=checked_api_url,
        ),
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
    logs: Annotated[
        bool,
        typer.Option(
            "--logs", help="Also read each new job's log for its cache lines (a request per job)."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was added as JSON.")] = False,
) -> None:
    """Sync GitHub Actions runs, attempts, jobs, steps, artifacts and workflows.

    The token comes from $GITHUB_TOKEN or $GH_TOKEN. The first sync reads the whole
    history; later ones read what is new or changed since (a few requests when
    nothing changed).
    """
    if since and full:
        raise typer.BadParameter("--since and --full exclude each other", param_hint="--since")
    since_time = _timestamp(since, "--since")
    # Imported here: `ingest junit` in a CI job should not pay for an HTTP client.
    from pilothouse.github_sync import sync_github

    state = state_of(ctx)
    err = Console(stderr=True, highlight=False)
    progress = progress_bar(state.env, quiet=as_json)
    task = progress.add_task("runs", total=None)

    def advance(done: int, total: int | None) -> None:
        if total is not None:
            progress.update(task, total=total)
        progress.update(task, completed=done)

    def notify(message: str) -> None:
        err.print(Text(message))

    with github_api(state, api_url=api_url, max_wait=max_wait, notify=notify) as api, progress:
        with state.open_store(create=True) as store:
            try:
                counts = sync_github(
                    store,
                    api,
                    repo,
                    since=since_time,
                    full=full,
                    workflow=workflow,
                    now=state.now(),
                    progress=advance,
                    logs=logs,
                )
            except PilothouseError as exc:
                _note_sync_failure(store, repo, state.now(), exc)
                raise
    if as_json:
        extra = {"logs": counts.logs, "logs_expired": counts.logs_expired,
                 "cache_events": counts.cache_events} if logs else {}  # fmt: skip
        print_json({**counts.as_dict(), **extra})
        return
    line = (
        f"{repo}: {counts.runs} run attempts, {counts.jobs} jobs, {counts.steps} steps, "
        f"{counts.artifacts} artifacts added; {counts.unchanged} runs unchanged; "
        f"{counts.requests} API requests"
    )
    if logs:
        line += (
            f"; {counts.logs} job logs read ({counts.cache_events} cache events), "
            f"{counts.logs_expired} expired"
        )
    stdout_console(state.env).print(Text(line))


def _note_sync_failure(store: Store, repo: str, at: datetime, exc: PilothouseError) -> None:
    """Keep why the sync failed, for the daily routine's watchdog; a store that cannot
    take it (the store itself failed) leaves the original error to be reported."""
    if isinstance(exc, StoreError):
        return
    with suppress(PilothouseError):
        store.record_sync_failure("github", repo, at, printable(str(exc)))


# Allocations between young-generation collections while a bulk ingest runs (Python's
# default is 700): its records are short-lived and make no cycles, so collecting them
# every few hundred allocations is most of the collector's cost and frees nothing.
BULK_GC_THRESHOLD = 50_000


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Collect garbage less often while records stream into the store: what is alive
    now (modules, the store) is frozen out of the collections, and the youngest
    generation is collected every BULK_GC_THRESHOLD allocations."""
    gc.freeze()
    threshold = gc.get_threshold()
    gc.set_threshold(BULK_GC_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


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
    from pilothouse.sources.costs import (
        REPLACES_PERIODS,
        SkipLog,
        iter_cost_file,
        price_book_from_config,
    )

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
    with state.open_store(create=True) as store, _fewer_collections():
        new, known, removed = store.add_cost_lines(lines, replacing=REPLACES_PERIODS)
    counts = {"files": len(files), "lines": new + known, "new": new, "duplicates": known,
              "replaced": removed, "skipped": skipped.count}  # fmt: skip
    if as_json:
        print_json(counts)
        return
    line = (
        f"{counts['files']} file(s), {counts['lines']} cost lines: {new} new, "
        f"{known} already stored"
    )
    if removed:
        line += f", {removed} lines of an earlier delivery of the same billing period removed"
    if skipped.count:
        line += f", {skipped.count} log records skipped ({'; '.join(skipped.notes[:3])})"
    stdout_console(state.env).print(Text(line))


# -- infrastructure status (src/pilothouse/infra) ----------------------------------------------


@app.command("cloudwatch")
def cloudwatch(
    ctx: typer.Context,
    instance: Annotated[
        list[str] | None,
        typer.Option(help="EC2 instance id to read (repeatable; default infra.instances)."),
    ] = None,
    group: Annotated[
        list[str] | None,
        typer.Option(
            help="Auto Scaling group to read, with its instances (repeatable; default "
            "infra.auto_scaling_groups)."
        ),
    ] = None,
    region: Annotated[
        str | None, typer.Option(help="AWS region (default infra.region, else the AWS chain's).")
    ] = None,
    hourly: Annotated[
        bool, typer.Option("--hourly", help="Hourly periods (default infra.period_seconds).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print counts as JSON.")] = False,
) -> None:
    """Read EC2 instances and Auto Scaling groups (state, type) and their CloudWatch
    metrics: CPU, memory (the CloudWatch agent's mem_used_percent), network in and out,
    status checks.

    Reads the instances and groups named (flags, else infra.instances and
    infra.auto_scaling_groups), else every instance tagged infra.watch_tag. Incremental:
    each metric is read from where the last read ended (infra.backfill_days the first
    time). AWS credentials come from the standard chain only (environment, profile, SSO,
    instance role) and are never stored. Needs boto3: pip install 'pilothouse[aws]'.
    """
    from pilothouse.infra import cloudwatch as aws
    from pilothouse.infra.ingest import Selection, ingest_cloudwatch

    state = state_of(ctx)
    config = state.config
    selection = Selection(
        instances=instance or config["infra.instances"],
        groups=group or config["infra.auto_scaling_groups"],
        watch_tag=config["infra.watch_tag"],
        period_seconds=3600 if hourly else int(config["infra.period_seconds"]),
        backfill_days=int(config["infra.backfill_days"]),
    )
    session = aws.session(region or config["infra.region"])
    with state.open_store(create=True) as store:
        counts = ingest_cloudwatch(store, session, selection, now=state.now())
    if as_json:
        print_json(counts.as_dict())
        return
    line = (
        f"{counts.instances} instance(s), {counts.groups} group(s) in {session.region_name}: "
        f"{counts.points} CloudWatch points read in {counts.queries} metric queries, "
        f"{counts.new_points} new"
    )
    if not counts.instances and not counts.groups:
        line += f" (no instance tagged {selection.watch_tag!r}; name some in [infra])"
    stdout_console(state.env).print(Text(line))


@app.command("runners")
def runners(
    ctx: typer.Context,
    repo: Annotated[
        list[str] | None,
        typer.Option(help="Repository OWNER/NAME whose runners to list (repeatable)."),
    ] = None,
    org: Annotated[
        list[str] | None, typer.Option(help="Organisation whose runners to list (repeatable).")
    ] = None,
    api_url: Annotated[
        str,
        typer.Option(
            help="API root; for GitHub Enterprise Server https://HOST/api/v3.",
            callback=checked_api_url,
        ),
    ] = DEFAULT_GITHUB_API_URL,
    as_json: Annotated[bool, typer.Option("--json", help="Print counts as JSON.")] = False,
) -> None:
    """List self-hosted GitHub Actions runners (online, offline, busy; labels) of
    repositories and organisations into the store, replacing the last listing.

    The token comes from $GITHUB_TOKEN or $GH_TOKEN and needs admin read access
    (repository Administration, or organisation Self-hosted runners); a scope it may
    not list (403, 404) is skipped with a warning, and fails the command when every
    scope is.
    """
    from pilothouse.infra.ingest import store_runners
    from pilothouse.infra.runners import list_runners, scopes

    for name in repo or []:
        _repository(name)
    if not repo and not org:
        raise typer.BadParameter("name a --repo OWNER/NAME or an --org", param_hint="--repo")
    state = state_of(ctx)
    notes: list[str] = []
    with github_api(state, api_url=api_url, max_wait=900.0, notify=notes.append) as api:
        listings = list_runners(api, scopes(repo or [], org or []), note=notes.append)
    _warn(notes)
    if not listings:
        raise InputError("no runners listed: the token may list none of the scopes given")
    with state.open_store(create=True) as store:
        counts = store_runners(store, listings, now=state.now())
    if as_json:
        print_json(counts)
        return
    stdout_console(state.env).print(Text(
        f"{counts['runners']} runner(s) in {counts['scopes']} scope(s): {counts['online']} "
        f"online ({counts['busy']} busy), {counts['offline']} offline; {counts['new']} new"
    ))  # fmt: skip
