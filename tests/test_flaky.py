"""Flaky detection on constructed histories, and the CLI on ingested JUnit reports."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest

from pilothouse.analysis.flaky import (
    Outage,
    PassTally,
    Result,
    Thresholds,
    cluster_messages,
    detect,
    gate_tally,
    message_key,
    pass_rates,
    preview,
    quarantined,
    wilson,
)

from .conftest import Cli

T0 = datetime(2026, 11, 1, tzinfo=UTC)
LOW = Thresholds(min_runs=3, outage_min_tests=3)
FAILURE = '<failure message="boom 42"/>'


def _history(
    outcomes: str,
    *,
    test: str = "t.py::T::x",
    job: str = "linux",
    attempts: dict[int, str] | None = None,
    retries: set[int] | None = None,
) -> list[Result]:
    """One result per commit: P passed, F failed, S skipped; attempts add re-runs."""
    results = []
    for index, symbol in enumerate(outcomes):
        outcome = {"P": "passed", "F": "failed", "S": "skipped", "E": "error"}[symbol]
        results.append(
            Result(
                test,
                "suite",
                f"r{index}",
                1,
                job,
                f"c{index}",
                T0 + timedelta(hours=index),
                outcome,
                1 if retries and index in retries else 0,
                "timed out after 5 s" if symbol in "FE" else "",
            )  # type: ignore[arg-type]  # fmt: skip
        )
        if attempts and index in attempts:
            again = {"P": "passed", "F": "failed"}[attempts[index]]
            results.append(
                Result(
                    test,
                    "suite",
                    f"r{index}",
                    2,
                    job,
                    f"c{index}",
                    T0 + timedelta(hours=index, minutes=30),
                    again,
                )  # type: ignore[arg-type]  # fmt: skip
            )
    return sorted(results, key=lambda r: (r.at, r.attempt))


def test_failed_then_passed_on_the_same_commit_is_flaky() -> None:
    report = detect(_history("PPPFPPP", attempts={3: "P"}), LOW)
    (flaky,) = report.flaky
    assert flaky.score == 0.9 and flaky.failures == 1 and flaky.runs == 8
    assert [e.kind for e in flaky.evidence] == ["same-commit"]
    assert flaky.evidence[0].run == "r3" and flaky.evidence[0].attempt == 1
    assert flaky.messages == (("timed out after 5 s", 1),)
    assert report.broken == [] and report.outages == []


def test_passed_on_retry_inside_a_run_is_flaky() -> None:
    (flaky,) = detect(_history("PPPPPP", retries={2}), LOW).flaky
    assert [e.kind for e in flaky.evidence] == ["retry"] and flaky.score == 0.8


def test_isolated_failure_between_passes_is_flaky() -> None:
    (flaky,) = detect(_history("PPPFPPP"), LOW).flaky
    assert [e.kind for e in flaky.evidence] == ["intermittent"] and flaky.score == 0.6


def test_a_failure_on_the_newest_commit_is_not_yet_evidence() -> None:
    report = detect(_history("PPPPPF"), LOW)
    assert report.flaky == [] and report.candidates == []


def test_a_very_flaky_test_failing_twice_in_a_row_is_not_a_regression() -> None:
    report = detect(_history("PFPFFPPFPFFPFPPF"), LOW)
    assert report.broken == [] and [f.test for f in report.flaky] == ["t.py::T::x"]


def test_a_regression_is_broken_not_flaky() -> None:
    report = detect(_history("PPPFFFFPPP", attempts={4: "F"}), LOW)
    assert report.flaky == []
    (broken,) = report.broken
    assert (broken.first_commit, broken.failures, broken.fixed) == ("c3", 5, True)
    still = detect(_history("PPPPFFF"), LOW).broken
    assert [b.fixed for b in still] == [False]


def test_failing_only_on_one_platform_is_not_flaky() -> None:
    linux = _history("PPPPPP", job="linux")
    # Broken on windows for stretches of commits (passing once between): platform.
    mostly = _history("FFPFFF", job="windows")
    report = detect(sorted(linux + mostly, key=lambda r: (r.at, r.job)), LOW)
    assert report.flaky == [] and [p.failures for p in report.platform] == [5]
    # Failing on windows now and then, never twice in a row: flaky on windows.
    sometimes = _history("PFPPFP", job="windows")
    report = detect(sorted(linux + sometimes, key=lambda r: (r.at, r.job)), LOW)
    assert report.platform == [] and [f.test for f in report.flaky] == ["t.py::T::x"]
    # Broken on windows for a while, then fixed: platform, not flaky.
    stretch = _history("PPFFFFPP", job="windows")
    report = detect(sorted(_history("PPPPPPPP") + stretch, key=lambda r: (r.at, r.job)), LOW)
    assert report.flaky == [] and [p.job for p in report.platform] == ["windows"]
    only_windows = _history("FFFFFF", job="windows")
    report = detect(sorted(linux + only_windows, key=lambda r: (r.at, r.job)), LOW)
    assert report.flaky == []
    assert [(p.test, p.job) for p in report.platform] == [("t.py::T::x", "windows")]


def test_outages_are_set_aside() -> None:
    results: list[Result] = []
    for n in range(10):
        history = _history("PPPPPP", test=f"t.py::T::t{n}", attempts={3: "P"})
        if n < 8:  # run r3 attempt 1: 8 of 10 tests fail at once
            history = [
                r
                if not (r.run == "r3" and r.attempt == 1)
                else Result(
                    r.test,
                    r.suite,
                    r.run,
                    1,
                    r.job,
                    r.commit,
                    r.at,
                    "failed",
                    0,
                    "connection refused",
                )  # fmt: skip
                for r in history
            ]
        results += history
    report = detect(sorted(results, key=lambda r: (r.at, r.attempt, r.test)), LOW)
    assert report.flaky == []
    (outage,) = report.outages
    assert (outage.run, outage.attempt, outage.failed, outage.tests) == ("r3", 1, 8, 10)
    assert outage.message == "connection refused"


def test_always_skipped_and_always_passing_tests_are_silent() -> None:
    report = detect(_history("SSSSSS") + _history("PPPPPP", test="t.py::T::y"), LOW)
    assert (report.flaky, report.broken, report.candidates) == ([], [], [])


def test_min_runs_and_threshold_keep_weak_cases_as_candidates() -> None:
    strict = Thresholds(min_runs=50)
    report = detect(_history("PPPFPPP", attempts={3: "P"}), strict)
    assert report.flaky == [] and len(report.candidates) == 1


def test_preview_shows_what_a_threshold_change_adds() -> None:
    history = _history("PPPFPPP")
    added, dropped = preview(history, LOW, Thresholds(min_runs=3, score=0.7))
    assert (added, dropped) == ([], ["t.py::T::x"])


def test_quarantine_release_after_clean_passes() -> None:
    history = _history("PFP" + "P" * 30, attempts={1: "P"})
    report = detect(history, LOW)
    assert quarantined(report, Thresholds(quarantine_clean_runs=40)) == report.flaky
    assert quarantined(report, Thresholds(quarantine_clean_runs=20)) == []


def test_pass_rates_with_and_without_quarantine() -> None:
    history = _history("PFPP", test="a") + _history("PPPP", test="b")
    rates = pass_rates(history, {"a"})
    assert rates["overall"] == {
        "with_quarantined": 7 / 8,
        "without_quarantined": 1.0,
        "gate": 1.0,
    }
    assert [d["day"] for d in rates["by_day"]] == ["2026-11-01"]  # type: ignore[index]


def test_the_gate_leaves_out_quarantined_tests_and_outage_attempts() -> None:
    history = _history("PFPP", test="a") + _history("PPFP", test="b")
    failed = history[6]  # b failing in run r2, where a passed: an outage leaves both out
    outage = [Outage(failed.run, failed.attempt, failed.at, 20, 20, "")]
    tally = gate_tally(history, {"a"}, outage)
    assert (tally.passed, tally.executed) == (3, 3)
    assert gate_tally(history, {"a"}, []).rate == 3 / 4
    assert gate_tally(history, set(), []) == PassTally(6, 8)
    assert PassTally(0, 0).rate is None


@pytest.mark.parametrize(("successes", "trials"), [(0, 10), (1, 100), (50, 100), (10, 10)])
def test_wilson_interval_contains_the_rate(successes: int, trials: int) -> None:
    low, high = wilson(successes, trials)
    assert 0 <= low <= successes / trials <= high <= 1


def test_message_clusters_fold_numbers_but_show_a_real_message() -> None:
    # Numbers are folded to group messages, never in what is shown: "os error N:
    # postgres:N" told nobody which port was refused.
    messages = [
        "error: connection refused (os error 111): postgres:5432",
        "timeout after 4999 ms",
        "error: connection refused (os error 111): postgres:5432\nat line 3",
        "error: connection refused (os error 111): postgres:5433",
        "assert 1 == 2",
    ]
    assert cluster_messages(messages) == (
        ("error: connection refused (os error 111): postgres:5432", 3),
        ("timeout after 4999 ms", 1),
        ("assert 1 == 2", 1),
    )
    assert message_key("") == ""


# -- the CLI on ingested JUnit reports ---------------------------------------------------------


def _ingest(
    cli: Cli, tmp: Path, run: int, attempt: int, commit: str, cases: dict[str, str]
) -> None:
    body = "".join(
        f'<testcase classname="pkg.test_m.TestK" name={quoteattr(name)} file="pkg/test_m.py" '
        'time="1">'
        f"{FAILURE if outcome == 'F' else ''}</testcase>"
        for name, outcome in cases.items()
    )
    report = tmp / f"r{run}-{attempt}.xml"
    report.write_text(f'<testsuite name="s">{body}</testsuite>')
    started = (T0 + timedelta(hours=run, minutes=attempt)).isoformat()
    cli.json("ingest", "junit", str(report), "--run-id", str(run), "--attempt", str(attempt),
             "--commit", commit, "--job", "test", "--started", started)  # fmt: skip


@pytest.fixture
def flaky_history(cli: Cli, tmp_path: Path) -> Cli:
    cli.now = T0 + timedelta(days=2)
    for run in range(8):
        cases = {"test_ok": "P", "test_flaky": "F" if run == 3 else "P",
                 "test_<b>html</b>": "F" if run == 5 else "P"}  # fmt: skip
        _ingest(cli, tmp_path, run, 1, f"c{run}", cases)
        if run in (3, 5):
            _ingest(cli, tmp_path, run, 2, f"c{run}", dict.fromkeys(cases, "P"))
    return cli


def test_cli_json(flaky_history: Cli) -> None:
    data = flaky_history.json("flaky")
    names = [f["test"] for f in data["flaky"]]
    assert names == ["pkg/test_m.py::TestK::test_<b>html</b>", "pkg/test_m.py::TestK::test_flaky"]
    first = data["flaky"][1]
    assert set(first) >= {"classname", "name", "score", "failures", "runs", "first_seen",
                          "last_seen", "evidence"}  # fmt: skip
    assert first["evidence"][0]["kind"] == "same-commit"
    assert first["evidence"][0]["run"] == "3" and first["evidence"][0]["job"] == "test"
    assert data["broken"] == [] and data["outages"] == [] and data["candidates"] == []
    assert data["pass_rate"]["overall"]["without_quarantined"] == 1.0


def test_cli_markdown_escapes_html(flaky_history: Cli) -> None:
    code, out, _ = flaky_history("flaky", "--format", "markdown")
    assert code == 0 and out.startswith("### Flaky tests: 2 flaky")
    assert "<b>" not in out and "&lt;b&gt;html&lt;/b&gt;" in out


def test_cli_quarantine_formats(flaky_history: Cli) -> None:
    code, out, _ = flaky_history("flaky", "quarantine")
    assert out.splitlines() == [
        "--deselect=pkg/test_m.py::TestK::test_<b>html</b>",
        "--deselect=pkg/test_m.py::TestK::test_flaky",
    ]
    code, out, _ = flaky_history("flaky", "quarantine", "--format", "nextest")
    assert out.count("test(=") == 2 and " | " in out
    code, out, _ = flaky_history("flaky", "quarantine", "--format", "json")
    assert len(json.loads(out)["quarantined"]) == 2


@pytest.mark.parametrize(
    "args",
    [
        ("flaky", "quarantine", "--json"),
        ("flaky", "--json", "quarantine"),
        ("flaky", "--format", "json", "quarantine"),
    ],
)
def test_cli_quarantine_json_flag_in_either_place(
    flaky_history: Cli, args: tuple[str, ...]
) -> None:
    code, out, err = flaky_history(*args)
    assert (code, err) == (0, "")
    assert len(json.loads(out)["quarantined"]) == 2


def test_cli_quarantine_refuses_the_reports_markdown_format(flaky_history: Cli) -> None:
    code, out, err = flaky_history("flaky", "--format", "markdown", "quarantine")
    assert (code, out) == (2, "")
    assert "markdown is a format of the flaky report" in err


def test_cli_preview_and_table(flaky_history: Cli) -> None:
    code, out, _ = flaky_history("flaky", "--preview", "--score-threshold", "0.95")
    assert code == 0 and out.endswith("0 added, 2 dropped\n")
    code, out, _ = flaky_history("flaky")
    assert code == 0 and "2 flaky tests" in out and "same-commit" in out
    code, out, err = flaky_history("flaky", "--window", "1")  # the history is older than a day
    assert (code, err) == (0, "")
    assert out == (
        "No test results in the last day (since 2026-11-02); the store holds test results "
        "from 2026-11-01 to 2026-11-01: `--since 2026-11-01` shows them.\n"
    )
    code, out, _ = flaky_history("flaky", "--since", "2026-11-01")
    assert code == 0 and "2 flaky tests" in out


def test_failed_with_retries_counts_once_and_never_exceeds_the_runs() -> None:
    history = _history("PPP")
    history += [
        Result("t.py::T::x", "suite", "r9", 1, "linux", "c1", T0 + timedelta(hours=1, minutes=5),
               "failed", 2, "boom"),
        Result("t.py::T::x", "suite", "r9", 2, "linux", "c1", T0 + timedelta(hours=1, minutes=9),
               "failed", 2, "boom"),
    ]  # fmt: skip
    report = detect(sorted(history, key=lambda r: r.at), LOW)
    everything = report.flaky + report.candidates
    assert everything and all(f.failures <= f.runs and f.flip_rate <= 1 for f in everything)


def test_a_commit_failing_every_rerun_is_not_intermittent() -> None:
    report = detect(_history("PPPFPPP", attempts={3: "F"}), LOW)
    assert report.flaky == [] and report.candidates == []


def test_mass_failure_on_consecutive_commits_is_a_broken_build_not_an_outage() -> None:
    results: list[Result] = []
    for n in range(10):
        outcomes = "PPPFFFPP" if n < 8 else "PPPPPPPP"
        results += _history(outcomes, test=f"t.py::T::t{n}")
    report = detect(sorted(results, key=lambda r: (r.at, r.test)), LOW)
    assert report.outages == []
    assert len(report.broken) == 8 and report.flaky == []


def test_quarantine_says_why_it_holds_fewer_tests_than_flaky(flaky_history: Cli) -> None:
    # test_flaky failed in run 3 and passed in the 4 runs since; the other one in run 5.
    (flaky_history.cwd / "pilothouse.toml").write_text("[flaky]\nquarantine_clean_runs = 4\n")
    code, out, _ = flaky_history("flaky")
    assert code == 0 and "2 flaky tests" in out
    assert "1 of 2 flaky tests quarantined; 1 left quarantine after 4 clean passes in a row" in out
    code, out, err = flaky_history("flaky", "quarantine")
    assert out == "--deselect=pkg/test_m.py::TestK::test_<b>html</b>\n"
    assert err == (
        "pilothouse: 1 of 2 flaky tests quarantined; "
        "1 left quarantine after 4 clean passes in a row\n"
    )
    code, out, err = flaky_history("flaky", "quarantine", "--format", "json")
    data = json.loads(out)
    assert (code, err) == (0, "")
    assert [f["test"] for f in data["released"]] == ["pkg/test_m.py::TestK::test_flaky"]


def test_quarantine_on_an_empty_window_deselects_nothing_and_says_why(flaky_history: Cli) -> None:
    code, out, err = flaky_history("flaky", "--window", "1", "quarantine")
    assert (code, out) == (0, "")
    assert err.startswith("pilothouse: No test results in the last day") and "--since" in err
