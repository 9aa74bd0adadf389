"""`pilothouse shard` end to end on real durations files, JUnit reports and the store."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pilothouse.cli.output import nextest_filterset
from pilothouse.sources.durations import read_junit_durations

from .conftest import DATA, JUNIT, Cli
from .consumers import check_github_matrix, nextest_selection
from .test_shard_pytest import collected, history, make_suite, ran

OLD = DATA / "durations" / "2023-01-09_df5e522e7.json"
NEW = DATA / "durations" / "2023-03-09_536991e68.json"
NEXTEST = JUNIT / "nextest" / "fixture-project-junit.xml"


def test_json_plan_on_a_real_durations_file(sqlite_cli: Cli) -> None:
    plan = sqlite_cli.json("shard", "--shards", "4", "--durations", str(OLD))
    tests = json.loads(OLD.read_text())
    placed = [t for s in plan["shards"] for t in s["tests"]]
    assert sorted(placed) == sorted(tests)
    assert [s["index"] for s in plan["shards"]] == [1, 2, 3, 4]
    assert plan["unknown_tests"] == 0
    assert plan["makespan_seconds"] == max(s["predicted_seconds"] for s in plan["shards"])
    assert plan["makespan_seconds"] / plan["lower_bound_seconds"] <= 1.005


def test_each_shard_selection_adds_up_to_the_suite(sqlite_cli: Cli) -> None:
    selected: list[str] = []
    for index in range(1, 4):
        code, out, err = sqlite_cli(
            "shard", "--shards", "3", "--durations", str(OLD), "--shard", f"{index}/3",
            "--format", "pytest",
        )  # fmt: skip
        assert code == 0, err
        selected.extend(out.splitlines())
    assert sorted(selected) == sorted(json.loads(OLD.read_text()))


def test_retried_job_gets_the_same_tests(sqlite_cli: Cli) -> None:
    args = (
        "shard",
        "--shards",
        "5",
        "--durations",
        str(OLD),
        "--shard",
        "2/5",
        "--format",
        "lines",
    )
    assert sqlite_cli(*args)[1] == sqlite_cli(*args)[1]


def test_test_list_with_new_tests_uses_estimates(sqlite_cli: Cli, tmp_path: Path) -> None:
    listing = tmp_path / "collected.txt"
    known = sorted(json.loads(OLD.read_text()))[:50]
    listing.write_text(
        "\n".join(known + ["hypha/new/test_brand_new.py::test_a", "", "52 tests collected in 1.2s"])
    )
    plan = sqlite_cli.json(
        "shard", "--shards", "2", "--durations", str(OLD), "--tests", str(listing)
    )
    assert plan["unknown_tests"] == 1
    assert sum(len(s["tests"]) for s in plan["shards"]) == 51


def test_test_list_from_stdin(sqlite_cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a::t1\na::t2\na::t3\n"))
    plan = sqlite_cli.json("shard", "--shards", "2", "--durations", str(OLD), "--tests", "-")
    assert plan["unknown_tests"] == 3


def test_several_files_merge(sqlite_cli: Cli) -> None:
    plan = sqlite_cli.json(
        "shard", "--shards", "2", "--durations", str(OLD), "--durations", str(NEW)
    )
    union = set(json.loads(OLD.read_text())) | set(json.loads(NEW.read_text()))
    assert sum(len(s["tests"]) for s in plan["shards"]) == len(union)


def test_durations_from_the_store(sqlite_cli: Cli) -> None:
    sqlite_cli.json("ingest", "junit", str(NEXTEST), "--run-id", "1")
    plan = sqlite_cli.json("shard", "--shards", "2")
    tests = [t for s in plan["shards"] for t in s["tests"]]
    assert "fixture-project::basic test_cwd" in tests and plan["unknown_tests"] == 0


def test_target_minutes(sqlite_cli: Cli) -> None:
    plan = sqlite_cli.json(
        "shard", "--target-minutes", "3", "--setup-seconds", "60", "--durations", str(OLD)
    )
    assert plan["wall_seconds"] <= 180 and plan["setup_seconds"] == 60
    fewer = sqlite_cli.json(
        "shard",
        "--shards",
        str(len(plan["shards"]) - 1),
        "--durations",
        str(OLD),
        "--setup-seconds",
        "60",
    )
    assert fewer["wall_seconds"] > 180


def test_human_table(sqlite_cli: Cli) -> None:
    code, out, _ = sqlite_cli("shard", "--shards", "2", "--durations", str(OLD))
    assert code == 0 and "2 shards: slowest" in out and "lower bound" in out


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('{"a": 1,\n "b": }', r"durations.json:2: invalid JSON \(line 2, column 7\)"),
        ('{"a": -1}', "duration of 'a' must be a finite number >= 0"),
        ('{"a": "slow"}', "duration of 'a' is not a number: 'slow'"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_bad_durations_files(sqlite_cli: Cli, tmp_path: Path, content: str, match: str) -> None:
    bad = tmp_path / "durations.json"
    bad.write_text(content)
    code, out, err = sqlite_cli("shard", "--shards", "2", "--durations", str(bad))
    assert code == 1 and out == "" and err.count("\n") == 1
    assert str(bad) in err
    assert re.search(match, err)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--shards", "900"], 1, "--shards 900 but only 824 tests: use at most 824 shards"),
        (["--shards", "0"], 2, "--shards"),
        ([], 2, "give exactly one of --shards N or --target-minutes M"),
        (["--shards", "2", "--target-minutes", "5"], 2, "exactly one"),
        (["--shards", "2", "--shard", "3/2"], 2, "expected I/N"),
        (["--shards", "2", "--shard", "1/3"], 2, "does not match --shards 2"),
        (["--target-minutes", "0.5"], 1, "alone take longer"),
    ],
)
def test_bad_requests(sqlite_cli: Cli, args: list[str], code: int, message: str) -> None:
    got, _out, err = sqlite_cli("shard", "--durations", str(OLD), *args)
    assert got == code and message in err


def test_empty_test_list_and_empty_store(sqlite_cli: Cli, tmp_path: Path) -> None:
    empty = tmp_path / "none.txt"
    empty.write_text("\n# nothing\n")
    code, _out, err = sqlite_cli(
        "shard", "--shards", "2", "--durations", str(OLD), "--tests", str(empty)
    )
    assert code == 1 and "no test ids" in err
    for _ in ("no store yet", "a store without history"):
        code, _out, err = sqlite_cli("shard", "--shards", "2")
        assert code == 1 and "no tests to split: no timing history yet" in err
        assert "pytest --collect-only -q | pilothouse shard --tests -" in err
        if not (tmp_path / "store.db").exists():  # reading history created no store
            assert sqlite_cli("db", "upgrade")[0] == 0
    assert (tmp_path / "store.db").exists()


def test_nextest_filterset_selects_exactly_its_shard(sqlite_cli: Cli) -> None:
    everything = {tuple(t.split(" ", 1)) for t in read_junit_durations(NEXTEST)}
    chosen: list[tuple[str, str]] = []
    for index in (1, 2):
        code, out, err = sqlite_cli(
            "shard", "--shards", "2", "--durations", str(NEXTEST), "--shard", f"{index}/2",
            "--format", "nextest",
        )  # fmt: skip
        assert code == 0, err
        assert out.count("\n") == 1  # one argument for -E
        chosen += sorted(nextest_selection(out.strip(), everything))
    assert sorted(chosen) == sorted(everything)


def test_nextest_filterset_escapes_what_the_dsl_reserves() -> None:
    odd = ("crate::bin", "tests::with(parens), comma\\slash")
    assert nextest_selection(nextest_filterset((" ".join(odd),)), [odd, ("crate::bin", "x")]) == {
        odd
    }


def test_github_matrix_fits_from_json(sqlite_cli: Cli) -> None:
    code, out, err = sqlite_cli(
        "shard", "--target-minutes", "3", "--durations", str(OLD), "--format", "github-matrix"
    )
    assert code == 0 and out.count("\n") == 1, err  # one line for $GITHUB_OUTPUT
    jobs = check_github_matrix(json.loads(out))
    assert [job["shard"] for job in jobs] == list(range(1, len(jobs) + 1))
    assert {job["shards"] for job in jobs} == {len(jobs)}


def test_test_durations_feed_pytest_split_and_give_the_same_plan(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    make_suite(tmp_path)
    history(tmp_path, sqlite_cli)
    (tmp_path / "tests.txt").write_text("\n".join(collected(tmp_path)))
    code, out, err = sqlite_cli("shard", "--tests", "tests.txt", "--format", "test-durations")
    assert code == 0 and err == "", err
    (tmp_path / ".test_durations").write_text(out)
    snapshot = json.loads(out)
    assert sorted(snapshot) == sorted(collected(tmp_path))
    original = sqlite_cli.json("shard", "--shards", "3", "--tests", "tests.txt")
    again = sqlite_cli.json(
        "shard", "--shards", "3", "--tests", "tests.txt", "--durations", ".test_durations"
    )
    assert again["shards"] == original["shards"]
    executed: list[str] = []
    for group in (1, 2, 3):  # pytest-split itself reads the file as-is
        report = tmp_path / f"g{group}.xml"
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--splits", "3",
             "--group", str(group), "--durations-path", ".test_durations",
             f"--junitxml={report}", "tests"],
            cwd=tmp_path, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0 and "No test durations" not in done.stdout, done.stdout
        executed += ran(report)
    assert len(executed) == len(set(executed)) == len(snapshot)
