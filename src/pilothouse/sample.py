"""A deterministic sample history shaped like our first user's CI.

A Rust workspace of about 3,500 tests across 40 crates on GitHub Actions, with
the workflows ci-build, tests-all (4 nextest shards), integration-tests and
release, over 60 days. It holds what real histories hold: a few flaky tests
(some passing on nextest's retry), a few slow ones, a regression that is later
fixed, and one infrastructure outage where the test database was down.

The history is produced as nextest-style JUnit XML, so it reaches the store
through exactly the code that reads real reports. The workflows and the build's
artifacts are the records a GitHub sync stores, stored by the same store calls.
"""

from __future__ import annotations

import functools
import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from xml.sax.saxutils import escape, quoteattr

from pilothouse.model import ArtifactRecord, RunInfo, WorkflowRecord
from pilothouse.sources.junit import ReportFile

REPOSITORY = "hypha-labs/hypha"
DEFAULT_END = date(2026, 11, 27)
CRATES = (
    "hypha-core",
    "hypha-api",
    "hypha-auth",
    "hypha-cli",
    "hypha-config",
    "hypha-db",
    "hypha-migrations",
    "hypha-storage",
    "hypha-cache",
    "hypha-net",
    "hypha-rpc",
    "hypha-scheduler",
    "hypha-worker",
    "hypha-queue",
    "hypha-metrics",
    "hypha-tracing",
    "hypha-crypto",
    "hypha-codec",
    "hypha-proto",
    "hypha-gateway",
    "hypha-router",
    "hypha-registry",
    "hypha-plugin",
    "hypha-sdk",
    "hypha-agent",
    "hypha-llm",
    "hypha-prompt",
    "hypha-embed",
    "hypha-index",
    "hypha-search",
    "hypha-billing",
    "hypha-notify",
    "hypha-webhook",
    "hypha-deploy",
    "hypha-infra",
    "hypha-fs",
    "hypha-sync",
    "hypha-util",
    "hypha-testkit",
    "hypha-bench",
)
# Crates whose tests need the test database: they fail together when it is down.
DB_CRATES = frozenset(
    {
        "hypha-api",
        "hypha-auth",
        "hypha-db",
        "hypha-migrations",
        "hypha-storage",
        "hypha-queue",
        "hypha-scheduler",
        "hypha-worker",
        "hypha-billing",
        "hypha-registry",
        "hypha-index",
        "hypha-search",
        "hypha-sync",
        "hypha-notify",
        "hypha-webhook",
        "hypha-gateway",
        "hypha-agent",
        "hypha-deploy",
        "hypha-cache",
        "hypha-router",
        "hypha-llm",
        "hypha-core",
    }
)
UNIT_TESTS = 3380
INTEGRATION_TESTS = 120
SHARDS = 4
_MODULES = ("api", "model", "codec", "store", "handler", "config", "retry", "pool", "error")
_VERBS = (
    "parses",
    "rejects",
    "round_trips",
    "handles",
    "retries",
    "applies",
    "merges",
    "expires",
    "streams",
    "validates",
    "migrates",
    "caches",
    "signs",
    "routes",
)
_OBJECTS = (
    "empty_input",
    "large_batch",
    "unicode_names",
    "timeouts",
    "concurrent_writes",
    "missing_fields",
    "partial_reads",
    "bad_token",
    "schema_v2",
    "zero_length",
    "nested_tables",
    "backpressure",
    "cancellation",
    "clock_skew",
)


@dataclass(frozen=True, slots=True)
class SampleTest:
    crate: str
    name: str
    seconds: float
    flaky_rate: float = 0.0
    integration: bool = False


@dataclass(frozen=True, slots=True)
class SampleBatch:
    """The reports of one job of one run, ready for ingest."""

    run: RunInfo
    reports: tuple[ReportFile, ...]


