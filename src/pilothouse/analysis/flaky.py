"""Flaky tests: detect, score and explain them from CI history; decide quarantine.

Evidence, strongest first:
1. same code, different outcome: a test failed and passed on the same commit
   (across attempts of one run, or across runs) -- unless the difference is the
   job or platform: failing only in a job where it never passes is a platform
   failure, reported apart;
2. passed on retry inside one run (Surefire flakyFailure, nextest retries,
   pytest-rerunfailures);
3. intermittent: an isolated failing commit between passing ones.

Not flakiness:
- a regression: failing on every run, attempt and job from one commit until a
  fix (two commits or more in a row) is *broken*;
- an outage: a run attempt where most tests fail at once is an infrastructure
  event; its results are set aside.

The score is 1 - prod(1 - w) over the evidence (w = 0.9 same commit, 0.8 retry,
0.6 intermittent), so one strong piece of evidence or several weak ones make a
test flaky; the flip rate comes with a Wilson 95 % interval.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import groupby

from pilothouse.model import Outcome

WEIGHTS = {"same-commit": 0.9, "retry": 0.8, "intermittent": 0.6}
_FAILED = frozenset({"failed", "error"})


@dataclass(frozen=True, slots=True)
class Result:
    """One stored result of one test with where it ran: the input of detection."""

    test: str
    suite: str
    run: str
    attempt: int
    job: str
    commit: str
    at: datetime
    outcome: Outcome
    retries: int = 0
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.outcome in _FAILED


@dataclass(frozen=True, slots=True)
class Thresholds:
    min_runs: int = 5
    score: float = 0.5
    outage_fraction: float = 0.5
    outage_min_tests: int = 20
    quarantine_clean_runs: int = 20


@dataclass(frozen=True, slots=True)
class Evidence:
    kind: str
    run: str
    attempt: int
    job: str
    commit: str
    at: datetime
    message: str = ""


@dataclass(frozen=True, slots=True)
class Outage:
    run: str
    attempt: int
    at: datetime
    failed: int
    tests: int
    message: str


@dataclass(frozen=True, slots=True)
class Broken:
    test: str
    first_commit: str
    first_seen: datetime
    last_seen: datetime
    failures: int
    fixed: bool
    message: str


@dataclass(frozen=True, slots=True)
class Platform:
    test: str
    job: str
    failures: int
    message: str


@dataclass(frozen=True, slots=True)
class Flaky:
    test: str
    score: float
    failures: int
    runs: int
    flip_rate: float
    flip_rate_low: float
    flip_rate_high: float
    first_seen: datetime
    last_seen: datetime
    clean_runs_since: int
    evidence: tuple[Evidence, ...]
    messages: tuple[tuple[str, int], ...]


@dataclass
class Report:
    flaky: list[Flaky] = field(default_factory=list)
    broken: list[Broken] = field(default_factory=list)
    platform: list[Platform] = field(default_factory=list)
    outages: list[Outage] = field(default_factory=list)
    candidates: list[Flaky] = field(default_factory=list)  # evidence below the threshold


def wilson(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion.

    >>> [round(x, 3) for x in wilson(1, 100)]
    [0.002, 0.054]
    """
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - spread), min(1.0, centre + spread)


_NUMBER = re.compile(r"0x[0-9a-fA-F]+|\d+(\.\d+)?")
_SPACE = re.compile(r"\s+")


def message_key(message: str) -> str:
    """A failure message with its varying parts folded, for clustering.

    >>> message_key("timed out after 5021 ms at 0x7ffd")
    'timed out after N ms at N'
    """
    first = message.strip().splitlines()[0] if message.strip() else ""
    return _SPACE.sub(" ", _NUMBER.sub("N", first))[:200]


def cluster_messages(messages: Iterable[str], top: int = 3) -> tuple[tuple[str, int], ...]:
    """The *top* clusters of similar messages, largest first, each shown by its most
    common real first line (numbers are folded to group, never in what is shown).

    >>> cluster_messages(["port 5432 refused", "port 5433 refused"])
    (('port 5432 refused', 2),)
    """
    clusters: dict[str, Counter[str]] = defaultdict(Counter)
    for message in messages:
        if message.strip():
            first = _SPACE.sub(" ", message.strip().splitlines()[0])
            clusters[message_key(message)][first] += 1
    largest = sorted(clusters.values(), key=lambda c: -c.total())[:top]
    return tuple((lines.most_common(1)[0][0], lines.total()) for lines in largest)


