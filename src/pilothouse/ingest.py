"""Ingest JUnit reports: find the files, work out the run they belong to, store them."""

from __future__ import annotations

import glob
import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from pilothouse.errors import InputError
from pilothouse.model import IngestCounts, RunInfo
from pilothouse.sources.junit import ReportFile
from pilothouse.store import ReportInput, Store

_GLOB_CHARS = frozenset("*?[")


def expand_paths(
    patterns: Sequence[str], *, cwd: Path, suffixes: tuple[str, ...] | None = (".xml",)
) -> list[Path]:
    """Turn files, directories (read recursively for *suffixes*, every file when None)
    and globs into files.

    Each pattern must yield at least one file; the result is sorted and has no
    repeats, so overlapping patterns read a file once.
    """
    found: dict[Path, None] = {}
    for pattern in patterns:
        for path in _expand_one(pattern, cwd, suffixes):
            found.setdefault(path, None)
    return list(found)


def _expand_one(pattern: str, cwd: Path, suffixes: tuple[str, ...] | None) -> list[Path]:
    path = Path(pattern) if Path(pattern).is_absolute() else cwd / pattern
    if any(char in _GLOB_CHARS for char in pattern):
        matches = sorted(
            Path(match) for match in glob.glob(str(path), recursive=True) if Path(match).is_file()
        )
        if not matches:
            raise InputError(f"{pattern}: no files match this pattern")
        return matches
    if path.is_dir():
        matches = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and (suffixes is None or p.suffix.lower() in suffixes)
        )
        if not matches:
            wanted = " or ".join(suffixes) if suffixes else "readable"
            raise InputError(f"{pattern}: directory holds no {wanted} files")
        return matches
    if not path.exists():
        raise InputError(f"{pattern}: no such file or directory")
    return [path]


def parse_timestamp(value: str, *, what: str) -> datetime:
    """Parse ISO 8601; a time without an offset is taken as UTC."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"{what}: {value!r} is not an ISO 8601 date-time") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def run_from_environment(env: Mapping[str, str], *, repository: str) -> RunInfo:
    """The run a report belongs to, read from GitHub Actions' variables when present.

    Outside GitHub Actions the run is local; its key is set later from the
    reports' content (see local_run_key), so re-ingesting them is a no-op.
    """
    if env.get("GITHUB_ACTIONS") != "true":
        return RunInfo(provider="local", repository=repository, run_key="")
    attempt = env.get("GITHUB_RUN_ATTEMPT", "1")
    return RunInfo(
        provider="github",
        repository=env.get("GITHUB_REPOSITORY") or repository,
        run_key=env.get("GITHUB_RUN_ID", ""),
        attempt=int(attempt) if attempt.isdigit() else 1,
        workflow=env.get("GITHUB_WORKFLOW") or None,
        event=env.get("GITHUB_EVENT_NAME") or None,
        branch=env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF_NAME") or None,
        commit=env.get("GITHUB_SHA") or None,
        job=env.get("GITHUB_JOB") or None,
    )


def local_run_key(files: Iterable[ReportFile]) -> str:
    """A run key derived from the reports' content: the same reports, the same run."""
    digest = hashlib.sha256("\n".join(sorted(f.digest for f in files)).encode()).hexdigest()
    return f"local-{digest[:12]}"


def ingest_reports(
    store: Store,
    files: Sequence[ReportFile],
    run: RunInfo,
    *,
    now: datetime,
    on_file: Callable[[int], None] | None = None,
) -> IngestCounts:
    """Store *files* as reports of *run* in one transaction and count what they held.

    Every file is read; one whose content the run already holds (from an earlier
    call, or earlier in this one) adds nothing and its testcases count as
    duplicates. A bad file raises InputError and nothing of the call is written.
    *on_file* is told how many files were read so far, for a progress display.
    """
    if not run.run_key:
        run = replace(run, run_key=local_run_key(files))
    stored = store.add_reports(run, _report_inputs(files, on_file), now=now)
    outcomes: Counter[str] = sum((r.outcomes for r in stored), Counter())
    return IngestCounts(
        files=len(files),
        tests=sum(r.tests for r in stored),
        passed=outcomes["passed"],
        failed=outcomes["failed"],
        errors=outcomes["error"],
        skipped=outcomes["skipped"],
        duplicates=sum(r.tests for r in stored if not r.new),
    )


def _report_inputs(
    files: Sequence[ReportFile], on_file: Callable[[int], None] | None
) -> Iterator[ReportInput]:
    for done, item in enumerate(files):
        if on_file is not None:
            on_file(done)
        yield ReportInput(str(item.path), item.digest, item.size, item.testcases())
    if on_file is not None:
        on_file(len(files))
