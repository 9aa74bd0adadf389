"""`pilothouse rollout`: staged rollouts over waves of targets, judged, rolled back on failure."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pilothouse.cli.output import print_json
from pilothouse.cli.state import State, state_of
from pilothouse.errors import PilothouseError

if TYPE_CHECKING:
    from pilothouse.delivery.rollout.analysis import Analyzer
    from pilothouse.delivery.rollout.core import Transition
    from pilothouse.delivery.rollout.plan import Plan
    from pilothouse.delivery.rollout.runner import Conductor
    from pilothouse.store import Store
    from pilothouse.store.rollouts import RolloutRecord

app = typer.Typer(
    help="Staged rollouts: waves of targets, traffic steps, the canary judge, rollback.\n\n"
    "Runs your own hook commands (deploy, set_weight, health, promote, rollback) per target; "
    "every step is recorded in the store before it runs, so `resume` continues a killed "
    "rollout exactly. Exit 0 promoted, 1 rolled back, 4 paused (promote or abort).",
    no_args_is_help=True,
)

EXIT_PAUSED = 4
PROMETHEUS_TIMEOUT = 30.0  # seconds per query

IdOption = Annotated[
    int | None, typer.Option("--id", help="The rollout (default: the newest).", show_default=False)
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


class RolledBack(PilothouseError):
    """The rollout rolled back: exit 1, with the reason."""


@app.command("start")
def start(
    ctx: typer.Context,
    plan_path: Annotated[Path, typer.Argument(metavar="PLAN", help="The rollout plan (TOML).")],
    version: Annotated[str, typer.Option("--version", help="The version to roll out.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the waves, steps and hook calls; run nothing.")
    ] = False,
) -> int:
    """Start rolling VERSION out by PLAN (or, with --dry-run, show what it would do)."""
    from pilothouse.delivery.rollout import plan as plans
    from pilothouse.delivery.rollout import render

    state = state_of(ctx)
    plan, text = plans.load_plan(state.cwd / plan_path)
    if not version.strip():
        raise PilothouseError("--version must not be empty")
    _check_judges(plan)
    if dry_run:
        sys.stdout.write("\n".join(render.dry_run(plan, version)) + "\n")
        return 0
    with state.open_store(create=True) as store:
        busy = store.unfinished_rollouts(plan.name)
        if busy:
            raise PilothouseError(
                f"rollout {busy[-1]} of {plan.name} has not finished: "
                f"`pilothouse rollout resume --id {busy[-1]}`, `promote` or `abort` it first"
            )
        rollout_id = store.start_rollout(
            name=plan.name,
            version=version,
            plan_path=str((state.cwd / plan_path).resolve()),
            plan_text=text,
            now=state.now(),
        )
        sys.stdout.write(f"rollout {rollout_id}: {plan.name} {version}\n")
        return _drive(state, store, rollout_id, "drive")


@app.command("resume")
def resume(ctx: typer.Context, rollout_id: IdOption = None) -> int:
    """Go on from the last recorded step (after a crash, a kill, a reboot)."""
    state = state_of(ctx)
    with _open_existing(state, rollout_id) as store:
        return _drive(state, store, rollout_id, "drive")


@app.command("promote")
def promote(ctx: typer.Context, rollout_id: IdOption = None) -> int:
    """Pass a pause (manual gate, marginal judgement) and go on."""
    state = state_of(ctx)
    with _open_existing(state, rollout_id) as store:
        return _drive(state, store, rollout_id, "approve")


@app.command("abort")
def abort(
    ctx: typer.Context,
    rollout_id: IdOption = None,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).")] = "by hand",
) -> int:
    """Roll back now, skipping analysis (fast-track rollback)."""
    state = state_of(ctx)
    with _open_existing(state, rollout_id) as store:
        return _drive(state, store, rollout_id, "abort", reason)


@app.command("status")
def status(ctx: typer.Context, rollout_id: IdOption = None, as_json: JsonFlag = False) -> None:
    """Where a rollout is, and every transition it recorded."""
    from pilothouse.delivery.rollout import core, render
    from pilothouse.delivery.rollout.core import Transition

    state = state_of(ctx)
    with state.open_store() as store:
        record = _record(store, rollout_id)
        rows = [Transition(*r) for r in store.rollout_transitions(record.id)]
    if as_json:
        print_json(
            {
                **_summary(record, rows),
                "transitions": [render.transition_json(r) for r in rows],
            }
        )
        return
    line = f"rollout {record.id}: {record.name} {record.version}: {core.status_of(rows)}"
    reason = core.reason_of(rows)
    sys.stdout.write(line + (f" ({reason})" if reason else "") + "\n")
    sys.stdout.write("\n".join(render.transition_lines(rows)) + "\n")


@app.command("history")
def history(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many rollouts.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """The newest rollouts, one line each: id, plan, version, outcome, when."""
    from pilothouse.delivery.rollout.core import Transition

    state = state_of(ctx)
    with state.open_store() as store:
        found = store.rollout_history(limit=limit)
    summaries = [_summary(r, [Transition(*t) for t in rows]) for r, rows in found]
    if as_json:
        print_json({"rollouts": summaries})
        return
    for s in summaries:
        reason = f"  {s['reason']}" if s["reason"] else ""
        sys.stdout.write(
            f"{s['id']:>4}  {str(s['created_at'])[:19]}  {s['name']} {s['version']}: "
            f"{s['status']}{reason}\n"
        )
    if not summaries:
        sys.stdout.write("no rollouts yet: pilothouse rollout start PLAN --version V\n")


def _summary(record: RolloutRecord, rows: list[Transition]) -> dict[str, object]:
    from pilothouse.delivery.rollout import core

    return {
        "id": record.id,
        "name": record.name,
        "version": record.version,
        "plan": record.plan_path,
        "created_at": record.created_at.isoformat(),
        "status": core.status_of(rows),
        "reason": core.reason_of(rows),
    }


def _check_judges(plan: Plan) -> None:
    """Read every judge config now, not when a wave is half deployed."""
    from pilothouse.delivery.canary import load_config
    from pilothouse.errors import ConfigError

    for judge in sorted({w.analysis.judge for w in plan.waves if w.analysis}):
        config = load_config(judge)
        for metric in config.metrics:
            if metric.query is None:
                raise ConfigError(f"{judge}: metric {metric.name!r}: no query for Prometheus")


def _no_rollout(where: str, rollout_id: int | None) -> PilothouseError:
    which = f"rollout {rollout_id}" if rollout_id is not None else "rollout"
    return PilothouseError(f"{where} has no {which}: pilothouse rollout start PLAN --version V")


def _open_existing(state: State, rollout_id: int | None = None) -> Store:
    """The store, upgraded if need be; none at all holds no rollout, and none is created."""
    from pilothouse.store import Store
    from pilothouse.store.engine import describe, parse_url

    if Store.revision(state.store_url) is None:
        raise _no_rollout(describe(parse_url(state.store_url)), rollout_id)
    return state.open_store(create=True)


def _record(store: Store, rollout_id: int | None) -> RolloutRecord:
    record = store.rollout(rollout_id)
    if record is None:
        raise _no_rollout(store.description, rollout_id)
    return record


def _drive(state: State, store: Store, rollout_id: int | None, act: str, reason: str = "") -> int:
    import httpx

    from pilothouse.delivery.rollout import core, runner
    from pilothouse.delivery.rollout.prometheus import prometheus_analyzer

    record = _record(store, rollout_id)
    with httpx.Client(timeout=PROMETHEUS_TIMEOUT) as client:
        conductor = _conductor(state, store, record, prometheus_analyzer(client))
        if act == "approve":
            outcome = runner.approve(conductor)
        elif act == "abort":
            outcome = runner.abort(conductor, reason)
        else:
            outcome = runner.drive(conductor)
    sys.stdout.write(f"rollout {record.id}: {outcome.status}\n")
    if outcome.status == core.PROMOTED:
        return 0
    if outcome.status == "paused":
        sys.stdout.write(f"paused: {outcome.reason}\n")
        return EXIT_PAUSED
    raise RolledBack(f"rollout {record.id} {outcome.status}: {outcome.reason}")


def _conductor(state: State, store: Store, record: RolloutRecord, analyzer: Analyzer) -> Conductor:
    from pilothouse.delivery.rollout.plan import parse_plan
    from pilothouse.delivery.rollout.runner import Conductor

    path = Path(record.plan_path)
    plan = parse_plan(record.plan_text, source=record.plan_path, directory=path.parent)
    return Conductor(
        store=store,
        rollout=record,
        plan=plan,
        analyzer=analyzer,
        env=state.env,
        clock=state.now,
        sleep=time.sleep,
        say=_say,
        notify=_notifier(state),
    )


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _notifier(state: State) -> Callable[[str], None]:
    webhooks: list[str] = state.config["rollout.webhooks"]

    def notify(text: str) -> None:
        if not webhooks:
            return
        import httpx

        from pilothouse.notify import post_webhook

        with httpx.Client() as client:
            for url in webhooks:
                problem = post_webhook(client, url, text)
                if problem:
                    sys.stderr.write(f"pilothouse: warning: notification not sent: {problem}\n")

    return notify