# -- counts per run attempt, day and suite -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tally:
    """How many results of one suite one run attempt holds, and how many were executed,
    passed and failed: all that outages and pass rates need of the tests that never failed.
    *first* orders attempts that have the same time (the earliest executed result)."""

    run: str
    attempt: int
    commit: str
    at: datetime
    suite: str
    first: int | None
    executed: int
    passed: int
    failed: int


@dataclass(slots=True)
class _Attempt:
    first: tuple[datetime, int, int]  # its earliest executed result: (time, attempt, place)
    commit: str
    executed: int = 0
    passed: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class PassTally:
    """Results passed out of those executed (skipped ones are not executed)."""

    passed: int
    executed: int

    @property
    def rate(self) -> float | None:
        return self.passed / self.executed if self.executed else None


@dataclass
class Totals:
    """Tallies folded per run attempt (executed results only), per day and per suite
    (executed and passed results): memory bounded by attempts, days and suites."""

    attempts: dict[tuple[str, int], _Attempt] = field(default_factory=dict)
    days: dict[str, list[int]] = field(default_factory=dict)
    suites: dict[str, list[int]] = field(default_factory=dict)

    def add(self, tally: Tally) -> None:
        for group in (
            self.days.setdefault(tally.at.date().isoformat(), [0, 0]),
            self.suites.setdefault(tally.suite, [0, 0]),
        ):
            group[0] += tally.executed
            group[1] += tally.passed
        if tally.first is None:
            return
        first = (tally.at, tally.attempt, tally.first)
        attempt = self.attempts.setdefault(
            (tally.run, tally.attempt), _Attempt(first, tally.commit)
        )
        if first < attempt.first:
            attempt.first, attempt.commit = first, tally.commit
        attempt.executed += tally.executed
        attempt.passed += tally.passed
        attempt.failed += tally.failed


def fold(tallies: Iterable[Tally]) -> Totals:
    totals = Totals()
    for tally in tallies:
        totals.add(tally)
    return totals


def as_tally(result: Result, place: int) -> Tally:
    """One result as a tally of its own; *place* is its position among the results."""
    executed = result.outcome != "skipped"
    return Tally(
        result.run, result.attempt, result.commit, result.at, result.suite,
        place if executed else None, int(executed), int(result.outcome == "passed"),
        int(result.failed),
    )  # fmt: skip


def tallies_of(results: Iterable[Result]) -> Iterator[Tally]:
    """*results* (oldest first) as tallies, one per result."""
    return (as_tally(result, place) for place, result in enumerate(results))


# -- outages ------------------------------------------------------------------------------


def mass_failures(totals: Totals, thresholds: Thresholds) -> list[Outage]:
    """Run attempts where most tests failed at once (message still empty), oldest first."""
    outages = [
        Outage(run, number, attempt.first[0], attempt.failed, attempt.executed, "")
        for (run, number), attempt in totals.attempts.items()
        if attempt.failed >= thresholds.outage_min_tests
        and attempt.failed >= thresholds.outage_fraction * attempt.executed
    ]
    return _without_streaks(sorted(outages, key=lambda o: (o.at, o.run, o.attempt)), totals)


def _without_streaks(candidates: list[Outage], totals: Totals) -> list[Outage]:
    """Mass failures on consecutive run attempts of different commits are a broken
    build (a regression to report), not an infrastructure event to set aside."""
    attempts = totals.attempts
    order = sorted(attempts, key=lambda k: attempts[k].first)
    mass = {(o.run, o.attempt) for o in candidates}
    streak: set[tuple[str, int]] = set()
    for previous, current in zip(order, order[1:], strict=False):
        if (
            previous in mass
            and current in mass
            and attempts[previous].commit != attempts[current].commit
        ):
            streak.update((previous, current))
    return [o for o in candidates if (o.run, o.attempt) not in streak]


def with_messages(
    outages: Sequence[Outage], failures: Iterable[tuple[str, int, str]]
) -> list[Outage]:
    """*outages* with the largest cluster of their failure messages; *failures* are
    (run, attempt, message), attempt after attempt, each in report order."""
    found = {
        key: cluster_messages(message for *_, message in group)
        for key, group in groupby(failures, key=lambda f: (f[0], f[1]))
    }
    return [
        replace(o, message=top[0][0]) if (top := found.get((o.run, o.attempt))) else o
        for o in outages
    ]


