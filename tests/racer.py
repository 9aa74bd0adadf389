"""Run `pilothouse` several times at once, in real processes released by one barrier.

`race(url, cwd, argvs)` starts one driver process (``python tests/racer.py``) that
imports pilothouse once, forks one process per argv, and releases them together
from a `multiprocessing.Barrier`, so their transactions really overlap and the
cost of importing pilothouse is paid once, not once per writer. Each writer runs
the CLI's `run(argv)` exactly as `python -m pilothouse ARGV` would.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

Result = tuple[int, str, str]  # exit code, stdout, stderr


def race(url: str, cwd: Path, argvs: Sequence[Sequence[str]]) -> list[Result]:
    """Run `pilothouse ARGV` for every argv at once against the store at *url*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    done = subprocess.run(
        [sys.executable, __file__],
        input=json.dumps([list(argv) for argv in argvs]),
        capture_output=True,
        text=True,
        env={**env, "PILOTHOUSE_DB": url, "COLUMNS": "100"},
        cwd=cwd,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"racer failed: {done.stderr}")
    return [(code, out, err) for code, out, err in json.loads(done.stdout)]


def _writer(barrier: Any, argv: list[str], result: Any) -> None:
    from pilothouse.cli import run

    out, err = io.StringIO(), io.StringIO()
    barrier.wait()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(argv)
    result.put((argv, code, out.getvalue(), err.getvalue()))


def _main() -> None:
    import pilothouse.cli  # noqa: F401 - imported once, before the forks

    argvs: list[list[str]] = json.loads(sys.stdin.read())
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(len(argvs)), context.Queue()
    writers = [context.Process(target=_writer, args=(barrier, a, results)) for a in argvs]
    for writer in writers:
        writer.start()
    found = [results.get(timeout=500) for _ in writers]
    for writer in writers:
        writer.join()
    by_argv: dict[str, list[Result]] = {}
    for argv, code, out, err in found:
        by_argv.setdefault(json.dumps(argv), []).append((code, out, err))
    print(json.dumps([by_argv[json.dumps(argv)].pop() for argv in argvs]))


if __name__ == "__main__":
    _main()