def _tests(rng: random.Random) -> list[SampleTest]:
    weights = [rng.uniform(0.3, 3.0) for _ in CRATES]
    total = sum(weights)
    tests: list[SampleTest] = []
    for crate, weight in zip(CRATES, weights, strict=True):
        count = max(5, round(UNIT_TESTS * weight / total))
        for i in range(count):
            name = f"{rng.choice(_MODULES)}::tests::{rng.choice(_VERBS)}_{rng.choice(_OBJECTS)}_{i}"
            tests.append(SampleTest(crate, name, round(rng.lognormvariate(-3.2, 1.3), 4)))
    tests = tests[:UNIT_TESTS]
    for i in range(INTEGRATION_TESTS):
        tests.append(
            SampleTest(
                "hypha-e2e",
                f"e2e::scenario_{i:03d}",
                round(rng.uniform(2.0, 25.0), 3),
                integration=True,
            )
        )
    # A few very slow tests and a few flaky ones, at fixed places so the demo
    # always tells the same story.
    for index, seconds in ((17, 212.0), (403, 148.0), (1288, 96.0), (2710, 61.0)):
        tests[index] = SampleTest(tests[index].crate, tests[index].name + "_soak", seconds)
    for index, rate in ((55, 0.08), (610, 0.05), (1501, 0.04), (2222, 0.03), (3100, 0.06)):
        t = tests[index]
        tests[index] = SampleTest(t.crate, t.name + "_under_load", t.seconds, flaky_rate=rate)
    return tests


REGRESSION_TEST = 907  # fails on every run from REGRESSION_DAYS[0] until the fix lands
REGRESSION_DAYS = (44, 47)
OUTAGE_DAY = 41


def _sha(*parts: object) -> str:
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()


@functools.cache
def _head(name: str, crate: str) -> str:
    return f"<testcase name={quoteattr(name)} classname={quoteattr(crate)} "


def _testcase(
    test: SampleTest, outcome: str, seconds: float, message: str, retry: str | None
) -> str:
    head = f'{_head(test.name, test.crate)}time="{seconds:.4f}"'

    if outcome == "passed" and retry is None:
        return head + "/>"
    body = ""
    if retry is not None:
        body += (
            f'<flakyFailure type="test failure" time="{seconds:.4f}">{escape(retry)}</flakyFailure>'
        )
    if outcome == "failed":
        body += f'<failure type="test failure">{escape(message)}</failure>'
    return f"{head}>{body}</testcase>"


def _report(label: str, cases: list[tuple[SampleTest, str]]) -> ReportFile:
    by_crate: dict[str, list[str]] = {}
    for test, xml in cases:
        by_crate.setdefault(test.crate, []).append(xml)
    suites = "".join(
        f'<testsuite name={quoteattr(crate)} tests="{len(items)}">{"".join(items)}</testsuite>'
        for crate, items in by_crate.items()
    )
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="nextest-run">'
        f"{suites}</testsuites>\n"
    )
    return ReportFile.from_bytes(label, body.encode())


@dataclass(frozen=True, slots=True)
class _Run:
    workflow: str
    run_key: str
    attempt: int
    commit: str
    created_at: datetime
    day: int


def _outcome(
    test: SampleTest, run: _Run, rng: random.Random, index: int
) -> tuple[str, float, str, str | None]:
    seconds = round(test.seconds * rng.uniform(0.85, 1.2), 4)
    outage = run.day == OUTAGE_DAY and run.attempt == 1 and run.created_at.hour < 12
    if outage and (test.integration or test.crate in DB_CRATES):
        return "failed", 30.0, "error: connection refused (os error 111): postgres:5432", None
    if index == REGRESSION_TEST and REGRESSION_DAYS[0] <= run.day <= REGRESSION_DAYS[1]:
        return (
            "failed",
            seconds,
            "thread 'main' panicked at src/wal.rs:212:9:\n"
            "assertion `left == right` failed\n  left: 3\n right: 4",
            None,
        )
    if test.flaky_rate and rng.random() < test.flaky_rate:
        message = "thread 'tokio-runtime-worker' panicked: timed out after 5s waiting for lock"
        if rng.random() < 0.6:  # nextest's retry passes
            return "passed", seconds, "", message
        return "failed", seconds, message, None
    return "passed", seconds, "", None


def first_run_number(*, days: int, end: date, seed: int) -> int:
    """Where a history's run ids start, derived from its seed and dates: loading
    the same history again finds its runs stored, and another seed or window
    gets runs of its own instead of merging into the first.

    >>> first_run_number(days=60, end=date(2026, 11, 27), seed=7) // 100_000 > 0
    True
    """
    window = int(_sha("runs", seed, end - timedelta(days=days - 1), end)[:12], 16)
    return 6_100_000_000 + (window % 100_000) * 100_000  # 100,000 ids per history


