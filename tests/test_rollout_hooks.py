"""Hooks: real processes, no shell, timeouts that leave no child behind."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pilothouse.delivery.rollout.hooks import TAIL_CHARS, run_hook

ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def script(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "hook.sh"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return [str(path)]


def test_success_runs_in_cwd_with_env_and_no_shell(tmp_path: Path) -> None:
    argv = script(tmp_path, 'printf "%s|%s|%s" "$1" "$PWD" "$ROLE" > out\n')
    result = run_hook([*argv, "a b; rm -rf /"], cwd=tmp_path, env={**ENV, "ROLE": "x"}, timeout=10)
    assert result.ok and result.detail == ""
    assert (tmp_path / "out").read_text() == f"a b; rm -rf /|{tmp_path}|x"


def test_a_failure_keeps_the_tail_of_its_output(tmp_path: Path) -> None:
    argv = script(
        tmp_path, 'head -c 5000000 /dev/zero | tr "\\0" "x"\necho\necho "the end"\nexit 7\n'
    )
    result = run_hook(argv, cwd=tmp_path, env=ENV, timeout=30)
    assert not result.ok
    assert result.detail.startswith(f"{argv[0]}: exit 7: ") and result.detail.endswith("x the end")
    assert len(result.detail) < len(argv[0]) + TAIL_CHARS + 20


def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    argv = script(tmp_path, "sleep 60 &\necho $! > child\nsleep 60\n")
    started = time.monotonic()
    result = run_hook(argv, cwd=tmp_path, env=ENV, timeout=0.5)
    assert result == (False, f"{argv[0]}: timed out after 0.5 s")
    assert time.monotonic() - started < 10
    child = int((tmp_path / "child").read_text())
    for _ in range(100):  # the killed grandchild is reaped by init shortly
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the hook's child outlived the timeout")


@pytest.mark.parametrize(
    ("name", "mode", "detail"),
    [
        ("missing", None, "No such file or directory"),
        ("not-executable", 0o644, "Permission denied"),
        ("not-a-program", 0o755, "Exec format error"),
    ],
)
def test_a_program_that_cannot_run(
    tmp_path: Path, name: str, mode: int | None, detail: str
) -> None:
    path = tmp_path / name
    if mode is not None:
        path.write_bytes(b"\x00\x01 not a program")
        path.chmod(mode)
    result = run_hook([str(path)], cwd=tmp_path, env=ENV, timeout=5)
    assert result == (False, f"{path}: cannot run: {detail}")


def test_death_by_signal(tmp_path: Path) -> None:
    argv = script(tmp_path, "kill -TERM $$\n")
    assert run_hook(argv, cwd=tmp_path, env=ENV, timeout=5) == (
        False,
        f"{argv[0]}: killed by signal 15",
    )
