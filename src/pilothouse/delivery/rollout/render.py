"""Text views of a plan (`--dry-run`) and of a rollout's transitions (`status`, `history`)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from pilothouse.delivery.rollout import core
from pilothouse.delivery.rollout.core import Op, Transition
from pilothouse.delivery.rollout.plan import Plan, Wave


def dry_run(plan: Plan, version: str) -> list[str]:
    """Every wave, step and hook call the plan makes for *version*, in order."""
    targets = sum(len(w.targets) for w in plan.waves)
    lines = [
        f"rollout {plan.name} {version}: {len(plan.waves)} waves, {targets} targets, "
        f"rollback_scope = {plan.rollback_scope}"
    ]
    current = -1
    for op in core.forward_ops(plan):
        if op.wave != current:
            current = op.wave
            lines.append(_wave_line(op.wave, plan.waves[op.wave]))
        lines.append("  " + _op_line(plan, op, version))
    lines.append(f"expected duration: {duration(core.expected_seconds(plan))} of soak time "
                 "(hooks and analysis add to it)")  # fmt: skip
    lines.append(_on_failure(plan))
    return lines


def _wave_line(index: int, wave: Wave) -> str:
    parallel = (
        "manual gate, then all at once" if wave.gated else f"max_parallel {wave.max_parallel}"
    )
    steps = " ".join(f"{w}%" for w in wave.steps)
    judged = f", judge {wave.analysis.judge.name}" if wave.analysis else ", no analysis"
    return (
        f"wave {index + 1} {wave.name}: {', '.join(wave.targets)} ({parallel}); "
        f"steps {steps}; soak {duration(wave.soak)}{judged}"
    )


def _op_line(plan: Plan, op: Op, version: str) -> str:
    wave = plan.waves[op.wave]
    if op.kind == "gate":
        return "gate: wait for `pilothouse rollout promote`"
    if op.kind == "soak":
        return f"soak {duration(wave.soak)} at {op.weight}%"
    if op.kind == "analyze":
        assert wave.analysis is not None and op.target is not None
        window = wave.analysis.lookback or wave.soak
        return (
            f"analyze {op.target} at {op.weight}%: judge {wave.analysis.judge.name}"
            f"{_thresholds(wave)} on {wave.analysis.prometheus}, last {duration(window)}"
        )
    assert op.target is not None
    weight = op.weight if op.weight is not None else (100 if op.kind == "promote" else 0)
    argv = wave.hooks[op.kind].command(target=op.target, version=version, weight=weight)
    return f"{op.describe(plan)}: {shlex.join(argv)}"


def _thresholds(wave: Wave) -> str:
    assert wave.analysis is not None
    shown = [
        f"{name} {value:g}"
        for name, value in (
            ("pass", wave.analysis.pass_score),
            ("marginal", wave.analysis.marginal_score),
        )
        if value is not None
    ]
    return f" ({', '.join(shown)})" if shown else ""


def _on_failure(plan: Plan) -> str:
    scope = (
        "the current wave's targets, then every completed wave's"
        if plan.rollback_scope == "all"
        else "the current wave's targets"
    )
    return f"on a failed hook or judgement: roll back {scope} (newest first), exit 1"


def duration(seconds: float) -> str:
    """A short human duration.

    >>> duration(0), duration(90), duration(3725)
    ('0s', '1m 30s', '1h 2m 5s')
    """
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
        f"{secs}s" if secs else "",
    ]
    return " ".join(p for p in parts if p) or "0s"


def transition_lines(rows: Sequence[Transition]) -> list[str]:
    """One line per transition: seq, time, kind, where, detail."""
    lines = []
    for row in rows:
        where = " ".join(
            part
            for part in (row.target or "", f"{row.weight}%" if row.weight is not None else "")
            if part
        )
        detail = f"  {row.detail}" if row.detail else ""
        lines.append(f"{row.seq:>4}  {row.at:%Y-%m-%d %H:%M:%S}  {row.kind:<10} {where}{detail}")
    return lines


def transition_json(row: Transition) -> dict[str, object]:
    return {**row._asdict(), "at": row.at.isoformat()}
