"""Records that flow from sources to the store and from the store to analysis.

They are plain frozen dataclasses: no database handles, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal, NamedTuple

Outcome = Literal["passed", "failed", "error", "skipped"]
OUTCOMES: tuple[Outcome, ...] = ("passed", "failed", "error", "skipped")

# Failure messages and stack traces can be megabytes; the store keeps the head.
MAX_MESSAGE_CHARS = 4000


def truncate_message(text: str, limit: int = MAX_MESSAGE_CHARS, *, more: int = 0) -> str:
    """Keep the first *limit* characters of *text* and say how much was cut,
    counting *more* characters that followed *text* but were never held.

    >>> truncate_message("abcdef", 4), truncate_message("abcdef", 4, more=10)
    ('abcd… [2 more chars]', 'abcd… [12 more chars]')
    """
    if len(text) <= limit and not more:
        return text
    return f"{text[:limit]}… [{max(len(text) - limit, 0) + more} more chars]"


@dataclass(frozen=True, slots=True)
class Retry:
    """One earlier failed attempt of a test, as Surefire and nextest record them."""

    kind: Literal["flakyFailure", "flakyError", "rerunFailure", "rerunError"]
    message: str
    duration: float | None


class TestCase(NamedTuple):
    """One `<testcase>` of a JUnit report, with its outcome decided.

    A NamedTuple rather than a frozen dataclass: ingest makes hundreds of
    thousands of these per second and tuple construction is the cheapest.
    """

    suite: str
    classname: str
    name: str
    file: str
    duration: float | None
    outcome: Outcome
    message: str = ""
    retries: tuple[Retry, ...] = ()


@dataclass(frozen=True, slots=True)
class RunInfo:
    """Where a batch of reports came from: the CI run, attempt and job."""

    provider: str
    repository: str
    run_key: str
    attempt: int = 1
    workflow: str | None = None
    event: str | None = None
    branch: str | None = None
    commit: str | None = None
    job: str | None = None
    created_at: datetime | None = None
    # What reports alone rarely know, but a caller may (the sample history does).
    started_at: datetime | None = None
    finished_at: datetime | None = None
    job_started_at: datetime | None = None
    job_finished_at: datetime | None = None
    runner_labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IngestCounts:
    """What one `ingest junit` invocation read, counted per testcase."""

    files: int = 0
    tests: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    duplicates: int = 0
    invalid: tuple[str, ...] = ()  # bad reports skipped (with --skip-invalid), one line each
    warnings: tuple[str, ...] = ()  # what was read in an unusual way, one line each

    def as_dict(self) -> dict[str, int]:
        return {
            "files": self.files,
            "tests": self.tests,
            "passed": self.passed,
            "failed": self.failed,
            "errors": self.errors,
            "skipped": self.skipped,
            "duplicates": self.duplicates,
        }


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if start and end else None


@dataclass(frozen=True, slots=True)
class JobSummary:
    name: str
    conclusion: str | None
    attempt: int
    runner_labels: tuple[str, ...] = ()
    started_at: datetime | None = None
    finished_at: datetime | None = None
    created_at: datetime | None = None
    status: str | None = None
    runner_name: str | None = None

    @property
    def queued_seconds(self) -> float | None:
        """The real wait for a runner: from the job's creation to its start."""
        return _seconds(self.created_at, self.started_at)

    @property
    def duration_seconds(self) -> float | None:
        return _seconds(self.started_at, self.finished_at)


