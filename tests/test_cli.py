"""The CLI end to end, in-process, on real reports: ingest, read back, errors, exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from pilothouse.cli import app
from pilothouse.cli import main as cli_main
from pilothouse.cli.main import COMMANDS

from .conftest import JUNIT, Cli

NEXTEST = JUNIT / "nextest" / "fixture-project-junit.xml"
SUREFIRE_FLAKY = JUNIT / "action-junit-report" / "maven_surefire_flaky__surefire-report.xml"
PYTEST_FAIL = JUNIT / "publish-unit-test-result-action" / "pytest__junit.fail.xml"
NOT_JUNIT = JUNIT / "publish-unit-test-result-action" / "non-junit.xml"
CORRUPT = JUNIT / "publish-unit-test-result-action" / "pytest__corrupt-xml.xml"
EXPECTED = json.loads((JUNIT.parent / "junit_expected.json").read_text())
GITHUB_ENV = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_REPOSITORY": "acme/widgets",
    "GITHUB_RUN_ID": "987654321",
    "GITHUB_RUN_ATTEMPT": "2",
    "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
    "GITHUB_REF_NAME": "main",
    "GITHUB_WORKFLOW": "tests-all",
    "GITHUB_JOB": "nextest",
    "GITHUB_EVENT_NAME": "push",
}


def _expected(*relatives: str) -> dict[str, int]:
    keys = ("tests", "passed", "failed", "errors", "skipped")
    return {k: sum(int(EXPECTED[r][k]) for r in relatives) for k in keys}


def test_ingest_counts_match_the_runner(cli: Cli) -> None:
    got = cli.json("ingest", "junit", str(NEXTEST), str(PYTEST_FAIL))
    relatives = (
        "nextest/fixture-project-junit.xml",
        "publish-unit-test-result-action/pytest__junit.fail.xml",
    )
    assert got == {"files": 2, **_expected(*relatives), "duplicates": 0}


def test_ingest_twice_adds_nothing_and_counts_duplicates(cli: Cli) -> None:
    first = cli.json("ingest", "junit", str(NEXTEST), "--run-id", "5")
    second = cli.json("ingest", "junit", str(NEXTEST), "--run-id", "5")
    assert second == {**first, "duplicates": first["tests"]}
    runs = cli.json("runs")["runs"]
    assert len(runs) == 1 and runs[0]["tests"] == first["tests"]


def test_local_runs_are_keyed_by_content(cli: Cli) -> None:
    cli.json("ingest", "junit", str(NEXTEST))
    again = cli.json("ingest", "junit", str(NEXTEST))
    assert again["duplicates"] == again["tests"] > 0
    (run,) = cli.json("runs")["runs"]
    assert run["id"].startswith("local-") and run["provider"] == "local"


def test_the_whole_readable_corpus_ingests_in_one_call(cli: Cli, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    readable = sorted(k for k, v in EXPECTED.items() if not v.get("refuse"))
    for relative in readable:
        target = corpus / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(JUNIT / relative, target)
    got = cli.json("ingest", "junit", str(corpus))
    # Some reports are byte-identical copies of each other: the store keeps one per run.
    assert {k: got[k] for k in ("tests", "passed", "failed", "errors", "skipped")} == _expected(
        *readable
    )
    assert got["files"] == len(readable)
    stored = sum(t["runs"] for t in cli.json("tests")["tests"])
    assert stored == got["tests"] - got["duplicates"]


def test_one_bad_file_among_good_writes_nothing(cli: Cli) -> None:
    code, out, err = cli("ingest", "junit", str(NEXTEST), str(CORRUPT), str(PYTEST_FAIL))
    assert code == 1
    assert out == ""
    assert err == (
        f"pilothouse: error: {CORRUPT}:11: malformed XML: Premature end of data in tag skipped "
        "line 9, line 11, column 22 (nothing written; --skip-invalid stores the others)\n"
    )
    assert cli.json("runs") == {"runs": []}


REFUSED = sorted(k for k, v in EXPECTED.items() if v.get("refuse"))


def _corpus(tmp_path: Path, relatives: list[str]) -> Path:
    corpus = tmp_path / "corpus"
    for relative in relatives:
        target = corpus / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(JUNIT / relative, target)
    return corpus


def test_every_invalid_report_is_named_in_one_run(cli: Cli, tmp_path: Path) -> None:
    good = ["nextest/fixture-project-junit.xml"]
    corpus = _corpus(tmp_path, good + REFUSED)
    code, out, err = cli("ingest", "junit", str(corpus))
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert len(REFUSED) == 7 and len(lines) == 8
    assert [line.split(": ")[2].split(":")[0] for line in lines[:-1]] == [
        str(corpus / r) for r in REFUSED
    ]
    assert lines[-1] == (
        "pilothouse: error: 7 of 8 reports invalid, nothing written "
        "(--skip-invalid stores the others)"
    )
    assert cli.json("runs") == {"runs": []}


def test_skip_invalid_stores_the_rest_with_a_warning_per_file(cli: Cli, tmp_path: Path) -> None:
    good = [
        "nextest/fixture-project-junit.xml",
        "publish-unit-test-result-action/pytest__junit.fail.xml",
    ]
    corpus = _corpus(tmp_path, good + REFUSED)
    code, out, err = cli("ingest", "junit", str(corpus), "--skip-invalid", "--json")
    assert code == 0, err
    assert json.loads(out) == {"files": 2, **_expected(*good), "duplicates": 0, "skipped_files": 7}
    warnings = err.splitlines()
    assert len(warnings) == 7 and all(
        w.startswith("pilothouse: warning: skipped ") for w in warnings
    )
    assert "malformed/empty.xml: empty file" in err
    assert sum(t["runs"] for t in cli.json("tests")["tests"]) == _expected(*good)["tests"]


def test_skip_invalid_with_nothing_valid_is_an_error(cli: Cli, tmp_path: Path) -> None:
    corpus = _corpus(tmp_path, REFUSED[:2])
    code, _out, err = cli("ingest", "junit", str(corpus), "--skip-invalid")
    assert code == 1
    assert err.splitlines()[-1] == "pilothouse: error: none of the 2 reports is valid"


CONTAINER = "action-junit-report/container-structure__test.xml"


def test_nanosecond_durations_are_read_as_nanoseconds(cli: Cli) -> None:
    code, out, err = cli("ingest", "junit", str(JUNIT / CONTAINER), "--json")
    assert code == 0, err
    assert err == (
        f"pilothouse: warning: {JUNIT / CONTAINER}: durations read as nanoseconds "
        "(whole numbers up to 999,638,317, over a week as seconds)\n"
    )
    by_name = {t["name"]: t for t in cli.json("tests")["tests"]}
    upgrade = by_name["Command Test: apt-get upgrade"]
    assert upgrade["mean_seconds"] == pytest.approx(0.999638317)


def test_skip_invalid_with_nanoseconds_in_good_and_bad_reports(cli: Cli, tmp_path: Path) -> None:
    lines = (JUNIT / CONTAINER).read_text().splitlines(keepends=True)
    truncated = tmp_path / "cut.xml"
    # Nanosecond testcases, enough for the parser to hand them over, then the end of data.
    truncated.write_text("".join(lines[:2]) + lines[2] * 2000)
    code, out, err = cli(
        "ingest", "junit", str(JUNIT / CONTAINER), str(truncated), "--skip-invalid", "--json"
    )
    assert code == 0, err
    assert (json.loads(out)["tests"], json.loads(out)["skipped_files"]) == (3, 1)
    assert f"warning: skipped {truncated}:2003: malformed XML" in err
    assert "durations read as nanoseconds" in err
    by_name = {t["name"]: t for t in cli.json("tests")["tests"]}
    assert by_name["Command Test: apt-get upgrade"]["mean_seconds"] < 1.0


def test_durations_in_no_known_unit_are_dropped_not_shown(cli: Cli, tmp_path: Path) -> None:
    report = tmp_path / "odd.xml"
    report.write_text(
        '<testsuite name="s"><testcase classname="c" name="a" time="700000.5"/>'
        '<testcase classname="c" name="b" time="1.5"/></testsuite>'
    )
    code, _out, err = cli("ingest", "junit", str(report))
    assert code == 0 and "durations up to 700,000 s cannot be real" in err
    assert {t["name"]: t["mean_seconds"] for t in cli.json("tests")["tests"]} == {
        "a": None,
        "b": None,
    }


def test_testcases_without_a_name_are_named_from_their_position(cli: Cli) -> None:
    report = JUNIT / "publish-unit-test-result-action" / "no-attributes.xml"
    code, _out, err = cli("ingest", "junit", str(report))
    assert code == 0
    assert "4 testcase(s) without a name, named from their position in the report" in err
    tests = cli.json("tests")["tests"]
    assert sorted(t["name"] for t in tests) == [f"(unnamed testcase #{i})" for i in (1, 2, 3, 4)]
    assert sorted(t["last_outcome"] for t in tests) == ["error", "failed", "passed", "skipped"]


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda d: d / "missing.xml", "missing.xml: no such file or directory"),
        (lambda d: d / "*.nothing", "no files match this pattern"),
        (lambda d: d, "directory holds no .xml files"),
    ],
)
def test_paths_that_yield_nothing(cli: Cli, tmp_path: Path, make, match: str) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _out, err = cli("ingest", "junit", str(make(empty)))
    assert code == 1 and match in err


def test_every_path_that_yields_nothing_is_named(sqlite_cli: Cli, tmp_path: Path) -> None:
    code, _out, err = sqlite_cli("ingest", "junit", "a.xml", str(NEXTEST), "b/*.xml")
    assert code == 1
    assert err.splitlines() == [
        "pilothouse: error: a.xml: no such file or directory",
        "pilothouse: error: b/*.xml: no files match this pattern",
        "pilothouse: error: 2 of 3 paths yield no file",
    ]


def test_not_junit_is_refused(cli: Cli) -> None:
    code, _out, err = cli("ingest", "junit", str(NOT_JUNIT))
    assert code == 1
    assert "not a JUnit report: root element is <suites>" in err


def test_globs_and_directories(cli: Cli) -> None:
    got = cli.json("ingest", "junit", str(JUNIT / "nextest" / "*.xml"), str(JUNIT / "nextest"))
    assert got["files"] == 3  # the same three files, read once


def test_github_actions_environment_fills_the_run(cli: Cli) -> None:
    cli.env.update(GITHUB_ENV)
    cli.json("ingest", "junit", str(NEXTEST))
    (run,) = cli.json("runs")["runs"]
    assert (run["id"], run["attempt"], run["workflow"], run["branch"]) == (
        "987654321",
        2,
        "tests-all",
        "main",
    )
    assert run["commit"] == GITHUB_ENV["GITHUB_SHA"]
    assert run["repository"] == "acme/widgets" and run["provider"] == "github"
    assert [j["name"] for j in run["jobs"]] == ["nextest"]
    assert run["conclusion"] == "failure"


def test_flags_override_the_environment(cli: Cli) -> None:
    cli.env.update(GITHUB_ENV)
    cli.json(
        "ingest",
        "junit",
        str(NEXTEST),
        "--run-id",
        "42",
        "--attempt",
        "3",
        "--job",
        "j",
        "--commit",
        "c0ffee",
        "--branch",
        "dev",
        "--workflow",
        "wf",
        "--started",
        "2026-11-20T08:00:00+01:00",
    )
    (run,) = cli.json("runs")["runs"]
    assert (run["id"], run["attempt"], run["commit"], run["branch"], run["workflow"]) == (
        "42",
        3,
        "c0ffee",
        "dev",
        "wf",
    )
    assert run["created_at"] == "2026-11-20T07:00:00+00:00"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("junit", str(NEXTEST), "--started", "yesterday"), "'yesterday' is not an ISO 8601"),
        (("junit", str(NEXTEST), "--repo", "hypha-labs"), "'hypha-labs': expected OWNER/NAME"),
        (("github", "--repo", "hypha-labs"), "'hypha-labs': expected OWNER/NAME"),
        (("github", "--repo", "a/b", "--since", "yesterday"), "'yesterday' is not an ISO 8601"),
    ],
)
def test_bad_option_values_are_usage_errors(cli: Cli, args: tuple[str, ...], message: str) -> None:
    cli.env["GITHUB_TOKEN"] = "t"  # so the sync would get as far as the network
    code, out, err = cli("ingest", *args)
    assert (code, out) == (2, "")
    assert "Invalid value for --" in err and message in err
    assert cli.json("db", "status")["state"] == "missing"  # nothing written


def test_tests_report_json(cli: Cli) -> None:
    cli.json("ingest", "junit", str(SUREFIRE_FLAKY), "--run-id", "1")
    (test,) = cli.json("tests")["tests"]
    assert test == {
        "classname": "io.sodadata.dependson.soda.integrations.msteams.MicrosoftTeamsCrudTest",
        "name": "createWebhook",
        "file": "",
        "runs": 1,
        "passed": 1,
        "failures": 0,
        "skipped": 0,
        "pass_rate": 1.0,
        "mean_seconds": 0.683,
        "median_seconds": 0.683,
        "p90_seconds": 0.683,
        "last_outcome": "passed",
        "last_seen": "2026-11-27T12:00:00+00:00",
    }


def test_tests_are_slowest_first_with_history(cli: Cli, tmp_path: Path) -> None:
    for run, (fast, slow, outcome) in enumerate([(0.1, 5.0, ""), (0.3, 7.0, "<failure/>")]):
        report = tmp_path / f"r{run}.xml"
        report.write_text(
            f'<testsuite name="s"><testcase classname="c" name="fast" time="{fast}"/>'
            f'<testcase classname="c" name="slow" time="{slow}">{outcome}</testcase></testsuite>'
        )
        cli.json(
            "ingest",
            "junit",
            str(report),
            "--run-id",
            str(run),
            "--started",
            f"2026-11-0{run + 1}T00:00:00Z",
        )
    slow, fast = cli.json("tests")["tests"]
    assert (slow["name"], slow["runs"], slow["failures"], slow["pass_rate"]) == ("slow", 2, 1, 0.5)
    assert slow["mean_seconds"] == 6.0 and slow["p90_seconds"] == pytest.approx(6.8)
    assert slow["last_outcome"] == "failed"
    assert fast["name"] == "fast" and fast["pass_rate"] == 1.0


def test_human_tables_show_names_verbatim(cli: Cli, tmp_path: Path) -> None:
    report = tmp_path / "r.xml"
    report.write_text(
        '<testsuite><testcase classname="c" name="[bold red]x[/] &lt;script&gt;"/></testsuite>'
    )
    cli.json("ingest", "junit", str(report))
    code, out, _err = cli("tests")
    assert code == 0
    assert "[bold red]x[/] <script>" in out


def test_runs_report_human(cli: Cli) -> None:
    cli.json("ingest", "junit", str(NEXTEST), "--run-id", "77", "--workflow", "ci")
    code, out, _ = cli("runs")
    assert code == 0 and "77" in out and "ci" in out


def test_report_summarises_the_store(cli: Cli) -> None:
    cli.json("ingest", "junit", str(NEXTEST), "--run-id", "1")
    data = cli.json("report")
    assert data["counts"]["runs"] == 1
    assert [(t["name"], t["last_outcome"]) for t in data["failing"]] == [
        ("test_failure_assert", "failed")
    ]
    code, out, _ = cli("report")
    assert code == 0 and "Slowest of 3 tests" in out and "1 failing now" in out


def test_usage_error_exits_2(cli: Cli) -> None:
    code, _out, err = cli("ingest", "junit", "--attempt", "0", str(NEXTEST))
    assert code == 2 and "attempt" in err
    code, _out, err = cli("no-such-command")
    assert code == 2


def test_internal_error_exits_3_and_debug_shows_traceback(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("kaput")

    monkeypatch.setattr("pilothouse.ingest.ingest_reports", boom)
    code, _out, err = cli("ingest", "junit", str(NEXTEST))
    assert code == 3
    assert err.strip() == (
        "pilothouse: internal error: RuntimeError: kaput "
        "(a bug; rerun with --debug for the traceback and report it)"
    )
    code, _out, err = cli("--debug", "ingest", "junit", str(NEXTEST))
    assert code == 3 and "Traceback" in err


def test_user_error_with_debug_shows_traceback(cli: Cli) -> None:
    code, _out, err = cli("--debug", "ingest", "junit", str(CORRUPT))
    assert code == 1 and "Traceback" in err and "malformed XML" in err


def test_version_and_help(cli: Cli) -> None:
    code, out, _ = cli("--version")
    assert code == 0 and out.startswith("pilothouse ")
    code, out, _ = cli("--help")
    assert code == 0 and "ingest" in out


@pytest.mark.parametrize("args", [("-h",), ("ingest", "-h"), ("flaky", "quarantine", "-h")])
def test_short_help(cli: Cli, args: tuple[str, ...]) -> None:
    code, out, err = cli(*args)
    assert (code, err) == (0, "") and out.startswith("Usage: pilothouse")


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (("report", "--db", "sqlite:///x.db"), "pilothouse --db VALUE report ..."),
        (("flaky", "quarantine", "--debug"), "pilothouse --debug flaky ..."),
    ],
)
def test_global_options_after_the_command_get_a_hint(
    cli: Cli, args: tuple[str, ...], hint: str
) -> None:
    code, _out, err = cli(*args)
    assert code == 2 and "is a global option: it goes before the command" in err and hint in err


def test_console_script_runs_as_a_process(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PILOTHOUSE_DB": f"sqlite:///{tmp_path / 'p.db'}"}
    done = subprocess.run(
        [sys.executable, "-m", "pilothouse", "ingest", "junit", str(NEXTEST), "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (
        json.loads(done.stdout)["tests"] == EXPECTED["nextest/fixture-project-junit.xml"]["tests"]
    )
    assert (tmp_path / "p.db").exists()
    bad = subprocess.run(
        [sys.executable, "-m", "pilothouse", "ingest", "junit", str(CORRUPT)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1


def test_default_store_is_created_under_the_working_directory(tmp_path: Path) -> None:
    world_cli = Cli(cwd=tmp_path, db="")
    world_cli.env["PILOTHOUSE_DB"] = ""
    code, _out, err = world_cli("ingest", "junit", str(NEXTEST))
    assert code == 0, err
    assert (tmp_path / ".pilothouse" / "pilothouse.db").is_file()


def test_main_exits_with_the_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["pilothouse", "--version"])
    with pytest.raises(SystemExit) as caught:
        cli_main()
    assert caught.value.code == 0


def test_an_existing_path_is_taken_literally_not_as_a_glob(sqlite_cli: Cli, tmp_path: Path) -> None:
    shutil.copy(NEXTEST, tmp_path / "report [linux].xml")
    got = sqlite_cli.json("ingest", "junit", "report [linux].xml")
    assert got["files"] == 1 and got["tests"] > 0


def test_a_file_name_that_is_not_utf8_is_read_and_named_safely(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    import os

    good = tmp_path / os.fsdecode(b"good-\xff.xml")
    shutil.copy(NEXTEST, good)
    assert sqlite_cli.json("ingest", "junit", str(good))["files"] == 1
    broken = tmp_path / os.fsdecode(b"broken-\xfe.xml")
    broken.write_bytes(b"<testsuite><testcase")
    code, _out, err = sqlite_cli("ingest", "junit", str(broken))
    assert code == 1
    assert f"error: {tmp_path}/broken-\\xfe.xml:1: malformed XML" in err


# -- commands imported when used ---------------------------------------------------------

_IMPORTED = """
import sys
from pilothouse.cli import run
code = run(sys.argv[1:])
print(" ".join(sorted(sys.modules)))
sys.exit(code)
"""
# What ingest junit and --help have no use for (ingest's progress display needs Rich).
_UNUSED = ("pilothouse.analysis", "pilothouse.cli.cost", "pilothouse.cli.flaky",
           "pilothouse.cli.shard", "pilothouse.sources.costs", "pilothouse.sources.github",
           "pilothouse.github_sync", "httpx", "alembic")  # fmt: skip


def _modules(tmp_path: Path, *argv: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTED, "--db", f"sqlite:///{tmp_path / 'm.db'}", *argv],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    return done.stdout.split("\n")[-2].split()


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["ingest", "junit", str(JUNIT / "nextest" / "fixture-project-junit.xml")]],
)
def test_a_command_imports_only_what_it_uses(tmp_path: Path, argv: list[str]) -> None:
    modules = _modules(tmp_path, *argv)
    # the rollups' bins come from the sketch's pure arithmetic (store.rollups)
    needed = {"pilothouse.analysis", "pilothouse.analysis.sketch"}
    assert [m for m in modules if m.startswith(_UNUSED) and m not in needed] == []
    if argv == ["--help"]:
        heavy = ("sqlalchemy", "lxml", "rich", "pilothouse.store", "pilothouse.cli.")
        root = ["pilothouse.cli.lazy", "pilothouse.cli.main", "pilothouse.cli.state"]
        assert [m for m in modules if m.startswith(heavy)] == root


def test_root_help_summaries_are_each_commands_own() -> None:
    """--help lists commands from summaries kept beside their modules' names."""
    group = typer.main.get_command(app)
    for name, command in COMMANDS.items():
        help_text = group.commands[name].help or ""  # type: ignore[attr-defined]
        assert " ".join(help_text.strip().split("\n\n")[0].split()) == command.summary, name
