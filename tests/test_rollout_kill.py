"""kill -9 the controller at every hook call of a plan, resume, and compare.

The hook script kills the `pilothouse rollout start` process that ran it (its
parent) on call KILL_AT, before the call does anything: the controller dies with
that step recorded and not done. `pilothouse rollout resume` must then make exactly
the hook calls an uninterrupted run makes, in the same order, none twice (so no
completed promote repeats and no rollback is skipped), and leave the same
transitions in the store.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pilothouse.store import Store

from .conftest import Cli
from .rollout_kit import PLAN, calls, hook_env, reset, write_kit

V = "1.2.4"


def _transitions(url: str, rollout_id: int) -> list[tuple[Any, ...]]:
    with Store.open(url) as store:
        rows = store.rollout_transitions(rollout_id)
    return [(r.seq, r.kind, r.wave, r.target, r.weight, r.detail) for r in rows]


def _start_killed(url: str, plan: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pilothouse", "--db", url, "rollout", "start", str(plan)]
    return subprocess.run(
        [*command, "--version", V],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("scope", "fail_on", "outcome", "code"),
    [("wave", "", "promoted", 0), ("all", "health us", "rolled back", 1)],
    ids=["promote", "rollback-all"],
)
def test_a_rollout_killed_at_any_step_resumes_exactly(
    tmp_path: Path, store_url: str, scope: str, fail_on: str, outcome: str, code: int
) -> None:
    kit = tmp_path / "kit"
    plan = write_kit(kit, scope=scope)
    cli = Cli(cwd=tmp_path, db=store_url, env=hook_env(kit, FAIL_ON=fail_on))
    status, out, err = cli("rollout", "start", str(plan), "--version", V)
    assert status == code, out + err
    assert f"rollout 1: {outcome}" in out
    expected_calls = calls(kit)
    expected = _transitions(store_url, 1)
    assert expected[-1][1:] == ("finish", None, None, None, outcome)
    if outcome == "rolled back":  # every target, the completed waves too
        assert expected_calls[-3:] == [f"rollback {t} 0 {V}" for t in ("us", "eu", "staging")]
    hook_calls = len(expected_calls) + (1 if fail_on else 0)  # the failing call appends nothing
    for kill_at in range(1, hook_calls + 1):
        reset(kit)
        killed = _start_killed(
            store_url, plan, hook_env(kit, FAIL_ON=fail_on, KILL_AT=str(kill_at))
        )
        assert killed.returncode == -9, (kill_at, killed.stdout, killed.stderr)
        rollout_id = kill_at + 1
        status, out, err = cli("rollout", "status", "--id", str(rollout_id))
        assert status == 0 and ("running" in out or "rolling back" in out), err
        status, out, err = cli("rollout", "resume")
        assert status == code, (kill_at, out, err)
        assert f"rollout {rollout_id}: {outcome}" in out
        assert calls(kit) == expected_calls, kill_at
        assert _transitions(store_url, rollout_id) == expected, kill_at


def test_a_rollout_killed_while_it_soaks_resumes_the_soak(tmp_path: Path, store_url: str) -> None:
    kit = tmp_path / "kit"
    text = PLAN.replace("steps = [50, 100]", "steps = [50, 100]\nsoak = 2")
    plan = write_kit(kit, text)
    cli = Cli(cwd=tmp_path, db=store_url, env=hook_env(kit), now=datetime.now(UTC))
    assert cli("rollout", "start", str(plan), "--version", V)[0] == 0
    expected_calls, expected = calls(kit), _transitions(store_url, 1)
    assert [row[1] for row in expected].count("soak") == 2
    reset(kit)
    command = [sys.executable, "-m", "pilothouse", "--db", store_url, "rollout", "start"]
    process = subprocess.Popen(
        [*command, str(plan), "--version", V],
        env={**os.environ, **hook_env(kit)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the first soak is 2 s long: kill it there
            rows = _transitions(store_url, 2) if _has(store_url, 2) else []
            if rows and rows[-1][1] == "soak":
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the rollout never soaked")
        process.kill()
    finally:
        assert process.wait(timeout=60) == -9
    assert calls(kit) == expected_calls[:2]  # deploy, set weight 50: then killed in the soak
    cli.now = datetime.now(UTC)
    code, out, err = cli("rollout", "resume")
    assert code == 0, out + err
    assert out.startswith("resume: soak wave staging at 50% (it was running)\n")
    assert calls(kit) == expected_calls
    assert _transitions(store_url, 2) == expected


def _has(url: str, rollout_id: int) -> bool:
    with Store.open(url) as store:
        return store.rollout(rollout_id) is not None
