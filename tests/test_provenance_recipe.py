"""The README's provenance recipe, run as written under bash, output compared line by line
(the key id, random per key, aside)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BIN = Path(sys.executable).parent


def _transcript() -> list[tuple[str, list[str]]]:
    section = README[README.index("## Build provenance") :]
    block = re.search(r"```console\n(.*?)```", section, re.S)
    assert block, "the provenance section has a console transcript"
    steps: list[tuple[str, list[str]]] = []
    for line in block.group(1).splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


def test_the_readme_recipe_runs_as_written(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    env.pop("PILOTHOUSE_PROVENANCE_KEY", None)
    for command, expected in _transcript():
        done = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        got = (done.stdout + done.stderr).splitlines()
        key_id = re.compile(r"key id [0-9a-f]{64}")
        assert [key_id.sub("key id ID", g) for g in got] == [
            key_id.sub("key id ID", e) for e in expected
        ]
