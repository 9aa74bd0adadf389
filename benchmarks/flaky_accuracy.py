"""Benchmark: how accurately `pilothouse flaky` finds flaky tests in a labelled CI history.

What it simulates (deterministic from ``--seed``): a pytest project of ~400 tests with ~150
commits over 45 days. Every commit gets one CI run with two jobs, ``linux`` and ``windows``,
each running the whole suite and writing one JUnit report. In that history, by label:

* flaky (~30): each fails independently with its own probability per execution. A third of
  them run under an in-run retry plugin (up to 2 retries, Surefire/nextest style): a failure
  followed by a pass is written as a passing testcase with ``<flakyFailure>`` children;
* broken (3 regressions): fail on every run, attempt and job from commit k until a fix at
  commit k+m (3 <= m <= 8);
* platform (2): always fail on the windows job and pass on linux, one for the whole history,
  one for a stretch of commits (windows broke at commit a, fixed at commit b);
* skipped (~20): always ``<skipped/>``;
* stable: everything else, always passes.

CI behaviour: when a run attempt has any failure, it is re-run as attempt 2 (same commit, same
run id) with probability 0.7, GitHub's "re-run failed jobs": only the jobs that failed run
again. Two outages: run attempts where ~70 % of all tests fail at once with "connection
refused"; those runs are always re-run, and attempt 2 behaves normally.

Where the rates come from: each flaky test's failure probability is drawn from the flaky rows
(IsFlaky=1) of FlakeFlagger's rerun data (``test-rerun-scripts__test_results.csv``, ~10,000
reruns per test) as NumFailingRuns / (NumFailingRuns + NumPassingRuns). Most of those are well
under 1 %; they are floored at 0.3 % (``--floor``) so that a test can fail at all within ~300
executions. Both distributions are printed.

The history is ingested through the real CLI, in-process (``pilothouse ingest junit REPORT
--run-id --attempt --commit --job --started --json``, one call per report), into a fresh SQLite
store, then ``pilothouse flaky --json --window 60`` is compared with the labels: precision,
recall over flaky tests that failed at least once (outside outage attempts), false positives
and negatives with their history, regressions found as broken, outages found, platform tests
not called flaky.

Goals (informational; the script exits 0 whether they are met or not): precision >= 0.95,
recall >= 0.90 over flaky tests that failed at least once.

Run from the project root::

    .venv/bin/python benchmarks/flaky_accuracy.py             # ~400 tests, 150 commits
    .venv/bin/python benchmarks/flaky_accuracy.py --quick     # 120 tests, 50 commits
    .venv/bin/python benchmarks/flaky_accuracy.py --seed 7    # another history
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from pilothouse.cli import run
from pilothouse.cli.state import World

RATES_CSV = Path("/work/shared/data/flaky/flakeflagger/test-rerun-scripts__test_results.csv")
JOBS = ("linux", "windows")
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
DAYS = 45
WINDOW_DAYS = 60
RERUN_PROBABILITY = 0.7
IN_RUN_RETRIES = 2
OUTAGE_SHARE = 0.7
PRECISION_GOAL = 0.95
RECALL_GOAL = 0.90


@dataclass(frozen=True)
class Size:
    tests: int
    commits: int
    flaky: int
    skipped: int


FULL = Size(tests=400, commits=150, flaky=30, skipped=20)
QUICK = Size(tests=120, commits=50, flaky=10, skipped=6)

# --- the project's tests -----------------------------------------------------------------

AREAS = ("api", "cli", "core", "db", "net", "storage", "sync", "ui")
MODULES = (
    "auth", "cache", "config", "export", "events", "files", "http", "import", "jobs", "locks",
    "models", "paths", "queue", "render", "schema", "search", "session", "tasks", "upload",
)  # fmt: skip
CLASSES = ("Basic", "Errors", "Edge", "Integration", "Concurrency", "Parse", "Roundtrip")
VERBS = (
    "accepts", "rejects", "creates", "deletes", "updates", "reads", "writes", "retries",
    "expires", "merges", "sorts", "renders", "validates", "streams", "resumes", "cancels",
)  # fmt: skip
NOUNS = (
    "empty_input", "unicode", "large_payload", "missing_key", "timeout", "nested", "duplicate",
    "stale_entry", "permissions", "symlink", "utc_offset", "partial_write", "header", "batch",
)  # fmt: skip
FLAKY_MESSAGES = (
    "AssertionError: timed out after {ms} ms waiting for worker",
    "ConnectionResetError: [Errno 104] Connection reset by peer",
    "AssertionError: assert {a} == {b} (results arrived out of order)",
    "TimeoutError: port {port} not ready after 10.0s",
    "sqlite3.OperationalError: database is locked",
    "AssertionError: expected mtime to change after {ms} ms",
)
OUTAGE_MESSAGE = "ConnectionRefusedError: [Errno 111] Connection refused (postgres:5432)"
PLATFORM_TESTS = (
    ("tests/platform/test_paths.py", "TestLongPaths", "test_deep_tree_roundtrip",
     "OSError: [WinError 206] The filename or extension is too long"),
    ("tests/platform/test_signals.py", "TestShutdown", "test_sigterm_flushes_queue",
     "AttributeError: module 'signal' has no attribute 'SIGKILL'"),
)  # fmt: skip


@dataclass
class Test:
    file: str
    classname: str
    name: str
    label: str = "stable"  # stable, flaky, broken, platform, skipped
    probability: float = 0.0  # flaky: failure probability per execution
    retries: bool = False  # flaky: runs under an in-run retry plugin
    span: tuple[int, int] = (0, 0)  # broken / platform: failing on commits [start, end)
    message: str = ""
    seconds: float = 0.1

    @property
    def node_id(self) -> str:
        return f"{self.file}::{self.classname.rpartition('.')[2]}::{self.name}"


@dataclass(frozen=True)
class Event:
    """One flaky failure that happened in the simulation (ground truth for diagnostics)."""

    commit: int
    attempt: int
    job: str
    rescued: bool  # passed on an in-run retry
    outage: bool  # in an outage attempt (the detector sets those aside)


@dataclass
class Case:
    test: Test
    outcome: str  # passed, failed, skipped
    message: str = ""
    retry_messages: list[str] = field(default_factory=list)
    rerun_failed: bool = False  # retries all failed: rerunFailure children


@dataclass(frozen=True)
class Report:
    commit: int
    attempt: int
    job: str
    cases: list[Case]

    @property
    def failed(self) -> bool:
        return any(c.outcome == "failed" for c in self.cases)


@dataclass
class History:
    tests: list[Test]
    shas: list[str]
    times: list[datetime]
    reports: list[Report]
    outage_commits: list[int]
    events: dict[str, list[Event]]
    reruns: int = 0


def flakeflagger_probabilities(path: Path) -> list[float]:
    with path.open(newline="", encoding="utf-8") as stream:
        rows = [row for row in csv.DictReader(stream) if row["IsFlaky"].strip() == "1"]
    found = []
    for row in rows:
        failing, passing = int(row["NumFailingRuns"]), int(row["NumPassingRuns"])
        if failing + passing:
            found.append(failing / (failing + passing))
    return sorted(found)


def make_tests(rng: random.Random, size: Size) -> list[Test]:
    seen: set[str] = set()
    tests: list[Test] = []
    while len(tests) < size.tests - len(PLATFORM_TESTS):
        area, module = rng.choice(AREAS), rng.choice(MODULES)
        cls, name = rng.choice(CLASSES), f"test_{rng.choice(VERBS)}_{rng.choice(NOUNS)}"
        if rng.random() < 0.15:
            name += f"[case{rng.randrange(1, 6)}]"
        file = f"tests/{area}/test_{module}.py"
        classname = f"tests.{area}.test_{module}.Test{module.capitalize()}{cls}"
        test = Test(file, classname, name, seconds=rng.lognormvariate(-2.5, 1.2))
        if test.node_id not in seen:
            seen.add(test.node_id)
            tests.append(test)
    for file, cls, name, message in PLATFORM_TESTS:
        module = file[:-3].replace("/", ".")
        tests.append(Test(file, f"{module}.{cls}", name, "platform", message=message))
    return sorted(tests, key=lambda t: t.node_id)


def assign_labels(
    rng: random.Random, tests: list[Test], size: Size, rates: list[float], floor: float
) -> None:
    pool = [t for t in tests if t.label == "stable"]
    rng.shuffle(pool)
    flaky, pool = pool[: size.flaky], pool[size.flaky :]
    broken, pool = pool[:3], pool[3:]
    skipped = pool[: size.skipped]
    for index, test in enumerate(flaky):
        test.label = "flaky"
        test.probability = max(floor, rng.choice(rates))
        test.retries = index % 3 == 0
        test.message = rng.choice(FLAKY_MESSAGES)
    n = size.commits
    for test in broken:
        test.label = "broken"
        start = rng.randrange(max(3, n // 10), n - 10)
        test.span = (start, start + rng.randint(3, 8))
        test.message = f"AssertionError: expected {rng.choice(NOUNS)!r} to be preserved"
    platform = [t for t in tests if t.label == "platform"]
    platform[0].span = (0, n)  # windows fails the whole history
    platform[1].span = (n // 3, 2 * n // 3)  # windows breaks at n/3, fixed at 2n/3
    for test in skipped:
        test.label = "skipped"


def flaky_message(rng: random.Random, template: str) -> str:
    return template.format(
        ms=rng.randint(2000, 9000), a=rng.randint(1, 9), b=rng.randint(1, 9),
        port=rng.randint(20000, 60000),
    )  # fmt: skip


def execute(
    rng: random.Random,
    tests: list[Test],
    commit: int,
    attempt: int,
    job: str,
    outage: set[str] | None,
    events: dict[str, list[Event]],
) -> Report:
    cases = []
    for test in tests:
        if test.label == "skipped":
            cases.append(Case(test, "skipped", "requires a GPU runner"))
            continue
        failing = test.label == "broken" or (test.label == "platform" and job == "windows")
        if failing and test.span[0] <= commit < test.span[1]:
            cases.append(Case(test, "failed", test.message))
            continue
        if test.label == "flaky" and rng.random() < test.probability:
            message = flaky_message(rng, test.message)
            case = Case(test, "failed", message)
            if test.retries:
                retry_messages = [message]
                for _ in range(IN_RUN_RETRIES):
                    if rng.random() >= test.probability:
                        case = Case(test, "passed", "", retry_messages)
                        break
                    retry_messages.append(flaky_message(rng, test.message))
                else:
                    case = Case(test, "failed", retry_messages[-1], retry_messages[:-1], True)
            # In an outage attempt the detector sets every result aside, so no evidence.
            events[test.node_id].append(
                Event(commit, attempt, job, case.outcome == "passed", outage is not None)
            )
            if outage is None or test.node_id not in outage:
                cases.append(case)
                continue
        if outage is not None and test.node_id in outage:
            cases.append(Case(test, "failed", OUTAGE_MESSAGE))
            continue
        cases.append(Case(test, "passed"))
    return Report(commit, attempt, job, cases)


def simulate(rng: random.Random, size: Size, rates: list[float], floor: float) -> History:
    tests = make_tests(rng, size)
    assign_labels(rng, tests, size, rates, floor)
    n = size.commits
    gap = timedelta(days=DAYS) / n
    times = [START + gap * (c + rng.uniform(-0.4, 0.4)) for c in range(n)]
    shas = [f"{rng.getrandbits(160):040x}" for _ in range(n)]
    outage_commits = sorted(rng.sample(range(2, n - 2), 2))
    events: dict[str, list[Event]] = {t.node_id: [] for t in tests}
    runnable = [t.node_id for t in tests if t.label != "skipped"]
    history = History(tests, shas, times, [], outage_commits, events)
    for commit in range(n):
        outage = None
        if commit in outage_commits:
            outage = set(rng.sample(runnable, round(OUTAGE_SHARE * len(runnable))))
        first = [execute(rng, tests, commit, 1, job, outage, events) for job in JOBS]
        history.reports += first
        failed_jobs = [r.job for r in first if r.failed]
        if failed_jobs and (outage is not None or rng.random() < RERUN_PROBABILITY):
            history.reruns += 1
            history.reports += [
                execute(rng, tests, commit, 2, job, None, events) for job in failed_jobs
            ]
    return history


# --- JUnit ---------------------------------------------------------------------------------


def junit_xml(rng: random.Random, report: Report, started: datetime) -> str:
    lines = []
    for case in report.cases:
        test = case.test
        seconds = test.seconds * rng.uniform(0.8, 1.3)
        head = (
            f"    <testcase classname={quoteattr(test.classname)} name={quoteattr(test.name)} "
            f'file="{test.file}" time="{seconds:.3f}"'
        )
        body = []
        for message in case.retry_messages:
            tag = "rerunFailure" if case.rerun_failed else "flakyFailure"
            body.append(
                f'<{tag} message={quoteattr(message)} type="AssertionError">'
                f"<stackTrace>{escape(message)}</stackTrace></{tag}>"
            )
        if case.outcome == "failed":
            where = f"{test.file}:{rng.randint(10, 400)}: {case.message.split(':')[0]}"
            body.append(
                f"<failure message={quoteattr(case.message)}>"
                f"{escape(case.message)}\n{escape(where)}</failure>"
            )
        elif case.outcome == "skipped":
            body.append(f'<skipped type="pytest.skip" message={quoteattr(case.message)}/>')
        lines.append(f"{head}>{''.join(body)}</testcase>" if body else f"{head}/>")
    counts = Counter(c.outcome for c in report.cases)
    total = sum(c.test.seconds for c in report.cases)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<testsuites>\n'
        f'  <testsuite name="pytest" errors="0" failures="{counts["failed"]}" '
        f'skipped="{counts["skipped"]}" tests="{len(report.cases)}" time="{total:.3f}" '
        f'timestamp="{started.isoformat()}" hostname="{report.job}-runner-'
        f'{rng.randint(1, 40)}">\n' + "\n".join(lines) + "\n  </testsuite>\n</testsuites>\n"
    )


# --- the CLI, in-process -------------------------------------------------------------------


class Cli:
    def __init__(self, directory: Path, now: datetime) -> None:
        db = directory / "bench.db"
        self.world = World(
            env={"PILOTHOUSE_DB": f"sqlite:///{db}"}, cwd=directory, clock=lambda: now
        )

    def json(self, args: list[str]) -> Any:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run(args, world=self.world)
        if code != 0:
            raise RuntimeError(f"pilothouse {' '.join(args)} exited {code}: {err.getvalue()}")
        return json.loads(out.getvalue())


def run_id(commit: int) -> str:
    return str(7_100_000_000 + commit * 37)


def started_at(history: History, report: Report) -> datetime:
    at = history.times[report.commit] + timedelta(minutes=2)
    if report.attempt > 1:  # someone notices the red run and re-runs it
        at += timedelta(minutes=40 + (report.commit * 17) % 80)
    return at


def ingest(cli: Cli, rng: random.Random, history: History, directory: Path) -> tuple[int, int]:
    cases = duplicates = 0
    path = directory / "report.xml"
    for report in history.reports:
        started = started_at(history, report)
        path.write_text(junit_xml(rng, report, started), encoding="utf-8")
        counts = cli.json(
            [
                "ingest", "junit", str(path), "--run-id", run_id(report.commit),
                "--attempt", str(report.attempt), "--commit", history.shas[report.commit],
                "--job", report.job, "--started", started.isoformat(), "--json",
            ]
        )  # fmt: skip
        cases += counts["tests"]
        duplicates += counts["duplicates"]
    return cases, duplicates


# --- evaluation ----------------------------------------------------------------------------


def quantiles(values: Sequence[float]) -> str:
    ordered = sorted(values)

    def q(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * (len(ordered) - 1) + 0.5))]

    parts = [f"p{int(p * 100)} {q(p):.4%}" for p in (0.1, 0.25, 0.5, 0.75, 0.9)]
    return (
        f"n={len(ordered)} min {ordered[0]:.4%}, " + ", ".join(parts) + f", max {ordered[-1]:.4%}"
        f", mean {statistics.fmean(ordered):.4%}"
    )


def describe_events(history: History, events: list[Event]) -> str:
    n = len(history.shas)
    ran_attempt_2 = {(r.commit, r.job) for r in history.reports if r.attempt == 2}
    parts = []
    for e in events:
        what = "passed on in-run retry" if e.rescued else "failed"
        note = " [outage attempt]" if e.outage else ""
        if not e.rescued and e.attempt == 1 and not e.outage:
            note += " re-run" if (e.commit, e.job) in ran_attempt_2 else " no re-run"
        parts.append(f"commit {e.commit + 1}/{n} attempt {e.attempt} {e.job} {what}{note}")
    return "; ".join(parts)


def ratio(a: int, b: int) -> float:
    return a / b if b else math.nan


def evaluate(history: History, report: dict[str, Any]) -> None:
    by_id = {t.node_id: t for t in history.tests}
    labels = Counter(t.label for t in history.tests)
    print("labels: " + ", ".join(f"{k} {labels[k]}" for k in sorted(labels)))
    flaky = [t for t in history.tests if t.label == "flaky"]
    real = {t: [e for e in history.events[t] if not e.outage] for t in by_id}
    manifest = {t.node_id for t in flaky if real[t.node_id]}
    print(
        f"flaky tests that failed at least once (outside outage attempts): {len(manifest)} of "
        f"{len(flaky)} (in-run-retry flaky tests: {sum(t.retries for t in flaky)})"
    )
    reported = {f["test"] for f in report["flaky"]}
    broken_reported = {b["test"]: b for b in report["broken"]}
    platform_reported = {(p["test"], p["job"]) for p in report["platform"]}
    tp = reported & {t.node_id for t in flaky}
    fp = sorted(reported - {t.node_id for t in flaky})
    fn = sorted(manifest - reported)
    precision = ratio(len(tp), len(reported))
    recall = ratio(len(manifest & reported), len(manifest))
    print(f"reported flaky: {len(reported)}; true positives {len(tp)}")
    met = {True: "met", False: "NOT met"}
    print(
        f"precision {precision:.3f} (goal >= {PRECISION_GOAL}) {met[precision >= PRECISION_GOAL]}"
    )
    print(
        f"recall    {recall:.3f} (goal >= {RECALL_GOAL}, over flaky tests that failed) "
        f"{met[recall >= RECALL_GOAL]}"
    )
    print(f"false positives: {len(fp)}")
    for test_id in fp:
        test = by_id.get(test_id)
        entry = next(f for f in report["flaky"] if f["test"] == test_id)
        kinds = Counter(e["kind"] for e in entry["evidence"])
        print(
            f"  FP {test_id} label={test.label if test else 'unknown'} score={entry['score']} "
            f"failures={entry['failures']}/{entry['runs']} "
            f"evidence (last {len(entry['evidence'])} the CLI shows)={dict(sorted(kinds.items()))}"
        )
    print(f"false negatives: {len(fn)}")
    for test_id in fn:
        test = by_id[test_id]
        also = []
        if test_id in broken_reported:
            also.append("reported broken")
        print(
            f"  FN {test_id} label=flaky p={test.probability:.4%} "
            f"retries={'in-run' if test.retries else 'none'} failed {len(real[test_id])} time(s)"
            + (f" ({', '.join(also)})" if also else "")
        )
        print(f"     history: {describe_events(history, real[test_id])}")
    print("regressions:")
    for test in (t for t in history.tests if t.label == "broken"):
        start, end = test.span
        found = broken_reported.get(test.node_id)
        verdict = "NOT under broken"
        if found is not None:
            same = found["first_commit"] == history.shas[start]
            verdict = (
                f"under broken, first commit {'matches' if same else 'DIFFERS'}, "
                f"status {found['status']}, {found['failures']} failures"
            )
        flagged = " ALSO called flaky" if test.node_id in reported else ""
        print(
            f"  {test.node_id} commits {start + 1}..{end} (fixed at {end + 1}): {verdict}{flagged}"
        )
    regressions = {t.node_id for t in history.tests if t.label == "broken"}
    for other in sorted(set(broken_reported) - regressions):
        found = broken_reported[other]
        label = by_id[other].label if other in by_id else "?"
        flagged = ", also called flaky" if other in reported else ""
        print(
            f"  also under broken: {other} (label {label}, {found['failures']} failures{flagged})"
        )
    print("outages:")
    found_outages = {(o["run"], o["attempt"]): o for o in report["outages"]}
    for commit in history.outage_commits:
        outage = found_outages.get((run_id(commit), 1))
        verdict = (
            f"found ({outage['failed']}/{outage['tests']} failed, {outage['message']!r})"
            if outage
            else "NOT found"
        )
        print(f"  run {run_id(commit)} attempt 1 (commit {commit + 1}): {verdict}")
    extra = sorted(set(found_outages) - {(run_id(c), 1) for c in history.outage_commits})
    if extra:
        print(f"  unexpected outages: {extra}")
    print("platform tests:")
    for test in (t for t in history.tests if t.label == "platform"):
        start, end = test.span
        whole = (start, end) == (0, len(history.shas))
        span = "whole history" if whole else f"commits {start + 1}..{end}"
        on_windows = (test.node_id, "windows") in platform_reported
        platform = "reported platform-only on windows" if on_windows else "not platform-only"
        flaky_verdict = "CALLED FLAKY" if test.node_id in reported else "not called flaky"
        print(f"  {test.node_id} (windows fails, {span}): {flaky_verdict}; {platform}")
    ok = not any(t.node_id in reported for t in history.tests if t.label == "platform")
    print(f"no platform test called flaky: {'yes' if ok else 'NO'}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1, help="Seed of the simulated history.")
    parser.add_argument("--quick", action="store_true", help="120 tests, 50 commits.")
    parser.add_argument("--rates", type=Path, default=RATES_CSV, help="FlakeFlagger CSV.")
    parser.add_argument(
        "--floor", type=float, default=0.003, help="Least failure probability of a flaky test."
    )
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL
    rng = random.Random(args.seed)

    rates = flakeflagger_probabilities(args.rates)
    print(f"FlakeFlagger flaky rows, failure probability per run: {quantiles(rates)}")
    under_1 = sum(p < 0.01 for p in rates) / len(rates)
    under_floor = sum(p < args.floor for p in rates) / len(rates)
    print(f"  share under 1 %: {under_1:.0%}, under {args.floor:.1%} (floored): {under_floor:.0%}")
    history = simulate(rng, size, rates, args.floor)
    used = [t.probability for t in history.tests if t.label == "flaky"]
    print(f"flaky tests, probability used (floored at {args.floor:.1%}): {quantiles(used)}")
    print("  " + ", ".join(f"{p:.2%}" for p in sorted(used)))
    attempts = Counter(r.attempt for r in history.reports)
    print(
        f"history: seed {args.seed}, {len(history.tests)} tests, {size.commits} commits over "
        f"{DAYS} days, jobs {'/'.join(JOBS)}, {history.reruns} runs re-run as attempt 2, "
        f"{attempts[1]} + {attempts[2]} reports (attempt 1 + 2)"
    )

    now = START + timedelta(days=DAYS + 1)
    with tempfile.TemporaryDirectory(prefix="pilothouse-flaky-") as tmp:
        directory = Path(tmp)
        cli = Cli(directory, now)
        began = time.perf_counter()
        cases, duplicates = ingest(cli, rng, history, directory)
        ingest_seconds = time.perf_counter() - began
        began = time.perf_counter()
        report = cli.json(["flaky", "--json", "--window", str(WINDOW_DAYS)])
        detect_seconds = time.perf_counter() - began
    print(
        f"ingested {len(history.reports)} reports, {cases} testcases in {ingest_seconds:.1f} s "
        f"({duplicates} duplicates); flaky --json --window {WINDOW_DAYS} took "
        f"{detect_seconds:.1f} s"
    )
    print(
        f"detector output: {len(report['flaky'])} flaky, {len(report['broken'])} broken, "
        f"{len(report['platform'])} platform-only, {len(report['outages'])} outages"
    )
    evaluate(history, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
