"""The rollout driver on real hook scripts and a real store (SQLite and PostgreSQL),
with a fake canary judge; the real judge is in test_rollout_prometheus.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pilothouse.delivery.rollout import core, runner
from pilothouse.delivery.rollout.analysis import AnalysisRequest, Verdict
from pilothouse.delivery.rollout.core import Transition
from pilothouse.delivery.rollout.hooks import run_hook
from pilothouse.delivery.rollout.plan import load_plan
from pilothouse.delivery.rollout.runner import Conductor, TakenOver
from pilothouse.store import Store
from pilothouse.store.rollouts import TransitionRow

from .rollout_kit import HOOKS, PLAN, calls, hook_env, write_kit

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
V = "1.2.4"

JUDGED = PLAN.replace(
    "\n[[wave]]",
    """
[analysis]
prometheus = "http://127.0.0.1:9"
judge = "canary.toml"
lookback = 600
canary = 'track="canary",region="{target}"'

[[wave]]""",
    1,
)


def good(target: str, weight: int) -> list[str]:
    return [f"set_weight {target} {weight} {V}", f"health {target} {weight} {V}"]


GOOD = [
    f"deploy staging 0 {V}",
    *good("staging", 50),
    *good("staging", 100),
    f"promote staging 100 {V}",
    f"deploy eu 0 {V}",
    *good("eu", 100),
    f"promote eu 100 {V}",
    f"deploy us 0 {V}",
    *good("us", 100),
    f"promote us 100 {V}",
]


SCORES = {"pass": 100.0, "marginal": 80.0, "fail": 10.0}


@dataclass
class FakeJudge:
    """Judges by (target, nth judgement of it): "pass" unless told otherwise."""

    verdicts: dict[tuple[str, int], str] = field(default_factory=dict)
    requests: list[AnalysisRequest] = field(default_factory=list)

    def __call__(self, request: AnalysisRequest) -> Verdict:
        self.requests.append(request)
        nth = sum(1 for r in self.requests if r.target == request.target)
        classification = self.verdicts.get((request.target, nth), "pass")
        return Verdict(classification, f"score {SCORES[classification]}")


@dataclass
class Rig:
    store: Store
    kit: Path
    judge: FakeJudge = field(default_factory=FakeJudge)
    notes: list[str] = field(default_factory=list)
    slept: list[float] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    hook_runner: Callable[..., Any] = run_hook
    now: datetime = NOW

    def start(self, version: str = V) -> Conductor:
        plan, text = load_plan(self.kit / "plan.toml")
        rollout_id = self.store.start_rollout(
            name=plan.name,
            version=version,
            plan_path=str(self.kit / "plan.toml"),
            plan_text=text,
            now=self.now,
        )
        return self.conductor(rollout_id)

    def conductor(self, rollout_id: int) -> Conductor:
        record = self.store.rollout(rollout_id)
        assert record is not None
        plan, _ = load_plan(Path(record.plan_path))
        return Conductor(
            store=self.store,
            rollout=record,
            plan=plan,
            analyzer=self.judge,
            env=hook_env(self.kit, **self.env),
            clock=lambda: self.now,
            sleep=self.slept.append,
            notify=self.notes.append,
            hook_runner=self.hook_runner,
        )

    def kinds(self, conductor: Conductor) -> list[str]:
        return [r.kind for r in conductor.rows()]


def rig(store: Store, tmp_path: Path, plan: str = PLAN, scope: str = "wave", **env: str) -> Rig:
    write_kit(tmp_path / "kit", plan, scope=scope)
    return Rig(store, tmp_path / "kit", env=env)


def test_a_good_version_promotes_through_every_wave(store: Store, tmp_path: Path) -> None:
    r = rig(store, tmp_path)
    conductor = r.start()
    outcome = runner.drive(conductor)
    assert outcome == runner.Outcome(core.PROMOTED, "")
    assert calls(r.kit) == GOOD
    rows = conductor.rows()
    assert [row.seq for row in rows] == list(range(len(rows)))
    assert rows[0].kind == "start" and rows[-1].kind == "finish" and rows[-1].detail == "promoted"
    assert len([row for row in rows if row.kind in core.FORWARD]) == len(GOOD)
    assert r.notes == [f"pilothouse rollout {conductor.rollout.id} (shop {V}): promoted"]
    assert runner.drive(conductor).status == core.PROMOTED  # a finished rollout does nothing
    assert len(calls(r.kit)) == len(GOOD) and conductor.rows() == rows


def test_the_judge_sees_each_target_at_each_step(store: Store, tmp_path: Path) -> None:
    r = rig(store, tmp_path, JUDGED)
    assert runner.drive(r.start()).status == core.PROMOTED
    seen = [(q.target, q.end - q.start, q.scopes) for q in r.judge.requests]
    window = timedelta(seconds=600)
    assert seen == [
        ("staging", window, {"canary": 'track="canary",region="staging"'}),
        ("staging", window, {"canary": 'track="canary",region="staging"'}),
        ("eu", window, {"canary": 'track="canary",region="eu"'}),
        ("us", window, {"canary": 'track="canary",region="us"'}),
    ]
    assert r.judge.requests[0].judge == r.kit / "canary.toml"


def test_a_failed_judgement_rolls_back_the_current_wave(store: Store, tmp_path: Path) -> None:
    r = rig(store, tmp_path, JUDGED)
    r.judge.verdicts[("us", 1)] = "fail"
    conductor = r.start()
    outcome = runner.drive(conductor)
    assert outcome.status == core.ROLLED_BACK
    assert outcome.reason.startswith("analyze us at 100%: judge: fail")
    assert calls(r.kit) == [*GOOD[:-1], f"rollback us 0 {V}", f"rollback eu 0 {V}"]
    assert r.notes[-1].startswith(
        f"pilothouse rollout {conductor.rollout.id} (shop {V}): rolled back"
    )


def test_rollback_scope_all_rolls_back_the_completed_waves(store: Store, tmp_path: Path) -> None:
    r = rig(store, tmp_path, JUDGED, scope="all")
    r.judge.verdicts[("eu", 1)] = "fail"
    outcome = runner.drive(r.start())
    assert outcome.status == core.ROLLED_BACK
    assert calls(r.kit) == [
        *GOOD[:9],
        f"rollback eu 0 {V}",
        f"rollback staging 0 {V}",
    ]


def test_a_failed_hook_rolls_back_what_it_touched(store: Store, tmp_path: Path) -> None:
    r = rig(store, tmp_path, scope="all", FAIL_ON="set_weight us")
    outcome = runner.drive(r.start())
    assert outcome.status == core.ROLLED_BACK
    assert outcome.reason == "set weight us at 100%: ./hook.sh: exit 3: set_weight failed on us"
    assert calls(r.kit) == [
        *GOOD[:11],
        f"rollback us 0 {V}",
        f"rollback eu 0 {V}",
        f"rollback staging 0 {V}",
    ]


def test_a_failed_rollback_is_recorded_and_the_others_still_run(
    store: Store, tmp_path: Path
) -> None:
    r = rig(store, tmp_path, scope="all", FAIL_ON="health eu;rollback eu")
    conductor = r.start()
    outcome = runner.drive(conductor)
    assert outcome.status == core.ROLLBACK_INCOMPLETE
    assert calls(r.kit)[-1] == f"rollback staging 0 {V}"
    assert [row.kind for row in conductor.rows()][-4:] == [
        "rollback",
        "error",
        "rollback",
        "finish",
    ]


def test_a_hook_past_its_timeout_fails(store: Store, tmp_path: Path) -> None:
    plan = PLAN.replace("hook_timeout = 20", "hook_timeout = 0.5")
    r = rig(store, tmp_path, plan, HANG_ON="health staging")
    outcome = runner.drive(r.start())
    assert outcome.status == core.ROLLED_BACK
    assert outcome.reason == "health staging at 50%: ./hook.sh: timed out after 0.5 s"
    assert calls(r.kit)[-1] == f"rollback staging 0 {V}"


def test_marginal_pauses_until_promote(store: Store, tmp_path: Path) -> None:
    r = rig(store, tmp_path, JUDGED)
    r.judge.verdicts[("staging", 1)] = "marginal"
    conductor = r.start()
    outcome = runner.drive(conductor)
    assert outcome.status == "paused" and outcome.reason.startswith("marginal: analyze staging")
    assert calls(r.kit) == GOOD[:3]
    assert runner.drive(conductor).status == "paused"  # resume does not pass a pause
    assert calls(r.kit) == GOOD[:3] and r.kinds(conductor)[-1] == "pause"
    assert "promote` or `abort`" in r.notes[-1]
    assert runner.approve(conductor).status == core.PROMOTED
    assert calls(r.kit) == GOOD
    with pytest.raises(runner.PilothouseError, match="is promoted, not paused"):
        runner.approve(conductor)


def test_abort_rolls_back_at_once_skipping_analysis(store: Store, tmp_path: Path) -> None:
    r = rig(store, tmp_path, JUDGED, scope="all")
    r.judge.verdicts[("eu", 1)] = "marginal"
    conductor = r.start()
    assert runner.drive(conductor).status == "paused"
    asked = len(r.judge.requests)
    outcome = runner.abort(conductor, "error budget burning")
    assert outcome == runner.Outcome(core.ROLLED_BACK, "aborted: error budget burning")
    assert len(r.judge.requests) == asked
    assert calls(r.kit)[-2:] == [f"rollback eu 0 {V}", f"rollback staging 0 {V}"]
    with pytest.raises(runner.PilothouseError, match="has finished"):
        runner.abort(conductor, "again")


def test_a_manual_gate_waits_then_runs_the_wave_at_once(store: Store, tmp_path: Path) -> None:
    plan = PLAN.replace("max_parallel = 1", "max_parallel = 0")
    r = rig(store, tmp_path, plan)
    conductor = r.start()
    outcome = runner.drive(conductor)
    assert outcome == runner.Outcome("paused", "manual gate before wave prod")
    assert calls(r.kit) == GOOD[:6]
    assert runner.approve(conductor).status == core.PROMOTED
    assert calls(r.kit)[6:] == [
        f"deploy eu 0 {V}",
        f"deploy us 0 {V}",
        f"set_weight eu 100 {V}",
        f"set_weight us 100 {V}",
        f"health eu 100 {V}",
        f"health us 100 {V}",
        f"promote eu 100 {V}",
        f"promote us 100 {V}",
    ]


def test_an_abort_recorded_by_another_process_stops_the_driver(
    store: Store, tmp_path: Path
) -> None:
    r = rig(store, tmp_path, scope="all")
    holder: list[Conductor] = []

    def hooks_then_abort(argv: list[str], **kwargs: Any) -> Any:
        result = run_hook(argv, **kwargs)
        if argv[1:3] == ["promote", "staging"]:  # `rollout abort` in another terminal
            rows = holder[0].rows()
            row = TransitionRow(len(rows), "abort", None, None, None, "aborted: by hand", NOW)
            assert store.add_rollout_transition(holder[0].rollout.id, row)
        return result

    r.hook_runner = hooks_then_abort
    holder.append(r.start())
    with pytest.raises(TakenOver, match="another process recorded 'abort'"):
        runner.drive(holder[0])
    assert runner.drive(holder[0]).status == core.ROLLED_BACK
    assert calls(r.kit)[-2:] == [f"promote staging 100 {V}", f"rollback staging 0 {V}"]


def test_soak_waits_and_a_resumed_soak_waits_the_rest(store: Store, tmp_path: Path) -> None:
    plan = PLAN.replace("steps = [50, 100]", "steps = [50, 100]\nsoak = 300")
    r = rig(store, tmp_path, plan)
    assert runner.drive(r.start()).status == core.PROMOTED
    assert r.slept == [300.0, 300.0]
    conductor = r.start("1.2.5")
    rows = conductor.rows()
    for op in core.forward_ops(conductor.plan)[:3]:  # deploy, set weight, soak: then killed
        conductor.append(rows, op.kind, op)
    r.slept.clear()
    r.now = NOW + timedelta(seconds=120)
    conductor = r.conductor(conductor.rollout.id)
    assert runner.drive(conductor).status == core.PROMOTED
    assert r.slept == [180.0, 300.0]


def test_the_transitions_must_follow_the_plan(store: Store, tmp_path: Path) -> None:
    r = rig(store, tmp_path)
    conductor = r.start()
    rows = conductor.rows()
    conductor.append(rows, "promote", core.Op("promote", 0, "staging"))
    with pytest.raises(runner.StoreError, match="do not follow the plan"):
        runner.drive(conductor)


def _rows(*kinds: tuple[str, int | None, str | None]) -> list[Transition]:
    return [Transition(i, k, w, t, None, "", NOW) for i, (k, w, t) in enumerate(kinds)]


def test_rollback_targets_by_scope() -> None:
    plan, _ = load_plan_text(PLAN.replace("{scope}", "all"))
    rows = _rows(("start", None, None), ("deploy", 0, "staging"), ("deploy", 1, "eu"))
    assert core.rollback_targets(plan, rows) == ["eu", "staging"]
    wave_plan, _ = load_plan_text(PLAN.replace("{scope}", "wave"))
    assert core.rollback_targets(wave_plan, rows) == ["eu"]
    assert core.rollback_targets(plan, rows[:1]) == []


def load_plan_text(text: str) -> tuple[Any, str]:
    from pilothouse.delivery.rollout.plan import parse_plan

    return parse_plan(text, source="plan.toml", directory=Path(".")), text


def test_status_words() -> None:
    assert core.status_of(_rows(("start", None, None))) == "running"
    assert core.status_of(_rows(("start", None, None), ("pause", None, None))) == "paused"
    assert core.status_of(_rows(("start", None, None), ("abort", None, None))) == "rolling back"
    assert HOOKS.count("./hook.sh") == 5