def find_outages(results: Sequence[Result], thresholds: Thresholds) -> list[Outage]:
    """Run attempts where most tests failed at once."""
    mass = mass_failures(fold(tallies_of(results)), thresholds)
    keys = {(o.run, o.attempt) for o in mass}
    failures = sorted(
        ((r.run, r.attempt, index, r.message) for index, r in enumerate(results)
         if r.failed and (r.run, r.attempt) in keys),
        key=lambda f: (f[0], f[1], f[2]),
    )  # fmt: skip
    return with_messages(mass, ((run, attempt, message) for run, attempt, _, message in failures))


# -- per test -----------------------------------------------------------------------------


@dataclass
class _Commit:
    commit: str
    results: list[Result]

    @property
    def all_failed(self) -> bool:
        return all(r.failed for r in self.results)

    @property
    def any_failed(self) -> bool:
        return any(r.failed for r in self.results)

    @property
    def any_passed(self) -> bool:
        return any(r.outcome == "passed" for r in self.results)


def _commits(results: Sequence[Result]) -> list[_Commit]:
    """Results grouped by commit, commits in the order they first ran."""
    order: dict[str, _Commit] = {}
    for result in results:
        order.setdefault(result.commit, _Commit(result.commit, [])).results.append(result)
    return list(order.values())


# A stretch of failures is a regression or a platform breakage only if the test is
# otherwise steady: a test that fails this often elsewhere is flaky, and flaky
# tests fail several commits in a row by chance.
STEADY_FAILURE_RATE = 0.05


def _steady_outside(commits: list[_Commit], inside: set[int]) -> bool:
    """Whether the results outside the given result ids rarely fail."""
    outside = [r for c in commits for r in c.results if id(r) not in inside]
    if not outside:
        return True
    return sum(r.failed for r in outside) <= STEADY_FAILURE_RATE * len(outside)


def _platform_stretches(commits: list[_Commit]) -> dict[str, list[Result]]:
    """Per job, the results of stretches (two commits or more in a row where the job ran)
    on which the test failed every time in that job while passing in another job."""
    found: dict[str, list[Result]] = {}
    for job in sorted({r.job for c in commits for r in c.results}):
        marked: list[Result] = []
        stretch: list[Result] = []
        length = 0
        for commit in commits:
            mine = [r for r in commit.results if r.job == job]
            if not mine:
                continue  # the job did not run for this commit: the stretch goes on
            elsewhere = any(r.outcome == "passed" for r in commit.results if r.job != job)
            if elsewhere and all(r.failed for r in mine):
                stretch.extend(mine)
                length += 1
                continue
            if length >= 2:
                marked.extend(stretch)
            stretch, length = [], 0
        if length >= 2:
            marked.extend(stretch)
        if marked and _steady_outside(commits, {id(r) for r in marked}):
            found[job] = marked
    return found


def _evidence(
    commits: list[_Commit], broken_commits: set[str], platform: set[int]
) -> list[Evidence]:
    found: list[Evidence] = []
    for index, commit in enumerate(commits):
        if commit.commit in broken_commits:
            continue
        counted = [r for r in commit.results if id(r) not in platform]
        failing = [r for r in counted if r.failed]
        if failing and any(r.outcome == "passed" for r in counted):
            found.extend(_as_evidence("same-commit", r) for r in failing)
        elif len(failing) == 1 and len(counted) == 1 and 0 < index < len(commits) - 1:
            # One failing result between passing commits. Failing every re-run on
            # its commit would be deterministic for that code: no evidence.
            before, after = commits[index - 1], commits[index + 1]
            if before.any_passed and after.any_passed:
                found.extend(_as_evidence("intermittent", r) for r in failing)
        found.extend(
            _as_evidence("retry", r) for r in counted if r.outcome == "passed" and r.retries
        )
    return found


def _as_evidence(kind: str, result: Result) -> Evidence:
    return Evidence(kind, result.run, result.attempt, result.job, result.commit, result.at,
                    result.message)  # fmt: skip


def _streaks(commits: list[_Commit]) -> list[list[_Commit]]:
    """Runs of two or more consecutive commits on which the test failed everywhere."""
    streaks: list[list[_Commit]] = []
    current: list[_Commit] = []
    for commit in commits:
        if commit.all_failed:
            current.append(commit)
            continue
        if len(current) >= 2:
            streaks.append(current)
        current = []
    if len(current) >= 2:
        streaks.append(current)
    inside = [{id(r) for c in streak for r in c.results} for streak in streaks]
    return [s for s, ids in zip(streaks, inside, strict=True) if _steady_outside(commits, ids)]


