"""The pure state machine over any plan: what runs, what rolls back, never twice."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from pilothouse.delivery.rollout import core
from pilothouse.delivery.rollout.core import Op, Transition
from pilothouse.delivery.rollout.plan import Plan, parse_plan

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HOOKS = '[hooks]\ndeploy = ["d"]\nset_weight = ["w"]\npromote = ["p"]\nrollback = ["r"]\n'


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    scope = draw(st.sampled_from(["wave", "all"]))
    health = draw(st.booleans())
    text = f'[rollout]\nname = "p"\nrollback_scope = "{scope}"\n' + HOOKS
    if health:
        text += 'health = ["h"]\n'
    text += '[analysis]\nprometheus = "http://p:9090"\njudge = "j.toml"\nlookback = 60\n'
    counter = 0
    for w in range(draw(st.integers(1, 3))):
        size = draw(st.integers(1, 4))
        targets = [f"t{counter + i}" for i in range(size)]
        counter += size
        steps = sorted(draw(st.sets(st.integers(1, 100), min_size=1, max_size=3)))
        parallel = draw(st.integers(0, size))
        soak = draw(st.sampled_from([0, 30]))
        judged = draw(st.booleans())
        text += (
            f'[[wave]]\nname = "w{w}"\ntargets = {targets}\nsteps = {steps}\n'
            f"max_parallel = {parallel}\nsoak = {soak}\nanalysis = {str(judged).lower()}\n"
        ).replace("'", '"')
    return parse_plan(text, source="p.toml", directory=Path("."))


def run(plan: Plan, fail_at: int | None, abort_at_gate: bool = False) -> list[Transition]:
    """Drive *plan* in memory: every operation succeeds but the *fail_at*-th forward one."""
    rows = [Transition(0, "start", None, None, None, "", NOW)]

    def add(kind: str, op: Op | None, detail: str = "") -> None:
        wave, target, weight = (op.wave, op.target, op.weight) if op else (None, None, None)
        rows.append(Transition(len(rows), kind, wave, target, weight, detail, NOW))

    forward = 0
    for _ in range(10_000):
        action = core.next_action(plan, rows)
        assert core.resume_op(rows) is None or action.kind != "finished"
        if action.kind in ("finish", "finished"):
            if action.kind == "finish":
                add("finish", None, action.reason)
            return rows
        if action.kind == "pause":
            if abort_at_gate:
                add("abort", None, "by hand")
            else:
                add("pause", None, action.reason)
                add("approve", None)
            continue
        assert action.op is not None
        add(action.op.kind, action.op)
        if action.op.kind in core.FORWARD:
            if forward == fail_at:
                add("fail", action.op, "boom")
            forward += 1
    raise AssertionError("the state machine did not end")


@settings(max_examples=150, deadline=None)
@given(plans())
def test_an_uninterrupted_run_does_the_whole_script_once(plan: Plan) -> None:
    rows = run(plan, None)
    assert rows[-1].kind == "finish" and rows[-1].detail == core.PROMOTED
    done = [r.op for r in rows if r.kind in core.FORWARD]
    assert done == core.forward_ops(plan)
    every = [t for wave in plan.waves for t in wave.targets]
    assert Counter(op.target for op in done if op.kind == "deploy") == Counter(every)
    assert Counter(op.target for op in done if op.kind == "promote") == Counter(every)
    for wave in plan.waves:
        for target in wave.targets:
            weights = [op.weight for op in done if op.kind == "set_weight" and op.target == target]
            assert weights == list(wave.steps)
    assert core.next_action(plan, rows).kind == "finished"


@settings(max_examples=200, deadline=None)
@given(plans(), st.data())
def test_a_failure_rolls_back_each_touched_target_once(plan: Plan, data: st.DataObject) -> None:
    script = core.forward_ops(plan)
    fail_at = data.draw(st.integers(0, len(script) - 1))
    rows = run(plan, fail_at)
    stop = next(i for i, r in enumerate(rows) if r.kind == "fail")
    before, after = rows[:stop], rows[stop:]
    assert rows[-1].kind == "finish" and rows[-1].detail == core.ROLLED_BACK
    assert not any(r.kind in core.FORWARD for r in after)  # nothing goes forward after a failure
    deployed = [r.target for r in before if r.kind == "deploy"]
    current = [r for r in before if r.kind in core.FORWARD][-1].wave
    expected = [
        t for t in reversed(deployed) if plan.rollback_scope == "all" or plan.wave_of(t) == current
    ]
    assert [r.target for r in after if r.kind == "rollback"] == expected
    # From any prefix the rows alone decide the step that came next: they are the whole state.
    cut = data.draw(st.integers(1, len(rows) - 1))
    if rows[cut].kind in (*core.FORWARD, "rollback"):
        assert core.next_action(plan, rows[:cut]) == core.Action("run", rows[cut].op)
    if rows[cut - 1].kind in core.RERUN:
        assert core.resume_op(rows[:cut]) == rows[cut - 1].op


@settings(max_examples=100, deadline=None)
@given(plans())
def test_aborting_at_every_pause_rolls_back(plan: Plan) -> None:
    rows = run(plan, None, abort_at_gate=True)
    assert rows[-1].kind == "finish"
    if any(w.gated for w in plan.waves):
        assert any(r.kind == "abort" for r in rows)
        assert not any(
            r.kind in core.FORWARD for r in rows[[r.kind for r in rows].index("abort") :]
        )