@dataclass(frozen=True, slots=True)
class AttemptSummary:
    attempt: int
    status: str | None
    conclusion: str | None
    started_at: datetime | None
    finished_at: datetime | None
    tests: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A stored pipeline run as the `runs` report shows it."""

    id: str
    provider: str
    repository: str
    workflow: str | None
    commit: str | None
    branch: str | None
    attempt: int
    status: str | None
    conclusion: str | None
    created_at: datetime | None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    html_url: str | None = None
    tests: int = 0
    failed: int = 0
    attempts: tuple[AttemptSummary, ...] = ()
    jobs: tuple[JobSummary, ...] = field(default_factory=tuple)

    @property
    def duration_seconds(self) -> float | None:
        return _seconds(self.started_at, self.finished_at)


class HistoryRow(NamedTuple):
    """One stored test result with the run, attempt, job and commit it came from."""

    classname: str
    name: str
    file: str
    suite: str
    run_key: str
    attempt: int
    job: str | None
    commit: str | None
    created_at: datetime | None
    outcome: Outcome
    retries: int
    message: str
    report: int = 0  # with ordinal, the result's place in its run: the order of equal times
    ordinal: int = 0


class TestResultRow(NamedTuple):
    """One stored result of one test, for its history page: where and when it ran, how
    long it took, what it said."""

    file: str
    run_key: str
    attempt: int
    job: str | None
    commit: str | None
    created_at: datetime | None
    outcome: Outcome
    duration: float | None
    message: str


class SuiteTally(NamedTuple):
    """How many results of one suite one run attempt holds, and how many were executed,
    passed and failed (counted in SQL): what `flaky` needs of the tests that never failed."""

    run_id: int
    run_key: str
    attempt: int
    commit: str | None
    created_at: datetime
    suite: str
    first_report: int | None  # the first report with an executed result (None: all skipped)
    results: int
    executed: int
    passed: int
    failed: int


class TestObservation(NamedTuple):
    """One stored result of one test, the input of per-test analysis."""

    classname: str
    name: str
    file: str
    outcome: Outcome
    duration: float | None
    created_at: datetime | None


# Not pytest classes, despite their names.
TestCase.__test__ = False  # type: ignore[attr-defined]
TestObservation.__test__ = False  # type: ignore[attr-defined]
TestResultRow.__test__ = False  # type: ignore[attr-defined]


# -- CI provider records (GitHub Actions sync) --------------------------------


@dataclass(frozen=True, slots=True)
class RunAttempt:
    """One attempt of a workflow run, as the CI provider reports it."""

    run_key: str
    attempt: int
    workflow: str | None
    workflow_key: str | None
    run_number: int | None
    event: str | None
    branch: str | None
    commit: str | None
    status: str | None
    conclusion: str | None
    created_at: datetime | None
    started_at: datetime | None
    updated_at: datetime | None
    html_url: str | None = None

    @property
    def finished_at(self) -> datetime | None:
        """A completed run's last update is when it finished."""
        return self.updated_at if self.status == "completed" else None