def _broken(test: str, streak: list[_Commit], fixed: bool) -> Broken:
    results = [r for c in streak for r in c.results]
    top = cluster_messages(r.message for r in results)
    return Broken(
        test=test,
        first_commit=streak[0].commit,
        first_seen=min(r.at for r in results),
        last_seen=max(r.at for r in results),
        failures=len(results),
        fixed=fixed,
        message=top[0][0] if top else "",
    )


def _clean_runs_since(results: Sequence[Result], last: datetime) -> int:
    return sum(1 for r in results if r.at > last and r.outcome == "passed" and not r.retries)


def analyse_test(
    test: str, results: Sequence[Result], thresholds: Thresholds, report: Report
) -> None:
    """Classify one test's history (results oldest first, outages removed)."""
    executed = [r for r in results if r.outcome != "skipped"]
    if not any(r.failed or r.retries for r in executed):
        return
    commits = _commits(executed)
    streaks = _streaks(commits)
    for streak in streaks:
        report.broken.append(_broken(test, streak, fixed=streak[-1] is not commits[-1]))
    broken_commits = {c.commit for streak in streaks for c in streak}
    unbroken = [c for c in commits if c.commit not in broken_commits]
    platform: set[int] = set()
    for job, failing in _platform_stretches(unbroken).items():
        top = cluster_messages(r.message for r in failing)
        report.platform.append(Platform(test, job, len(failing), top[0][0] if top else ""))
        platform.update(id(r) for r in failing)
    evidence = _evidence(commits, broken_commits, platform)
    if not evidence:
        return
    counted = [r for r in executed if r.commit not in broken_commits and id(r) not in platform]
    # A result counts once, whether it failed, passed on retry, or failed all its retries.
    failures = sum(1 for r in counted if r.failed or r.retries)
    score = 1 - math.prod(1 - WEIGHTS[e.kind] for e in evidence)
    low, high = wilson(failures, len(counted))
    flaky = Flaky(
        test=test,
        score=round(score, 4),
        failures=failures,
        runs=len(counted),
        flip_rate=failures / len(counted) if counted else 0.0,
        flip_rate_low=low,
        flip_rate_high=high,
        first_seen=min(e.at for e in evidence),
        last_seen=max(e.at for e in evidence),
        clean_runs_since=_clean_runs_since(counted, max(e.at for e in evidence)),
        evidence=tuple(evidence),
        messages=cluster_messages(e.message for e in evidence),
    )
    if score >= thresholds.score and len(counted) >= thresholds.min_runs:
        report.flaky.append(flaky)
    else:
        report.candidates.append(flaky)


@dataclass
class Detection:
    """A report, and the executed and passed results of its quarantined tests per day and
    per suite (what pass rates without them subtract)."""

    report: Report
    held: Totals
    held_outside: PassTally = PassTally(0, 0)  # theirs outside outage attempts (the gate)


def detect_histories(
    histories: Iterable[tuple[str, Sequence[Result]]],
    outages: Sequence[Outage],
    thresholds: Thresholds,
) -> Detection:
    """Broken, platform-only and flaky tests from one history per test (tests in any
    order, each oldest first, outages included: they are set aside here). Holds one test's
    history at a time, and what the report keeps."""
    excluded = {(o.run, o.attempt) for o in outages}
    parts: list[tuple[str, Report]] = []
    held = Totals()
    outside = [0, 0]
    for test, results in histories:
        part = Report()
        kept = [r for r in results if (r.run, r.attempt) not in excluded]
        analyse_test(test, kept, thresholds, part)
        if quarantined(part, thresholds):
            for result in results:
                held.add(as_tally(result, 0))
            executed = [r for r in kept if r.outcome != "skipped"]
            outside[0] += sum(r.outcome == "passed" for r in executed)
            outside[1] += len(executed)
        if part.flaky or part.broken or part.platform or part.candidates:
            parts.append((test, part))
    return Detection(_merged(parts, outages), held, PassTally(*outside))


