"""The real workflow corpus of tests/data/doctor laid out as a repository, and the doctor's
local findings on it (what tests/data/doctor/golden.json freezes)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from pilothouse.doctor.lint import find_actionlint
from pilothouse.doctor.local import check_local

CORPUS = Path(__file__).parent / "data" / "doctor" / "workflows"
GOLDEN = CORPUS.parent / "golden.json"
# shellcheck and pyflakes are optional passes of actionlint: off, so the golden file does
# not depend on whether the machine has them.
ACTIONLINT_ARGS = ("-shellcheck=", "-pyflakes=")


def place(name: str) -> str:
    """Where a corpus file sits in the repository laid out from it (named in full: three
    of the projects call their workflow ci.yml)."""
    if "__workflows__" in name:
        return f".github/workflows/{name}"
    return f".github/actions/{name.removesuffix('.yml')}/action.yml"


def lay_out(root: Path) -> dict[str, str]:
    """Copy every corpus file into *root* as a repository; repository path -> corpus name."""
    placed = {}
    for source in sorted(CORPUS.iterdir()):
        target = place(source.name)
        (root / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, root / target)
        placed[target] = source.name
    return placed


def findings(root: Path) -> dict[str, list[dict[str, Any]]]:
    """Corpus file name -> its checks (as JSON) from the doctor's local checks."""
    placed = lay_out(root)
    actionlint = find_actionlint()
    result = check_local(root, actionlint=actionlint, actionlint_args=ACTIONLINT_ARGS)
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in placed.values()}
    for check in sorted(result.checks, key=lambda c: (c.file or "", c.line or 0, c.id)):
        found[placed[check.file or ""]].append(check.as_dict() | {"file": check.file})
    return found
