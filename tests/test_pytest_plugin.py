"""`pytest --pilothouse-shard I/N` selects exactly the tests `pilothouse shard` plans."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Cli
from .test_shard_pytest import QUIET

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
        [sys.executable, "-m", "pytest", "-q", "--collect-only", *QUIET, *args],
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
        [sys.executable, "-m", "pytest", "-q", "--collect-only", *QUIET,
         f"--pilothouse-shard={value}"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode != 0 and "expected I/N" in done.stdout + done.stderr


def _plugin_run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--collect-only", *QUIET, *args],
        cwd=root, capture_output=True, text=True, check=False,
    )  # fmt: skip


def _junit(cases: dict[str, float]) -> str:
    """A report as pytest writes it (no file attribute), with the given times."""
    rows = "".join(
        f'<testcase classname="{t.split("::")[0].removesuffix(".py")}'
        f'{"." + t.split("::")[1] if t.count("::") == 2 else ""}" '
        f'name="{t.split("::")[-1]}" time="{seconds}"/>'
        for t, seconds in cases.items()
    )
    suite = f'<testsuite name="pytest" tests="{len(cases)}">{rows}</testsuite>'
    return f"<testsuites>{suite}</testsuites>"


def test_the_store_named_in_pilothouse_toml_is_used(tmp_path: Path) -> None:
    _suite(tmp_path)
    (tmp_path / ".test_durations").unlink()
    (tmp_path / "pilothouse.toml").write_text('db = "sqlite:///history/ci.db"\n')
    (tmp_path / "report.xml").write_text(_junit(DURATIONS))
    cli = Cli(cwd=tmp_path, db="")  # no PILOTHOUSE_DB: the file decides, as for the plugin
    assert cli("ingest", "junit", "report.xml", "--run-id", "1")[0] == 0
    assert (tmp_path / "history" / "ci.db").exists()
    (tmp_path / "tests.txt").write_text("\n".join(DURATIONS))
    for index in (1, 2):
        got = _selected(tmp_path, f"--pilothouse-shard={index}/2")
        code, out, err = cli("shard", "--shards", "2", "--shard", f"{index}/2", "--format",
                             "pytest", "--tests", "tests.txt")  # fmt: skip
        assert code == 0 and err == "", err
        assert got == sorted(out.split())
    # by time, not count: the 30 s test sits alone with the 1 s one
    first = _selected(tmp_path, "--pilothouse-shard=1/2")
    assert first == ["test_a.py::test_one", "test_a.py::test_two"]


@pytest.mark.parametrize("history", ["zeros", "none"])
def test_no_timing_splits_by_count_alike(tmp_path: Path, history: str) -> None:
    _suite(tmp_path)
    durations = tmp_path / ".test_durations"
    durations.write_text(json.dumps(dict.fromkeys(DURATIONS, 0.0)) if history == "zeros" else "{}")
    cli = Cli(cwd=tmp_path, db=f"sqlite:///{tmp_path / 'none.db'}")
    listing = "\n".join(DURATIONS)
    sizes = []
    for index in (1, 2):
        done = _plugin_run(tmp_path, f"--pilothouse-shard={index}/2",
                           f"--pilothouse-durations={durations}")  # fmt: skip
        assert "pilothouse: warning: no timing history: 5 tests split by count" in done.stderr
        got = sorted(line for line in done.stdout.splitlines() if "::" in line)
        (tmp_path / "tests.txt").write_text(listing)
        code, out, err = cli("shard", "--shards", "2", "--shard", f"{index}/2", "--format",
                             "pytest", "--durations", str(durations),
                             "--tests", "tests.txt")  # fmt: skip
        assert code == 0 and "split by count" in err
        assert got == sorted(out.split())
        sizes.append(len(got))
    assert sorted(sizes) == [2, 3]


def test_first_run_without_a_store_splits_by_count_and_creates_nothing(tmp_path: Path) -> None:
    _suite(tmp_path)
    done = _plugin_run(tmp_path, "--pilothouse-shard=1/2")
    assert done.returncode == 0
    assert "no timing history: 5 tests split by count" in done.stderr
    assert not (tmp_path / ".pilothouse").exists()