def _merged(parts: list[tuple[str, Report]], outages: Sequence[Outage]) -> Report:
    report = Report(outages=list(outages))
    for _, part in sorted(parts, key=lambda p: p[0]):
        report.flaky += part.flaky
        report.broken += part.broken
        report.platform += part.platform
        report.candidates += part.candidates
    report.flaky.sort(key=lambda f: (-f.score, -f.failures, f.test))
    report.broken.sort(key=lambda b: (b.fixed, b.first_seen, b.test))
    return report


def by_test(results: Iterable[Result]) -> list[tuple[str, list[Result]]]:
    """*results* grouped per test, each group in the order given."""
    grouped: dict[str, list[Result]] = defaultdict(list)
    for result in results:
        grouped[result.test].append(result)
    return list(grouped.items())


def detect(results: Sequence[Result], thresholds: Thresholds) -> Report:
    """Outages, broken, platform-only and flaky tests in *results* (oldest first)."""
    outages = find_outages(results, thresholds)
    return detect_histories(by_test(results), outages, thresholds).report


def quarantined(report: Report, thresholds: Thresholds) -> list[Flaky]:
    """Flaky tests not yet clean for `quarantine_clean_runs` passes in a row."""
    return [f for f in report.flaky if f.clean_runs_since < thresholds.quarantine_clean_runs]


def preview(
    results: Sequence[Result], current: Thresholds, proposed: Thresholds
) -> tuple[list[str], list[str]]:
    """Which tests a change of thresholds would add to, and drop from, the flaky list."""
    before = {f.test for f in detect(results, current).flaky}
    after = {f.test for f in detect(results, proposed).flaky}
    return sorted(after - before), sorted(before - after)


# -- pass rates ---------------------------------------------------------------------------


def _rate(executed: int, passed: int) -> float | None:
    return passed / executed if executed else None


def rates_of(totals: Totals, held: Totals, gate: PassTally) -> dict[str, object]:
    """Pass rate with and without quarantined tests (*held*: their counts), overall (and
    the *gate*'s: without outage attempts either), per day and per suite (every day and
    suite of *totals*, rate None when nothing ran)."""

    def both(all_counts: list[int], held_counts: list[int] | None) -> dict[str, float | None]:
        executed, passed = held_counts or (0, 0)
        return {
            "with_quarantined": _rate(*all_counts),
            "without_quarantined": _rate(all_counts[0] - executed, all_counts[1] - passed),
        }

    overall = [sum(c[0] for c in totals.days.values()), sum(c[1] for c in totals.days.values())]
    kept = [sum(c[0] for c in held.days.values()), sum(c[1] for c in held.days.values())]
    return {
        "overall": {**both(overall, kept), "gate": gate.rate},
        "by_day": [{"day": d, **both(c, held.days.get(d))} for d, c in sorted(totals.days.items())],
        "by_suite": [
            {"suite": s, **both(c, held.suites.get(s))} for s, c in sorted(totals.suites.items())
        ],
    }


def gate_tally(
    results: Iterable[Result], quarantine: set[str], outages: Sequence[Outage]
) -> PassTally:
    """The pass rate a CI gate holds the suite to (the scorecard's test_pass_rate), over
    results in memory: quarantined tests and outage attempts left out."""
    excluded = {(o.run, o.attempt) for o in outages}
    passed = executed = 0
    for result in results:
        if (
            result.outcome == "skipped"
            or result.test in quarantine
            or (result.run, result.attempt) in excluded
        ):
            continue
        executed += 1
        passed += result.outcome == "passed"
    return PassTally(passed, executed)


def gate_of(totals: Totals, detection: Detection) -> PassTally:
    """The gate's tally from a store read's counts: every executed result, less those of
    the outage attempts and those of quarantined tests outside outages."""
    executed = sum(c[0] for c in totals.days.values())
    passed = sum(c[1] for c in totals.days.values())
    for outage in detection.report.outages:
        attempt = totals.attempts[(outage.run, outage.attempt)]
        executed -= attempt.executed
        passed -= attempt.passed
    held = detection.held_outside
    return PassTally(passed - held.passed, executed - held.executed)


def pass_rates(
    results: Sequence[Result], quarantine: set[str], outages: Sequence[Outage] = ()
) -> dict[str, object]:
    """Pass rate with and without quarantined tests: overall (also without outage
    attempts: the gate), per day, per suite."""
    return rates_of(
        fold(tallies_of(results)),
        fold(tallies_of(r for r in results if r.test in quarantine)),
        gate_tally(results, quarantine, outages),
    )