def _schedule(days: int, end: date, seed: int) -> Iterator[_Run]:
    run_number = first_run_number(days=days, end=end, seed=seed)
    start = end - timedelta(days=days - 1)
    for day in range(days):
        today = start + timedelta(days=day)
        pushes = 2 if today.weekday() < 5 else 1
        for push in range(pushes):
            at = datetime(today.year, today.month, today.day, 9 + push * 4, 12, tzinfo=UTC)
            commit = _sha("commit", day, push)
            for offset, workflow in enumerate(("ci-build", "tests-all")):
                run_number += 1
                yield _Run(
                    workflow, str(run_number), 1, commit, at + timedelta(minutes=offset), day
                )
        if today.weekday() < 5:
            run_number += 1
            at = datetime(today.year, today.month, today.day, 2, 0, tzinfo=UTC)
            yield _Run("integration-tests", str(run_number), 1, _sha("commit", day, 0), at, day)
        if today.weekday() == 4:
            run_number += 1
            at = datetime(today.year, today.month, today.day, 17, 30, tzinfo=UTC)
            yield _Run("release", str(run_number), 1, _sha("commit", day, pushes - 1), at, day)


# Minutes a job spends outside its tests: checkout, toolchain, cargo build.
SETUP_MINUTES = {"ci-build": 19.0, "release": 31.0, "tests-all": 6.5, "integration-tests": 8.0}


def _jobs(
    run: _Run, tests: list[SampleTest], rng: random.Random
) -> Iterator[tuple[str, list[tuple[SampleTest, str]]]]:
    if run.workflow in ("ci-build", "release"):
        yield ("build" if run.workflow == "ci-build" else "publish"), []
        return
    integration = run.workflow == "integration-tests"
    shards: dict[str, list[tuple[SampleTest, str]]] = {}
    for index, test in enumerate(tests):
        if test.integration != integration:
            continue
        outcome, seconds, message, retry = _outcome(test, run, rng, index)
        job = "e2e" if integration else f"test ({index % SHARDS + 1}/{SHARDS})"
        shards.setdefault(job, []).append((test, _testcase(test, outcome, seconds, message, retry)))
    yield from sorted(shards.items())


def generate(*, days: int = 60, end: date = DEFAULT_END, seed: int = 7) -> Iterator[SampleBatch]:
    """Yield the sample history job by job, oldest run first; the same arguments
    always give the same bytes."""
    rng = random.Random(seed)
    tests = _tests(rng)
    for run in _schedule(days, end, seed):
        attempts = [run]
        for current in attempts:
            any_failed = False
            jobs = list(_jobs(current, tests, rng))
            minutes = {
                job: SETUP_MINUTES[current.workflow] * rng.uniform(0.9, 1.15)
                + sum(_seconds_of(xml) for _t, xml in cases) / 60
                for job, cases in jobs
            }
            minutes = {job: m + _cache_penalty(current, job, seed) for job, m in minutes.items()}
            finished = current.created_at + timedelta(minutes=max(minutes.values()) + 0.5)
            for job, cases in jobs:
                any_failed = any_failed or any("<failure" in xml for _t, xml in cases)
                label = f"sample/{current.workflow}/{current.run_key}/{current.attempt}/{job}.xml"
                reports = (_report(label, cases),) if cases else ()
                info = _run_info(current, job, minutes[job], finished)
                yield SampleBatch(info, reports)
            # A failed test run is re-run once, as people do with flaky CI.
            if any_failed and current.attempt == 1 and current.workflow != "ci-build":
                attempts.append(
                    _Run(
                        current.workflow,
                        current.run_key,
                        2,
                        current.commit,
                        current.created_at + timedelta(minutes=45),
                        current.day,
                    )
                )


def _seconds_of(xml: str) -> float:
    start = xml.index('time="') + 6
    return float(xml[start : xml.index('"', start)])