@dataclass(frozen=True, slots=True)
class StepRecord:
    number: int
    name: str
    status: str | None
    conclusion: str | None
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job of one run attempt, with its steps and the runner it ran on."""

    job_key: str
    run_key: str
    attempt: int
    name: str
    status: str | None
    conclusion: str | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    runner_labels: tuple[str, ...] = ()
    runner_name: str | None = None
    steps: tuple[StepRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class ArtifactRecord:
    artifact_key: str
    run_key: str | None
    name: str
    size_bytes: int
    digest: str | None
    expired: bool
    created_at: datetime | None
    expires_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class WorkflowRecord:
    workflow_key: str
    name: str
    path: str
    state: str
    created_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class RunArtifacts:
    """The artifacts one run uploaded, summed (the scorecard's artifact_size)."""

    repository_id: int
    run_key: str
    workflow: str
    created_at: datetime
    total_bytes: int
    count: int


@dataclass(frozen=True, slots=True)
class WorkflowActivity:
    """A registered workflow, its state, and how many runs it had in a window."""

    name: str
    path: str
    state: str
    runs: int


@dataclass(frozen=True, slots=True)
class CacheUsage:
    active_caches_count: int
    active_caches_size_bytes: int


# -- costs ----------------------------------------------------------------------------------


class CostLine(NamedTuple):  # a tuple: exports make hundreds of thousands, 3x faster to build
    """One priced line of a billing export or usage log, in its own currency.

    *line_key* identifies the line within its source, so ingesting the same
    export twice adds nothing. Money is a Decimal and never leaves its currency.
    """

    source: str  # focus | cur | github-usage | bedrock-log | actions-minutes
    line_key: str
    day: date
    service: str
    amount: Decimal
    currency: str
    category: str | None = None  # Usage, Tax, Purchase, Credit, Adjustment ...
    resource: str | None = None
    region: str | None = None
    account: str | None = None
    sku: str | None = None
    quantity: Decimal | None = None
    unit: str | None = None
    repository: str | None = None
    workflow: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    tags: tuple[tuple[str, str], ...] = ()
    billing_period: date | None = None  # first day of the billing period (CUR, FOCUS)


class CargoUnit(NamedTuple):
    """One unit of a cargo build (a package's target in one mode), from its
    `compiler-artifact` message, or a build script run from the timings."""

    name: str
    version: str
    source: str  # path, registry, sparse, git, local-registry, directory (unknown)
    member: bool  # a path package of the workspace being built
    package_id: str
    target_kind: str  # lib, bin, proc-macro, custom-build, test, example...
    target_name: str
    mode: str  # build, check, test, run-custom-build
    profile: str  # opt-level, debuginfo and checks, as one comparable string
    features: str  # sorted, comma-separated
    fresh: bool  # cargo reused it; False: compiled (or run) in this build
    build_script: bool  # its package has a build script in this build
    seconds: float | None  # from timings, when given (only built units are timed)


@dataclass(frozen=True, slots=True)
class CargoBuild:
    """What one cargo JSON output held."""

    units: tuple[CargoUnit, ...]
    success: bool | None  # build-finished, when the output reached it
    warnings: int = 0
    errors: int = 0


@dataclass(frozen=True, slots=True)
class CrateRebuilds:
    """How often one crate was rebuilt over a window of runs, and why it may be."""

    name: str
    version: str
    member: bool
    source: str
    runs_rebuilt: int
    runs_seen: int
    seconds: float | None
    causes: tuple[tuple[str, str], ...]  # (cause, evidence)

    @property
    def rebuild_rate(self) -> float:
        return self.runs_rebuilt / self.runs_seen if self.runs_seen else 0.0


# -- caches (job logs) ----------------------------------------------------------------------

CacheKind = Literal["hit", "partial", "miss", "saved", "save_failed", "compiler"]
RESTORE_KINDS: tuple[CacheKind, ...] = ("hit", "partial", "miss")


@dataclass(frozen=True, slots=True)
class CacheEvent:
    """One cache outcome read from a CI job log.

    *kind*: a restore that hit the primary key exactly (``hit``), hit a restore key
    (``partial``) or found nothing (``miss``); a save (``saved``, ``save_failed``);
    or a compiler cache's counters (``compiler``: sccache, ccache, cargo's fresh
    units), whose *hits* and *misses* count compilations, not restores.
    *key_prefix* is the key's family: the key without its variable tail
    (``Linux-cargo-`` for ``Linux-cargo-3f2a...``), or the tool and package manager
    for the setup-* actions, whose keys the log does not show on a miss.
    """

    line: int  # 1-based line of the log that decided the event
    tool: str  # actions/cache, rust-cache, setup-python, ..., sccache, ccache, cargo
    kind: CacheKind
    key_prefix: str
    key: str | None = None
    step: str | None = None
    at: datetime | None = None
    seconds: float | None = None  # restore or save duration, from the log's timestamps
    size_bytes: int | None = None
    hits: int = 0
    misses: int = 0
    language: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class CacheCounts:
    """Cache restores of a set of jobs: the scorecard's ``cache_hit_rate`` input."""

    exact_hits: int = 0
    partial_hits: int = 0
    misses: int = 0

    @property
    def restores(self) -> int:
        return self.exact_hits + self.partial_hits + self.misses

    @property
    def hit_rate(self) -> float | None:
        """Exact-key hits per restore; None without restores."""
        return self.exact_hits / self.restores if self.restores else None


@dataclass(frozen=True, slots=True)
class CacheGroup:
    """Cache events of one workflow, job name, key family, tool and kind, summed in SQL."""

    workflow: str | None
    job: str
    key_prefix: str
    tool: str
    kind: str
    events: int
    hits: int
    misses: int
    seconds: float | None  # mean restore/save time where the log showed it
    job_seconds: float | None  # mean wall time of the jobs, from their logs' timestamps


# -- the Pipelines and Infrastructure pages (store/pipelines.py) ---------------------------


class AttemptTimes(NamedTuple):
    """One run attempt of a window: what the Pipelines page aggregates per workflow."""

    repository_id: int
    run_key: str
    attempt: int
    workflow: str | None
    status: str | None
    conclusion: str | None
    created_at: datetime
    seconds: float | None  # started to finished


class JobTimes(NamedTuple):
    """One job of a window's runs: its wait for a runner and its run time."""

    workflow: str | None
    name: str
    runner_labels: str  # JSON list, as stored
    created_at: datetime | None
    queued_seconds: float | None  # created to started
    seconds: float | None  # started to finished


class StepTimes(NamedTuple):
    """One step of a window's jobs."""

    workflow: str | None
    job: str
    name: str
    seconds: float | None


class RepositorySync(NamedTuple):
    """What the store knows of one repository's syncs."""

    provider: str
    repository: str
    synced_at: datetime | None  # the last complete sync
    cursor: datetime | None  # runs created before it are stored
    runs: int
    last_run_at: datetime | None
    unfinished_runs: int  # stored while queued or running, not finished since
    expired_logs: int  # job logs the sync found expired


@dataclass(frozen=True, slots=True)
class Baseline:
    """What a workflow's runs on a branch measured over a window (`ci baseline`): the
    reference the scorecard compares with. Times in seconds; counts, not ratios, so the
    baselines of several workflows add up exactly."""

    workflow: str
    branch: str
    since: datetime
    until: datetime
    taken_at: datetime
    runs: int
    duration_p50: float | None
    duration_p90: float | None
    queue_jobs: int
    queue_p50: float | None
    queue_p90: float | None
    cache_restores: int
    cache_hits: int
    tests_executed: int
    tests_passed: int

    @property
    def cache_hit_percent(self) -> float | None:
        return 100 * self.cache_hits / self.cache_restores if self.cache_restores else None

    @property
    def pass_percent(self) -> float | None:
        return 100 * self.tests_passed / self.tests_executed if self.tests_executed else None
