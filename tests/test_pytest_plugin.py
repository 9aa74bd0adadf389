"""`pytest --pilothouse-shard I/N` selects exactly the tests `pilothouse shard` plans."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Cli

SUITE = {
    "test_a.py": "import time\n\ndef test_one():\n    pass\n\ndef test_two():\n    pass\n",
    "test_b.py": "class TestK:\n    def test_x(self):\n        pass\n\n    def test_y(self):\n"
    "        pass\n\ndef test_param():\n    pass\n",
}
DURATIONS = {
    "test_a.py::test_one": 30.0,
    "test_a.py::test_two": 1.0,
    "test_b.py::TestK::test_x": 12.0,
    "test_b.py::TestK::test_y": 11.0,
    "test_b.py::test_param": 7.0,
}


def _suite(tmp_path: Path) -> Path:
    for name, text in SUITE.items():
        (tmp_path / name).write_text(text)
    durations = tmp_path / ".test_durations"
    durations.write_text(json.dumps(DURATIONS))
    return durations


def _selected(tmp_path: Path, *args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--collect-only", "-p", "no:cacheprovider", *args],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return sorted(line for line in done.stdout.splitlines() if "::" in line)


def test_shards_partition_the_suite_like_the_cli(tmp_path: Path) -> None:
    durations = _suite(tmp_path)
    cli = Cli(cwd=tmp_path, db=f"sqlite:///{tmp_path / 's.db'}")
    seen: list[str] = []
    for index in (1, 2, 3):
        got = _selected(tmp_path, f"--pilothouse-shard={index}/3",
                        f"--pilothouse-durations={durations}")  # fmt: skip
        code, out, err = cli("shard", "--shards", "3", "--durations", str(durations), "--shard",
                             f"{index}/3", "--format", "pytest")  # fmt: skip
        assert code == 0, err
        assert got == sorted(out.split())
        seen += got
    assert sorted(seen) == sorted(DURATIONS)


def test_without_the_option_nothing_is_deselected(tmp_path: Path) -> None:
    _suite(tmp_path)
    assert _selected(tmp_path) == sorted(DURATIONS)


@pytest.mark.parametrize("value", ["0/3", "4/3", "x"])
def test_bad_shard_option(tmp_path: Path, value: str) -> None:
    _suite(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--collect-only", f"--pilothouse-shard={value}"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode != 0 and "expected I/N" in done.stdout + done.stderr