def _run_info(run: _Run, job: str, minutes: float, finished: datetime) -> RunInfo:
    queued = timedelta(seconds=20)
    return RunInfo(
        provider="github",
        repository=REPOSITORY,
        run_key=run.run_key,
        attempt=run.attempt,
        workflow=run.workflow,
        event="push" if run.workflow != "integration-tests" else "schedule",
        branch="main",
        commit=run.commit,
        job=job,
        created_at=run.created_at,
        started_at=run.created_at,
        finished_at=finished,
        job_started_at=run.created_at + queued,
        job_finished_at=run.created_at + queued + timedelta(minutes=minutes),
        runner_labels=("ubuntu-latest-8-cores",) if run.workflow != "release" else ("macos-14",),
    )


# -- workflows and artifacts (what a GitHub sync stores; the scorecard reads them) -----

WORKFLOWS = ("ci-build", "tests-all", "integration-tests", "release")
# What a ci-build run uploads, as (name, MB at the start of the last 60 days, MB gained
# over them): release binaries and their debug symbols grow as the workspace does.
BUILD_ARTIFACTS = (
    ("hypha-linux-x86_64", 58.0, 41.0),
    ("hypha-linux-aarch64", 54.0, 38.0),
    ("hypha-debug-symbols", 31.0, 27.0),
    ("coverage-html", 6.5, 3.0),
    ("nextest-archive", 2.5, 1.0),
)
GROWTH_DAYS = 60
RETENTION_DAYS = 90


def workflow_records(*, end: date) -> list[WorkflowRecord]:
    """The repository's workflows as GitHub lists them: registered and active."""
    created = datetime(end.year - 1, 3, 1, 10, 0, tzinfo=UTC)
    return [
        WorkflowRecord(
            workflow_key=str(71_000_000 + index),
            name=name,
            path=f".github/workflows/{name}.yml",
            state="active",
            created_at=created + timedelta(days=index),
            updated_at=created + timedelta(days=30 + index),
        )
        for index, name in enumerate(WORKFLOWS, start=1)
    ]


def artifact_records(
    *, days: int = 60, end: date = DEFAULT_END, seed: int = 7
) -> Iterator[ArtifactRecord]:
    """The artifacts of every ci-build run of the history: about 150 MB a run 60 days
    before *end*, growing to about 260 MB; the same arguments, the same records."""
    for run in _schedule(days, end, seed):
        if run.workflow != "ci-build":
            continue
        age = min((end - run.created_at.date()).days, GROWTH_DAYS)
        grown = 1 - age / GROWTH_DAYS
        rng = random.Random(f"artifacts/{seed}/{run.run_key}")
        uploaded = run.created_at + timedelta(minutes=18)
        expires = uploaded + timedelta(days=RETENTION_DAYS)
        for index, (name, start_mb, gain_mb) in enumerate(BUILD_ARTIFACTS):
            size = (start_mb + gain_mb * grown) * rng.uniform(0.97, 1.03) * 1_000_000
            yield ArtifactRecord(
                artifact_key=f"{run.run_key}{index}",
                run_key=run.run_key,
                name=name,
                size_bytes=int(size),
                digest=f"sha256:{hashlib.sha256(f'{run.run_key}/{name}'.encode()).hexdigest()}",
                expired=expires.date() < end,
                created_at=uploaded,
                expires_at=expires,
                updated_at=uploaded,
            )


# -- job logs with cache lines (for `pilothouse cache`) ----------------------------------------
#
# ci-build's `build` job restores its target directory with Swatinem/rust-cache and prints
# sccache's statistics; tests-all's shards restore with actions/cache keyed by Cargo.lock.
# Cargo.lock changes every LOCK_DAYS days (a dependency bump): the first push after it
# restores from a restore key (partial) and saves a new cache (three of the four shards
# then lose the race to reserve the key); now and then the repository's caches were
# evicted (the 10 GB limit) and the first push of the day misses. Everything derives from
# the seed, the run and the job (hashes, not the shared random stream), so adding the logs
# changes nothing else of the history, and the same seed gives the same bytes.

LOCK_DAYS = 9
EVICTION_DAYS = 11
# Minutes a job loses when its cache restore is not exact: the build starts colder.
CACHE_PENALTY_MINUTES = {
    "build": {"partial": 4.0, "miss": 11.0},
    "test": {"partial": 1.5, "miss": 3.5},
}
_LOG_WORKFLOWS = ("ci-build", "tests-all")


