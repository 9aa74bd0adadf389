"""Run the user's hook commands: argv lists, no shell, a timeout, the output's tail kept."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, NamedTuple

from pilothouse.errors import printable

TAIL_CHARS = 400  # of a failed hook's output, kept in the transition's detail


class HookResult(NamedTuple):
    ok: bool
    detail: str  # empty when ok; else the exit status and the output's tail


def run_hook(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float
) -> HookResult:
    """Run *argv* in *cwd*; ok when it exits 0 within *timeout* seconds.

    The hook runs in its own process group, killed whole on a timeout, so a hook
    that started children leaves none behind. Its output goes to a temporary file
    (a chatty hook costs disk, not memory) of which only the tail is read.
    """
    with tempfile.TemporaryFile() as output:
        try:
            process = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            return HookResult(False, f"{argv[0]}: cannot run: {exc.strerror}")
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            return HookResult(False, f"{argv[0]}: timed out after {timeout:g} s")
        except KeyboardInterrupt:  # ^C reaches the controller only (the hook has its session)
            _kill_group(process)
            raise
        if process.returncode == 0:
            return HookResult(True, "")
        return HookResult(False, f"{argv[0]}: {_status(process.returncode)}{_tail(output)}")


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _status(code: int) -> str:
    if code < 0:
        return f"killed by signal {-code}"
    return f"exit {code}"


def _tail(output: IO[bytes]) -> str:
    size = output.seek(0, os.SEEK_END)
    output.seek(max(0, size - 4 * TAIL_CHARS))  # UTF-8: at most 4 bytes a character
    text = printable(output.read().decode("utf-8", "replace")[-TAIL_CHARS:])
    return f": {text}" if text else ""
