"""The rollout state machine: from a plan and its recorded transitions, what to do next.

Pure: no clock, no store, no processes. The plan unrolls into one fixed script of
forward operations (`forward_ops`); the store holds one row per transition, written
before the operation it names runs. So the rows say how far the script got, and
`next_action` reads the rest from them:

- the forward script: `gate` (a manual gate, passed by an `approve` row), then per
  batch of targets `deploy`, per traffic weight `set_weight`, `soak`, `health`,
  `analyze`, and at the end `promote`;
- a `pause` row (marginal judgement, manual gate) stops until `approve` or `abort`;
- a `fail` row (failed hook or judgement) or an `abort` row switches to the rollback
  script: the touched targets of the current wave, newest first, and with
  rollback_scope = all every target of the completed waves too;
- a `finish` row ends the rollout.

A driver that finds an operation row last was stopped while that operation ran: it
runs that operation again (`resume_op`), then asks `next_action`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from pilothouse.delivery.rollout.plan import Plan

# Operations of the forward script (each a row, written before it runs).
FORWARD = ("gate", "deploy", "set_weight", "soak", "health", "analyze", "promote")
# Rows that record a decision rather than an operation.
DECISIONS = ("start", "pause", "approve", "abort", "fail", "error", "finish")
KINDS = (*FORWARD, "rollback", *DECISIONS)
# Operations a driver runs again when it finds one as the last row (the gate runs nothing).
RERUN = ("deploy", "set_weight", "soak", "health", "analyze", "promote", "rollback")

PROMOTED = "promoted"
ROLLED_BACK = "rolled back"
ROLLBACK_INCOMPLETE = "rollback incomplete"


@dataclass(frozen=True)
class Op:
    """One operation: *kind* on *target* (None: the wave or batch) at *weight*."""

    kind: str
    wave: int
    target: str | None = None
    weight: int | None = None

    def describe(self, plan: Plan) -> str:
        parts = [self.kind.replace("_", " "), self.target or f"wave {plan.waves[self.wave].name}"]
        if self.weight is not None:
            parts.append(f"at {self.weight}%")
        return " ".join(parts)


class Transition(NamedTuple):
    """A recorded row: the *seq*-th transition of a rollout."""

    seq: int
    kind: str
    wave: int | None
    target: str | None
    weight: int | None
    detail: str
    at: datetime

    @property
    def op(self) -> Op:
        assert self.wave is not None, "operation rows name their wave"
        return Op(self.kind, self.wave, self.target, self.weight)


class Action(NamedTuple):
    """What a driver does next: run *op*, pause, or finish with *reason*."""

    kind: str  # run | pause | finish | finished
    op: Op | None = None
    reason: str = ""


def forward_ops(plan: Plan) -> list[Op]:
    """The plan's whole forward script, in the order it runs.

    >>> from pathlib import Path
    >>> from pilothouse.delivery.rollout.plan import parse_plan
    >>> plan = parse_plan('''[rollout]
    ... name = "x"
    ... [hooks]
    ... deploy = ["d"]
    ... set_weight = ["w"]
    ... promote = ["p"]
    ... rollback = ["r"]
    ... [[wave]]
    ... name = "one"
    ... targets = ["a"]
    ... steps = [50, 100]''', source="x.toml", directory=Path("."))
    >>> [op.kind for op in forward_ops(plan)]
    ['deploy', 'set_weight', 'set_weight', 'promote']
    """
    ops: list[Op] = []
    for index, wave in enumerate(plan.waves):
        if wave.gated:
            ops.append(Op("gate", index))
        for batch in wave.batches():
            ops.extend(Op("deploy", index, t) for t in batch)
            for weight in wave.steps:
                ops.extend(Op("set_weight", index, t, weight) for t in batch)
                if wave.soak:
                    ops.append(Op("soak", index, None, weight))
                if "health" in wave.hooks:
                    ops.extend(Op("health", index, t, weight) for t in batch)
                if wave.analysis is not None:
                    ops.extend(Op("analyze", index, t, weight) for t in batch)
            ops.extend(Op("promote", index, t) for t in batch)
    return ops


class OffScript(Exception):
    """The recorded transitions do not follow the plan (not written by this plan)."""


def next_action(plan: Plan, rows: Sequence[Transition]) -> Action:
    """What to do after *rows* (every operation in them done)."""
    finished = next((r for r in rows if r.kind == "finish"), None)
    if finished is not None:
        return Action("finished", reason=finished.detail)
    stop = next((i for i, r in enumerate(rows) if r.kind in ("fail", "abort")), None)
    if stop is not None:
        return _rolling_back(plan, rows, stop)
    last = rows[-1] if rows else None
    if last is not None and last.kind == "pause":
        return Action("pause", reason=last.detail)
    script = forward_ops(plan)
    done = [r for r in rows if r.kind in FORWARD]
    _check_script(script, done)
    if len(done) == len(script):
        return Action("finish", reason=PROMOTED)
    op = script[len(done)]
    if op.kind == "gate" and (last is None or last.kind != "approve"):
        return Action("pause", op, f"manual gate before wave {plan.waves[op.wave].name}")
    return Action("run", op)


def _check_script(script: Sequence[Op], done: Sequence[Transition]) -> None:
    # The newest row is checked: each earlier one was the newest when it was written.
    if len(done) > len(script) or (done and done[-1].op != script[len(done) - 1]):
        raise OffScript("the recorded transitions do not follow the plan")


def rollback_targets(plan: Plan, rows: Sequence[Transition]) -> list[str]:
    """The targets to roll back after *rows* (up to the fail or abort), in order.

    The current wave's deployed targets newest first; with rollback_scope = all,
    then every target of the completed waves, newest first.
    """
    forward = [r for r in rows if r.kind in FORWARD]
    if not forward:
        return []
    current = forward[-1].wave
    touched = list(dict.fromkeys(r.target for r in forward if r.kind == "deploy" and r.target))
    touched.reverse()
    if plan.rollback_scope == "all":
        return touched
    return [t for t in touched if plan.wave_of(t) == current]


def _rolling_back(plan: Plan, rows: Sequence[Transition], stop: int) -> Action:
    targets = rollback_targets(plan, rows[:stop])
    done = {r.target for r in rows[stop:] if r.kind == "rollback"}
    pending = [t for t in targets if t not in done]
    if pending:
        return Action("run", Op("rollback", plan.wave_of(pending[0]), pending[0]))
    errors = any(r.kind == "error" for r in rows[stop:])
    return Action("finish", reason=ROLLBACK_INCOMPLETE if errors else ROLLED_BACK)


def resume_op(rows: Sequence[Transition]) -> Op | None:
    """The operation a stopped driver was running (the last row), if any."""
    if rows and rows[-1].kind in RERUN:
        return rows[-1].op
    return None


def status_of(rows: Sequence[Transition]) -> str:
    """One word for where a rollout is: running, paused, rolling back, or its outcome."""
    kinds = [r.kind for r in rows]
    if "finish" in kinds:
        return rows[kinds.index("finish")].detail
    if "fail" in kinds or "abort" in kinds:
        return "rolling back"
    if kinds and kinds[-1] == "pause":
        return "paused"
    return "running"


def stop_reason(rows: Sequence[Transition]) -> str | None:
    """Why the rollout is rolling back (the fail or abort row's detail)."""
    return next((r.detail for r in rows if r.kind in ("fail", "abort")), None)


def reason_of(rows: Sequence[Transition]) -> str | None:
    """Why the rollout rolls back, or why it is paused; None otherwise."""
    if status_of(rows) == "paused":
        return rows[-1].detail
    return stop_reason(rows)


def expected_seconds(plan: Plan) -> float:
    """The soak time the plan waits in all (hooks and analysis add to it)."""
    return sum(len(w.batches()) * len(w.steps) * w.soak for w in plan.waves)
