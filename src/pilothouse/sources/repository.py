"""What the scorecard reads from the repository itself: its workflow files and its
default branch (from the GitHub Actions event, else the clone's origin HEAD)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

WORKFLOWS = Path(".github") / "workflows"
# An event payload is a few KB; a larger file is not one to parse.
_MAX_EVENT_BYTES = 25_000_000


def workflow_files(root: Path) -> list[str] | None:
    """The workflow files GitHub reads (top level of .github/workflows, .yml or .yaml),
    as paths relative to *root*; None when *root* has no such folder."""
    folder = root / WORKFLOWS
    if not folder.is_dir():
        return None
    return sorted(
        f"{WORKFLOWS.as_posix()}/{entry.name}"
        for entry in folder.iterdir()
        if entry.suffix in (".yml", ".yaml") and entry.is_file()
    )


def default_branch(env: Mapping[str, str], root: Path) -> str | None:
    """The repository's default branch, when something says: the event payload of a
    GitHub Actions job (`repository.default_branch`), else `origin/HEAD` of a clone."""
    return _from_event(env.get("GITHUB_EVENT_PATH", "")) or _from_clone(root)


def _from_event(path: str) -> str | None:
    if not path:
        return None
    try:
        event = Path(path)
        if event.stat().st_size > _MAX_EVENT_BYTES:
            return None
        data = json.loads(event.read_bytes())
    except (OSError, ValueError):
        return None
    repository = data.get("repository") if isinstance(data, dict) else None
    branch = repository.get("default_branch") if isinstance(repository, dict) else None
    return branch if isinstance(branch, str) and branch else None


def _from_clone(root: Path) -> str | None:
    try:
        text = (root / ".git" / "refs" / "remotes" / "origin" / "HEAD").read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    prefix = "ref: refs/remotes/origin/"
    line = text.strip()
    return line.removeprefix(prefix) or None if line.startswith(prefix) else None
