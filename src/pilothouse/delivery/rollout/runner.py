"""The driver: asks the state machine what is next, records it, then does it.

Every transition is committed before the operation it names runs (write-ahead),
so a driver killed at any moment leaves the operation it was running as the last
row; `drive` runs that one again first, then goes on. An operation whose next row
exists is done and never runs again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from pilothouse.delivery.rollout import core
from pilothouse.delivery.rollout.analysis import AnalysisRequest, Analyzer
from pilothouse.delivery.rollout.core import Op, Transition
from pilothouse.delivery.rollout.hooks import HookResult, run_hook
from pilothouse.delivery.rollout.plan import Plan
from pilothouse.errors import PilothouseError, StoreError

if TYPE_CHECKING:
    from pilothouse.store import Store
    from pilothouse.store.rollouts import RolloutRecord

HookRunner = Callable[..., HookResult]


class Outcome(NamedTuple):
    status: str  # promoted | paused | rolled back | rollback incomplete
    reason: str


class TakenOver(PilothouseError):
    """Another process wrote this rollout's next transition first."""


@dataclass(frozen=True)
class Conductor:
    """What a driver needs: the rollout and the world it acts on."""

    store: Store
    rollout: RolloutRecord
    plan: Plan
    analyzer: Analyzer
    env: Mapping[str, str]
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]
    say: Callable[[str], None] = lambda _line: None
    notify: Callable[[str], None] = lambda _text: None
    hook_runner: HookRunner = field(default=run_hook)

    def rows(self) -> list[Transition]:
        return [Transition(*row) for row in self.store.rollout_transitions(self.rollout.id)]

    def append(self, rows: list[Transition], kind: str, op: Op | None, detail: str = "") -> None:
        """Commit the next transition, or stop when another process wrote it first."""
        from pilothouse.store.rollouts import TransitionRow

        seq = len(rows)
        wave, target, weight = (op.wave, op.target, op.weight) if op else (None, None, None)
        row = TransitionRow(seq, kind, wave, target, weight, detail, self.clock())
        if not self.store.add_rollout_transition(self.rollout.id, row):
            theirs = self.rows()[seq]
            raise TakenOver(
                f"rollout {self.rollout.id}: another process recorded {theirs.kind!r} "
                f"({theirs.detail or 'no detail'}) first; this one stops "
                "(`pilothouse rollout status` shows where it is)"
            )
        rows.append(Transition(*row))


def drive(conductor: Conductor) -> Outcome:
    """Run the rollout from where its transitions say it is until it pauses or ends."""
    rows = conductor.rows()
    if not rows:
        raise StoreError(f"rollout {conductor.rollout.id} has no transitions")
    resumed = core.resume_op(rows)
    if resumed is not None:
        conductor.say(f"resume: {resumed.describe(conductor.plan)} (it was running)")
        _conclude(conductor, rows, resumed, _execute(conductor, resumed, rows[-1].at))
    while True:
        action = _next(conductor.plan, rows, conductor.rollout.id)
        if action.kind == "finished":
            return Outcome(action.reason, core.stop_reason(rows) or "")
        if action.kind == "finish":
            return _finish(conductor, rows, action.reason)
        if action.kind == "pause":
            return _pause(conductor, rows, action.reason)
        assert action.op is not None
        _step(conductor, rows, action.op)


def _next(plan: Plan, rows: list[Transition], rollout_id: int) -> core.Action:
    try:
        return core.next_action(plan, rows)
    except core.OffScript as exc:
        raise StoreError(f"rollout {rollout_id}: {exc}") from None


def _step(conductor: Conductor, rows: list[Transition], op: Op) -> None:
    conductor.append(rows, op.kind, op)
    if op.kind == "gate":
        conductor.say(f"gate: wave {conductor.plan.waves[op.wave].name} approved")
        return
    conductor.say(op.describe(conductor.plan))
    _conclude(conductor, rows, op, _execute(conductor, op, rows[-1].at))


def _conclude(conductor: Conductor, rows: list[Transition], op: Op, result: Result) -> None:
    """Record what an operation's result decides: nothing, a failure, a pause."""
    if result.status == "ok":
        return
    what = f"{op.describe(conductor.plan)}: {result.detail}"
    conductor.say(f"  {result.status}: {what}")
    if op.kind == "rollback":
        conductor.append(rows, "error", op, what)
    elif result.status == "marginal":
        conductor.append(rows, "pause", op, f"marginal: {what}")
        _tell(conductor, "paused", f"marginal: {what}{_CHOICE}")
    else:
        conductor.append(rows, "fail", op, what)


