"""The files the doctor reads (a repository's workflows and its own actions) and
the local checks on them: parse, schema, hygiene, actionlint."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pilothouse.doctor.lint import find_actionlint, run_actionlint
from pilothouse.doctor.model import FAIL, Check
from pilothouse.doctor.rules import check_document
from pilothouse.doctor.workflow import MAX_BYTES, Document, WorkflowError, parse

WORKFLOWS = ".github/workflows"
ACTION_NAMES = ("action.yml", "action.yaml")


def check_text(file: str, source: str | bytes) -> tuple[Document | None, list[Check]]:
    """One file's document (None when unreadable) and its local findings."""
    try:
        doc = parse(file, source)
    except WorkflowError as exc:
        return None, [
            Check(
                "workflow-parse",
                FAIL,
                f"GitHub cannot read it: {exc}",
                "fix the YAML at that line",
                file,
                exc.line,
            )
        ]
    return doc, check_document(doc)


def workflow_files(root: Path) -> list[str]:
    """The workflow files GitHub reads: top level of .github/workflows, .yml or .yaml."""
    folder = root / WORKFLOWS
    if not folder.is_dir():
        return []
    return sorted(
        f"{WORKFLOWS}/{entry.name}"
        for entry in folder.iterdir()
        if entry.suffix in (".yml", ".yaml") and entry.is_file()
    )


def action_files(root: Path) -> list[str]:
    """The repository's own actions: action.yml at the root and under .github/actions/."""
    found = [name for name in ACTION_NAMES if (root / name).is_file()]
    actions = root / ".github" / "actions"
    if actions.is_dir():
        found += sorted(
            path.relative_to(root).as_posix()
            for name in ACTION_NAMES
            for path in actions.rglob(name)
            if path.is_file()
        )
    return found


def git_blob_sha(content: bytes) -> str:
    """The SHA git (and GitHub's contents API) gives a file with these bytes."""
    header = f"blob {len(content)}\0".encode()
    return hashlib.sha1(header + content, usedforsecurity=False).hexdigest()


def _read(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(MAX_BYTES + 1)  # a larger file is refused, never read whole


@dataclass
class LocalResult:
    checks: list[Check] = field(default_factory=list)
    workflows: list[str] = field(default_factory=list)
    blobs: dict[str, str] = field(default_factory=dict)  # workflow file -> git blob SHA
    documents: list[Document] = field(default_factory=list)
    actionlint: str | None = None


def _each(
    root: Path, files: list[str], blobs: dict[str, str]
) -> Iterator[tuple[str, Document | None, list[Check]]]:
    for file in files:
        try:
            source = _read(root / file)
            blobs[file] = git_blob_sha(source)
        except OSError as exc:
            yield (
                file,
                None,
                [
                    Check(
                        "workflow-parse",
                        FAIL,
                        f"cannot read: {exc.strerror}",
                        "check the file's permissions",
                        file,
                        1,
                    )
                ],
            )
            continue
        doc, checks = check_text(file, source)
        yield file, doc, checks


def check_local(
    root: Path, *, actionlint: str | None = None, actionlint_args: Sequence[str] = ()
) -> LocalResult:
    """Every local check under *root*; actionlint runs on the workflows that parse
    when *actionlint* (an executable) is given, with *actionlint_args*."""
    result = LocalResult(workflows=workflow_files(root), actionlint=actionlint)
    parsed = []
    for file, doc, checks in _each(root, result.workflows + action_files(root), result.blobs):
        result.checks += checks
        if doc is not None:
            result.documents.append(doc)
            if doc.kind == "workflow" and file.startswith(WORKFLOWS):
                parsed.append(file)
    if actionlint is not None:
        result.checks += run_actionlint(actionlint, root, parsed, actionlint_args)
    return result


__all__ = [
    "action_files",
    "check_local",
    "check_text",
    "find_actionlint",
    "git_blob_sha",
    "workflow_files",
]
