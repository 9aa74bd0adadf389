"""Sharding a real pytest suite: pytest's own JUnit XML in, `pytest @shard.txt` out.

A small package is generated, run with `pytest --junitxml`, ingested, then
sharded; every shard is run by pytest and every test must run exactly once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from .conftest import Cli

# test_a takes measurable time: pytest writes durations to the millisecond, and a
# history of nothing but 0.000 s cannot balance anything (split by count instead).
MODULE = """import time

import pytest


def test_a():
    time.sleep(0.005)


def test_b():
    pass


class TestK:
    def test_x(self):
        pass

    @pytest.mark.parametrize("v", [1, "a b"])
    def test_p(self, v):
        pass

    class TestInner:
        def test_deep(self):
            pass
"""


def make_suite(root: Path, modules: int = 3) -> None:
    """tests/test_mN.py (functions, a class, a nested class, parameters with a space)."""
    (root / "tests" / "sub").mkdir(parents=True, exist_ok=True)
    (root / "tests" / "__init__.py").write_text("")
    (root / "tests" / "sub" / "__init__.py").write_text("")
    for index in range(modules):
        (root / "tests" / f"test_m{index}.py").write_text(MODULE)
    (root / "tests" / "sub" / "test_deep.py").write_text("def test_here():\n    pass\n")


# Plugins the generated suite does not need: each costs start-up time.
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:xdist", "-p", "no:split")


def pytest_run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", *QUIET, "-q", *args],
        cwd=root, capture_output=True, text=True, check=False,
    )  # fmt: skip


def collected(root: Path) -> list[str]:
    done = pytest_run(root, "--collect-only", "tests")
    assert done.returncode == 0, done.stdout + done.stderr
    return [line for line in done.stdout.splitlines() if "::" in line]


def ran(report: Path) -> list[str]:
    """classname::name of every testcase pytest ran, from its JUnit report."""
    tree = etree.parse(str(report))
    return [f"{c.get('classname')}::{c.get('name')}" for c in tree.iter("testcase")]


def history(root: Path, cli: Cli) -> Path:
    """Run the suite once with pytest's default JUnit XML and ingest it."""
    report = root / "history.xml"
    done = pytest_run(root, f"--junitxml={report}", "tests")
    assert done.returncode == 0, done.stdout
    assert "file=" not in report.read_text()  # pytest's default: no file attribute
    code, _out, err = cli("ingest", "junit", str(report), "--run-id", "1")
    assert code == 0, err
    return report


def run_every_shard(root: Path, cli: Cli, n: int, *extra: str) -> list[str]:
    executed: list[str] = []
    for index in range(1, n + 1):
        code, out, err = cli(
            "shard", "--shards", str(n), "--shard", f"{index}/{n}", "--format", "pytest", *extra
        )
        assert code == 0, err
        (root / "shard.txt").write_text(out)
        report = root / f"shard-{index}.xml"
        done = pytest_run(root, "@shard.txt", f"--junitxml={report}")
        assert done.returncode == 0, done.stdout + done.stderr
        executed += ran(report)
    return executed


def test_every_test_runs_exactly_once_from_the_history(cli: Cli, tmp_path: Path) -> None:
    make_suite(tmp_path)
    everything = ran(history(tmp_path, cli))
    executed = run_every_shard(tmp_path, cli, 3)
    assert sorted(executed) == sorted(everything) and len(everything) == 19


def test_collected_ids_match_the_history_and_new_tests_run_too(cli: Cli, tmp_path: Path) -> None:
    make_suite(tmp_path, modules=2)
    history(tmp_path, cli)
    make_suite(tmp_path, modules=3)  # a module added since: 6 tests the history never saw
    listing = tmp_path / "tests.txt"
    listing.write_text("\n".join(collected(tmp_path)) + "\n")
    plan = cli.json("shard", "--shards", "3", "--tests", str(listing))
    assert plan["unknown_tests"] == 6 and plan["timed"]
    assert sorted(t for s in plan["shards"] for t in s["tests"]) == sorted(collected(tmp_path))
    executed = run_every_shard(tmp_path, cli, 3, "--tests", str(listing))
    assert len(executed) == len(set(executed)) == 19


def test_without_a_list_the_cli_says_what_it_plans(sqlite_cli: Cli, tmp_path: Path) -> None:
    make_suite(tmp_path, modules=1)
    history(tmp_path, sqlite_cli)
    code, out, err = sqlite_cli("shard", "--shards", "2", "--shard", "1/2", "--format", "pytest")
    assert code == 0
    assert "no --tests: planning the 7 tests the timing history knows" in err
    assert "pytest --collect-only -q | pilothouse shard --tests -" in err
    assert all(line.startswith("tests/") and ".py::" in line for line in out.splitlines())


def test_first_run_on_an_empty_store_splits_by_count(sqlite_cli: Cli, tmp_path: Path) -> None:
    make_suite(tmp_path)
    listing = tmp_path / "tests.txt"
    listing.write_text("\n".join(collected(tmp_path)))
    code, out, err = sqlite_cli("shard", "--shards", "4", "--tests", str(listing), "--json")
    assert code == 0, err
    assert err.startswith("pilothouse: warning: no timing history: 19 tests split by count")
    assert sorted(len(s["tests"]) for s in json.loads(out)["shards"]) == [4, 5, 5, 5]
    executed = run_every_shard(tmp_path, sqlite_cli, 4, "--tests", str(listing))
    assert len(executed) == len(set(executed)) == 19


@pytest.mark.parametrize("fmt", ["pytest", "nextest"])
def test_one_job_formats_need_a_shard(sqlite_cli: Cli, tmp_path: Path, fmt: str) -> None:
    (tmp_path / "d.json").write_text(json.dumps({"t.py::a": 1.0, "t.py::b": 2.0}))
    code, out, err = sqlite_cli(
        "shard", "--shards", "2", "--durations", str(tmp_path / "d.json"), "--format", fmt
    )
    assert code == 2 and out == "" and "add --shard I/N" in err