def _finish(conductor: Conductor, rows: list[Transition], outcome: str) -> Outcome:
    reason = core.stop_reason(rows) or ""
    conductor.append(rows, "finish", None, outcome)
    _tell(conductor, outcome, reason)
    return Outcome(outcome, reason)


def _pause(conductor: Conductor, rows: list[Transition], reason: str) -> Outcome:
    if rows[-1].kind != "pause":
        conductor.append(rows, "pause", None, reason)
        _tell(conductor, "paused", reason + _CHOICE)
    return Outcome("paused", reason)


_CHOICE = "; `pilothouse rollout promote` or `abort`"


def _tell(conductor: Conductor, status: str, reason: str) -> None:
    record = conductor.rollout
    head = f"pilothouse rollout {record.id} ({record.name} {record.version}): {status}"
    conductor.notify(f"{head}: {reason}" if reason else head)


class Result(NamedTuple):
    status: str  # ok | fail | marginal
    detail: str


def _execute(conductor: Conductor, op: Op, started: datetime) -> Result:
    if op.kind == "soak":
        return _soak(conductor, op, started)
    if op.kind == "analyze":
        return _analyze(conductor, op)
    return _hook(conductor, op)


def _soak(conductor: Conductor, op: Op, started: datetime) -> Result:
    """Wait out the soak time counted from when it started (a resumed soak waits the rest)."""
    until = started + timedelta(seconds=conductor.plan.waves[op.wave].soak)
    remaining = (until - conductor.clock()).total_seconds()
    if remaining > 0:
        conductor.sleep(remaining)
    return Result("ok", "")


def _analyze(conductor: Conductor, op: Op) -> Result:
    analysis = conductor.plan.waves[op.wave].analysis
    assert analysis is not None and op.target is not None
    end = conductor.clock()
    window = analysis.lookback or conductor.plan.waves[op.wave].soak
    request = AnalysisRequest(
        analysis.judge,
        analysis.prometheus,
        end - timedelta(seconds=window),
        end,
        analysis.step,
        op.target,
        analysis.scopes(op.target),
        analysis.pass_score,
        analysis.marginal_score,
    )
    try:
        verdict = conductor.analyzer(request)
    except PilothouseError as exc:  # no judgement is not a pass
        return Result("fail", f"analysis failed: {exc}")
    status = {"pass": "ok", "marginal": "marginal"}.get(verdict.classification, "fail")
    conductor.say(f"  judge: {verdict.classification}: {verdict.detail}")
    return Result(status, f"judge: {verdict.classification}: {verdict.detail}")


# The canary's traffic weight once each hook has run, for {weight} where no step names it.
_WEIGHT_AFTER = {"deploy": 0, "promote": 100, "rollback": 0}


def _hook(conductor: Conductor, op: Op) -> Result:
    wave = conductor.plan.waves[op.wave]
    assert op.target is not None
    hook = wave.hooks[op.kind]
    weight = op.weight if op.weight is not None else _WEIGHT_AFTER[op.kind]
    version = conductor.rollout.version
    argv = hook.command(target=op.target, version=version, weight=weight)
    env = {
        **conductor.env,
        "PILOTHOUSE_ROLLOUT_ID": str(conductor.rollout.id),
        "PILOTHOUSE_ROLLOUT_WAVE": wave.name,
        "PILOTHOUSE_ROLLOUT_TARGET": op.target,
        "PILOTHOUSE_ROLLOUT_VERSION": version,
        "PILOTHOUSE_ROLLOUT_WEIGHT": str(weight),
    }
    result = conductor.hook_runner(
        argv, cwd=Path(conductor.plan.directory), env=env, timeout=hook.timeout
    )
    return Result("ok", "") if result.ok else Result("fail", result.detail)


def approve(conductor: Conductor) -> Outcome:
    """`rollout promote`: pass the pause (a manual gate, a marginal judgement), go on."""
    rows = conductor.rows()
    if core.status_of(rows) != "paused":
        raise PilothouseError(
            f"rollout {conductor.rollout.id} is {core.status_of(rows)}, not paused: "
            "nothing to promote"
        )
    conductor.append(rows, "approve", None, "approved by `pilothouse rollout promote`")
    return drive(conductor)


def abort(conductor: Conductor, reason: str) -> Outcome:
    """`rollout abort`: roll back now, skipping any analysis still to come."""
    rows = conductor.rows()
    status = core.status_of(rows)
    if status in (core.PROMOTED, core.ROLLED_BACK, core.ROLLBACK_INCOMPLETE):
        raise PilothouseError(f"rollout {conductor.rollout.id} has finished ({status})")
    if status != "rolling back":
        conductor.append(rows, "abort", None, f"aborted: {reason}")
        conductor.say(f"aborted: {reason}")
    return drive(conductor)