def _cache_day(created_at: datetime, seed: int) -> tuple[int, int]:
    """(Cargo.lock version, day number) of a run's day."""
    day = created_at.date().toordinal() + int(_sha("cache-offset", seed)[:6], 16) % LOCK_DAYS
    return day // LOCK_DAYS, day


def cache_outcome(
    workflow: str, job: str, created_at: datetime, attempt: int, seed: int
) -> str | None:
    """How the job's cache restore went: hit, partial or miss (None: no cache step)."""
    if workflow not in _LOG_WORKFLOWS:
        return None
    _version, day = _cache_day(created_at, seed)
    first_push = created_at.hour < 12 and attempt == 1
    if first_push and day % EVICTION_DAYS == 5:
        return "miss"
    if first_push and day % LOCK_DAYS == 0:
        return "partial"
    return "hit"


def _cache_penalty(run: _Run, job: str, seed: int) -> float:
    """Extra minutes of a job whose cache restore was not exact."""
    outcome = cache_outcome(run.workflow, job, run.created_at, run.attempt, seed)
    kind = "build" if run.workflow == "ci-build" else "test"
    return CACHE_PENALTY_MINUTES[kind].get(outcome or "hit", 0.0)


class _LogWriter:
    """Lines of a GitHub Actions job log, each with the runner's timestamp."""

    def __init__(self, start: datetime) -> None:
        self.at = start
        self.lines: list[str] = []

    def write(self, text: str, after: float = 0.0) -> None:
        self.at += timedelta(seconds=after)
        stamp = f"{self.at:%Y-%m-%dT%H:%M:%S}.{self.at.microsecond:06d}0Z"
        self.lines.extend(f"{stamp} {line}" for line in text.split("\n"))

    def until(self, end: datetime, text: str) -> None:
        self.at = max(self.at, end)
        self.write(text)

    def data(self) -> bytes:
        return ("\ufeff" + "\n".join(self.lines) + "\n").encode()


def _header(log: _LogWriter, label: str, inputs: dict[str, str], after: float = 0.0) -> None:
    log.write(f"##[group]Run {label}", after)
    if inputs:
        log.write("with:\n" + "\n".join(f"  {k}: {v}" for k, v in inputs.items()))
    log.write("##[endgroup]")


def _download(log: _LogWriter, size: int, seconds: float) -> None:
    log.write(f"Received {size} of {size} (100.0%), {size / seconds / 2**20:.1f} MBs/sec", seconds)
    log.write(f"Cache Size: ~{round(size / 2**20)} MB ({size} B)")
    log.write(
        "[command]/usr/bin/tar -xf /home/runner/work/_temp/3f1c2b9e-6d0a-4c1e-9d57-2b8e1f0c4a7d"
        "/cache.tzst -P -C /home/runner/work/hypha/hypha --use-compress-program unzstd"
    )
    log.write("Cache restored successfully", seconds / 2)


