"""`pilothouse sample`: load the bundled sample history into the store."""

from __future__ import annotations

import io
import itertools
from datetime import date, datetime
from typing import Annotated, Any

import typer
from rich.text import Text

from pilothouse import sample as samples
from pilothouse.cargo_ingest import ingest_cargo
from pilothouse.cli.output import print_json, progress_bar, stdout_console
from pilothouse.cli.state import State, state_of
from pilothouse.ingest import ingest_reports
from pilothouse.ingest_logs import spooled_input
from pilothouse.model import IngestCounts, RunInfo
from pilothouse.sample_cargo import cargo_outputs
from pilothouse.sample_costs import write_sample_costs
from pilothouse.sources.costs import iter_cost_file, price_book_from_config
from pilothouse.store import Store
from pilothouse.store.cache import LogInput


def _add(total: IngestCounts, more: IngestCounts) -> IngestCounts:
    merged: dict[str, Any] = {k: v + more.as_dict()[k] for k, v in total.as_dict().items()}
    return IngestCounts(**merged)


def sample(
    ctx: typer.Context,
    days: Annotated[int, typer.Option(min=1, max=366, help="Days of history.")] = 60,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed, the same history.")] = 7,
    end: Annotated[
        str | None, typer.Option(help="Last day of the history, YYYY-MM-DD (default: today).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print counts as JSON.")] = False,
) -> None:
    """Load a sample history (a Rust workspace's CI: ~3,500 tests, 60 days) into the store.

    It goes through the same JUnit reader and store code as `ingest junit`, and
    loading it twice adds nothing.
    """
    state = state_of(ctx)
    try:
        last_day = date.fromisoformat(end) if end else state.now().date()
    except ValueError:
        raise typer.BadParameter(
            f"{end!r} is not a date (YYYY-MM-DD)", param_hint="--end"
        ) from None
    total = IngestCounts()
    units = 0
    runs: set[tuple[str, int]] = set()
    progress = progress_bar(state.env, quiet=as_json)
    with state.open_store(create=True) as store, progress:
        task = progress.add_task("loading sample history", total=days)
        logs: list[tuple[RunInfo, LogInput]] = []
        for batch in samples.generate(days=days, end=last_day, seed=seed):
            total = _add(total, ingest_reports(store, batch.reports, batch.run, now=state.now()))
            units += _load_cargo(store, batch.run, seed=seed, now=state.now())
            logs += _job_logs(batch.run, seed)
            runs.add((batch.run.run_key, batch.run.attempt))
            if batch.run.created_at:
                elapsed = days - (last_day - batch.run.created_at.date()).days
                progress.update(task, completed=elapsed)
        new_costs, known_costs = _load_costs(store, state, days=days, end=last_day, seed=seed)
        workflows, artifacts = _load_github_records(store, days=days, end=last_day, seed=seed)
        cache_events = sum(s.events for s in store.add_job_logs(logs, now=state.now()))
        infra = _load_infra(store, days=days, end=last_day, seed=seed, now=state.now())
    result = {
        "runs": len(runs),
        **total.as_dict(),
        "cost_lines": new_costs + known_costs,
        "workflows": workflows,
        "artifacts": artifacts,
        "cargo_units": units,
        "job_logs": len(logs),
        "cache_events": cache_events,
        "infra_points": infra,
    }
    if as_json:
        print_json(result)
        return
    stdout_console(state.env).print(
        Text(
            f"Sample history: {len(runs)} run attempts, {total.files} reports, "
            f"{total.tests} test results ({total.failed} failed, "
            f"{total.duplicates} already stored); {new_costs + known_costs} cost lines "
            f"({known_costs} already stored); {units} cargo units, {workflows} workflows, "
            f"{artifacts} artifacts, {len(logs)} job logs ({cache_events} new cache events), "
            f"{infra} infrastructure points"
        )
    )


def _load_cargo(store: Store, run: RunInfo, *, seed: int, now: datetime) -> int:
    """The cargo JSON of a ci-build job, stored through `ingest cargo`'s code."""
    if run.workflow != "ci-build":
        return 0
    return ingest_cargo(store, cargo_outputs(run, seed=seed), run, now=now).units


def _load_github_records(store: Store, *, days: int, end: date, seed: int) -> tuple[int, int]:
    """The workflows and build artifacts, stored as `ingest github` stores them."""
    workflows = samples.workflow_records(end=end)
    artifacts = list(samples.artifact_records(days=days, end=end, seed=seed))
    store.upsert_workflows(samples.REPOSITORY, workflows)
    store.upsert_artifacts(samples.REPOSITORY, artifacts)
    return len(workflows), len(artifacts)


def _load_infra(store: Store, *, days: int, end: date, seed: int, now: datetime) -> int:
    """Two EC2 instances and their hourly CloudWatch points, as `ingest cloudwatch` stores them."""
    from pilothouse import sample_infra

    points = sample_infra.infra_points(days=days, end=end, seed=seed)
    store.save_infra(sample_infra.RESOURCES, points, {}, seen_at=now)
    return len(points)


def _job_logs(run: RunInfo, seed: int) -> list[tuple[RunInfo, LogInput]]:
    """The sample job's log, read by the same reader as `ingest logs` (none for most jobs)."""
    data = samples.job_log(run, seed)
    if data is None:
        return []
    source = f"sample/{run.workflow}/{run.run_key}/{run.attempt}/{run.job}.log"
    return [(run, spooled_input(source, io.BytesIO(data)))]


def _load_costs(store: Store, state: State, *, days: int, end: date, seed: int) -> tuple[int, int]:
    """The sample's bills, written as a FOCUS export and a Bedrock log, then read back
    through the same readers as real exports."""
    folder = state.cwd / ".pilothouse" / "sample"
    focus, bedrock = write_sample_costs(folder, days=days, end=end, seed=seed)
    book = price_book_from_config(
        state.config["cost.model_prices"], batch_discount=state.config["cost.batch_discount"]
    )
    lines = itertools.chain(
        iter_cost_file(focus, "focus"), iter_cost_file(bedrock, "bedrock-log", prices=book)
    )
    new, known, _removed = store.add_cost_lines(lines)
    return new, known
