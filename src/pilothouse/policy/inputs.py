"""The input document of the `workflows` kind: every workflow file of a checkout, read
the way GitHub reads YAML (1.2: `on:` is the key "on", not the boolean True).

Pure but for reading the files; the store kinds (score, cost, tests, flaky) are the
`--json` outputs, built in cli/policy.py by the same functions those commands use.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from pilothouse.doctor.workflow import LOADER
from pilothouse.errors import InputError, printable

MAX_WORKFLOW_BYTES = 1_000_000


def workflow_document(name: str, data: bytes) -> Any:
    """One workflow file's content, or an InputError naming the file and line."""
    if len(data) > MAX_WORKFLOW_BYTES:
        raise InputError(f"{name}: {len(data):,} bytes is too large for a workflow file")
    try:
        # The doctor's loader: YAML 1.2's core schema, on libyaml's parser when present.
        document = yaml.load(data.decode("utf-8"), Loader=LOADER)  # noqa: S506 - safe
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise InputError(f"{name}{where}: {printable(str(problem))}") from None
    # Keys and values as JSON has them (a date or a number key becomes a string).
    return json.loads(json.dumps(document, default=str))


def workflows_input(root: Path) -> dict[str, Any]:
    """`{"workflows": [{"file", "workflow"}]}` for `.github/workflows/*.yml|yaml` of *root*."""
    folder = root / ".github" / "workflows"
    files = sorted(
        p for p in folder.glob("*") if p.suffix in (".yml", ".yaml") and p.is_file()
    ) if folder.is_dir() else []  # fmt: skip
    items = []
    for path in files:
        name = path.relative_to(root).as_posix()
        items.append({"file": name, "workflow": workflow_document(name, path.read_bytes())})
    return {"root": str(root), "workflows": items}