def _build_log(run: RunInfo, outcome: str, seed: int, end: datetime) -> bytes:
    assert run.job_started_at is not None
    version, _day = _cache_day(run.created_at or run.job_started_at, seed)
    env = _sha("rust-env", seed)[:8]
    family = f"v0-rust-build-Linux-x64-{env}"
    key = f"{family}-{_sha('Cargo.lock', seed, version)[:8]}"
    old = f"{family}-{_sha('Cargo.lock', seed, version - 1)[:8]}"
    log = _LogWriter(run.job_started_at)
    _header(log, "actions/checkout@v4", {"repository": REPOSITORY, "fetch-depth": "1"})
    log.write(f"Syncing repository: {REPOSITORY}", 2.1)
    _header(log, "Swatinem/rust-cache@v2", {"prefix-key": "v0-rust", "cache-targets": "true"}, 3)
    log.write("##[group]Cache Configuration\nCache Provider:\n    github\nWorkspaces:\n"
              "    /home/runner/work/hypha/hypha -> target\nRestore Key:\n"
              f"    {family}\nCache Key:\n    {key}\n.. Prefix:\n  - v0-rust-build-Linux-x64\n"
              "##[endgroup]\n\n... Restoring cache ...")  # fmt: skip
    if outcome == "miss":
        log.write("No cache found.", 1.2)
    else:
        matched = key if outcome == "hit" else old
        hit = "Cache hit for: " if outcome == "hit" else "Cache hit for restore-key: "
        log.write(hit + matched, 0.9)
        _download(log, 1_811_939_328 + int(_sha("size", run.run_key)[:5], 16), 34.0)
        log.write(
            f'Restored from cache key "{matched}" full match: {str(outcome == "hit").lower()}.'
        )
    _header(log, "cargo build --workspace --release --locked", {}, 1.0)
    for crate in CRATES[: 40 if outcome == "miss" else 12 if outcome == "partial" else 3]:
        log.write(f"   Compiling {crate} v0.1.0 (/home/runner/work/hypha/hypha/crates/{crate})", 9)
    hits = {"hit": 391, "partial": 226, "miss": 0}[outcome]
    log.until(end - timedelta(seconds=50), "    Finished `release` profile [optimized] target(s)")
    _header(log, "sccache --show-stats", {})
    log.write(f"Compile requests                   412\nCompile requests executed          "
              f"398\nCache hits                         {hits}\nCache hits (Rust)                  "
              f"{hits}\nCache misses                       {398 - hits}\nCache misses (Rust)   "
              f"             {398 - hits}\nCache location                  Local disk: "
              '"/home/runner/.cache/sccache"', 0.4)  # fmt: skip
    log.write("Post job cleanup.", 2)
    log.write("Cache up-to-date." if outcome == "hit" else "... Saving cache ...", 0.5)
    log.until(end, "Cleaning up orphan processes")
    return log.data()


def _test_log(run: RunInfo, outcome: str, seed: int, end: datetime) -> bytes:
    assert run.job_started_at is not None and run.job is not None
    version, _day = _cache_day(run.created_at or run.job_started_at, seed)
    key = f"Linux-cargo-{hashlib.sha256(f'{seed}/{version}'.encode()).hexdigest()}"
    old = f"Linux-cargo-{hashlib.sha256(f'{seed}/{version - 1}'.encode()).hexdigest()}"
    shard = run.job.split("(")[-1].split("/")[0]
    log = _LogWriter(run.job_started_at)
    _header(log, "actions/checkout@v4", {"repository": REPOSITORY, "fetch-depth": "1"})
    log.write(f"Syncing repository: {REPOSITORY}", 2.3)
    inputs = {"path": "target", "key": key, "restore-keys": "Linux-cargo-",
              "enableCrossOsArchive": "false", "fail-on-cache-miss": "false",
              "lookup-only": "false"}  # fmt: skip
    _header(log, "actions/cache@v4", inputs, 2.8)
    if outcome == "miss":
        log.write(f"Cache not found for input keys: {key}, Linux-cargo-", 0.8)
    else:
        matched = key if outcome == "hit" else old
        hit = "Cache hit for: " if outcome == "hit" else "Cache hit for restore-key: "
        log.write(hit + matched, 0.6)
        _download(log, 734_003_200 + int(_sha("size", run.run_key, shard)[:5], 16), 8.5)
        log.write(f"Cache restored from key: {matched}")
    _header(log, f"cargo nextest run --profile ci --partition count:{shard}/{SHARDS}", {}, 0.5)
    log.until(end - timedelta(seconds=40), "     Summary [ nextest ] tests run")
    log.write("Post job cleanup.", 1.0)
    if outcome == "hit":
        log.write(f"Cache hit occurred on the primary key {key}, not saving cache.", 0.3)
    elif shard == "1":
        log.write(f"Cache Size: ~700 MB (734003200 B)\nCache saved with key: {key}", 21)
    else:
        log.write(f"Failed to save: Unable to reserve cache with key {key}, another job may be "
                  "creating this cache.", 1.1)  # fmt: skip
    log.until(end, "Cleaning up orphan processes")
    return log.data()


def job_log(run: RunInfo, seed: int) -> bytes | None:
    """The log of a sample job with its cache lines (ci-build and tests-all jobs), or None."""
    if not (run.workflow and run.job and run.created_at and run.job_finished_at):
        return None
    outcome = cache_outcome(run.workflow, run.job, run.created_at, run.attempt, seed)
    if outcome is None:
        return None
    if run.workflow == "ci-build":
        return _build_log(run, outcome, seed, run.job_finished_at)
    return _test_log(run, outcome, seed, run.job_finished_at)
