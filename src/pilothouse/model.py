"""Records that flow from sources to the store and from the store to analysis.

They are plain frozen dataclasses: no database handles, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple

Outcome = Literal["passed", "failed", "error", "skipped"]
OUTCOMES: tuple[Outcome, ...] = ("passed", "failed", "error", "skipped")

# Failure messages and stack traces can be megabytes; the store keeps the head.
MAX_MESSAGE_CHARS = 4000


def truncate_message(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Keep the first *limit* characters of *text* and say how much was cut.

    >>> truncate_message("abcdef", 4)
    'abcd… [2 more chars]'
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more chars]"


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


@dataclass(frozen=True, slots=True)
class JobSummary:
    name: str
    conclusion: str | None
    attempt: int
    runner_labels: tuple[str, ...] = ()
    started_at: datetime | None = None
    finished_at: datetime | None = None


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
    tests: int = 0
    failed: int = 0
    jobs: tuple[JobSummary, ...] = field(default_factory=tuple)


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
