"""Ingest JUnit reports: find the files, work out the run they belong to, store them."""

from __future__ import annotations

import gc
import glob
import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from pilothouse.errors import InputError, InvalidInputs, StoreConflict
from pilothouse.model import IngestCounts, RunInfo, TestCase
from pilothouse.sources.junit import ReadStats, ReportFile, duration_scale
from pilothouse.store import ReportInput, Store

_GLOB_CHARS = frozenset("*?[")
# Passes run again after PostgreSQL rolled one back to break a deadlock.
CONFLICT_RETRIES = 3


def expand_paths(
    patterns: Sequence[str], *, cwd: Path, suffixes: tuple[str, ...] | None = (".xml",)
) -> list[Path]:
    """Turn files, directories (read recursively for *suffixes*, every file when None)
    and globs into files.

    Each pattern must yield at least one file (every one that does not is named);
    the result is sorted and has no repeats, so overlapping patterns read a file once.
    """
    found: dict[Path, None] = {}
    problems: list[str] = []
    for pattern in patterns:
        try:
            for path in _expand_one(pattern, cwd, suffixes):
                found.setdefault(path, None)
        except InputError as exc:
            problems.append(str(exc))
    if len(problems) > 1:
        raise InvalidInputs(problems, f"{len(problems)} of {len(patterns)} paths yield no file")
    if problems:
        raise InputError(problems[0])
    return list(found)


def _expand_one(pattern: str, cwd: Path, suffixes: tuple[str, ...] | None) -> list[Path]:
    path = Path(pattern) if Path(pattern).is_absolute() else cwd / pattern
    # An existing path is taken literally: "report [linux].xml" is a file, not a glob.
    if not path.exists() and any(char in _GLOB_CHARS for char in pattern):
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


class Digested(Protocol):
    """An input known by its content (a report, a cargo output, a log)."""

    @property
    def digest(self) -> str: ...


def local_run_key(files: Iterable[Digested]) -> str:
    """A run key derived from the inputs' content: the same inputs, the same run."""
    digest = hashlib.sha256("\n".join(sorted(f.digest for f in files)).encode()).hexdigest()
    return f"local-{digest[:12]}"


def open_reports(paths: Iterable[Path]) -> tuple[list[ReportFile], list[str]]:
    """Open (hash) every report; the ones that cannot be read are returned as
    problems instead of stopping at the first."""
    files: list[ReportFile] = []
    problems: list[str] = []
    for path in paths:
        try:
            files.append(ReportFile.open(path))
        except InputError as exc:
            problems.append(str(exc))
    return files, problems


@dataclass
class _FileWatch:
    """What one pass learnt about one report: its problem, its durations' unit."""

    problem: str | None = None
    stats: ReadStats = field(default_factory=ReadStats)


@dataclass
class _Pass:
    """One read of every report inside the store's transaction.

    A bad report does not stop the pass: it is recorded and the others are still
    read (nothing more is kept once one is bad), so every bad report is named at
    once. Memory stays bounded: a few numbers per report.
    """

    files: Sequence[ReportFile]
    scales: Mapping[Path, float | None]
    refuse: bool  # something is bad already: read to find the rest, keep nothing
    on_file: Callable[[int], None] | None = None
    watches: dict[Path, _FileWatch] = field(default_factory=dict)
    failed: bool = False  # a report of this pass was bad

    def items(self) -> Iterator[ReportInput]:
        for done, f in enumerate(self.files):
            if self.on_file is not None:
                self.on_file(done)
            watch = self.watches.setdefault(f.path, _FileWatch())
            yield ReportInput(str(f.path), f.digest, f.size, self._cases(f, watch))
        if self.on_file is not None:
            self.on_file(len(self.files))
        if self.refuse or self.failed or self.scales != self.found_scales():
            raise _Redo  # rolls the transaction back; the caller decides what next

    def _cases(self, f: ReportFile, watch: _FileWatch) -> Iterator[TestCase]:
        scale = self.scales.get(f.path, 1.0)
        cases = f.testcases(watch.stats)  # the reader notes durations and nameless cases
        try:
            if self.refuse or self.failed:
                for _case in cases:  # read to name its problem too, keep nothing
                    pass
            elif scale == 1.0:
                yield from cases
            else:
                yield from (_scaled(case, scale) for case in cases)
        except InputError as exc:
            watch.problem = str(exc)
            self.failed = True

    def problems(self) -> dict[Path, str]:
        return {p: w.problem for p, w in self.watches.items() if w.problem}

    def found_scales(self) -> dict[Path, float | None]:
        """Each report's durations unit, known once it was read to its end."""
        found = {
            p: duration_scale(w.stats.longest, w.stats.integral) for p, w in self.watches.items()
        }
        return {p: scale for p, scale in found.items() if scale != 1.0}


def _scaled(case: TestCase, scale: float | None) -> TestCase:
    if case.duration is None:
        return case
    return case._replace(duration=None if scale is None else case.duration * scale)


class _Redo(Exception):
    """Raised inside the store's transaction to roll a pass back."""


def _warnings(
    files: Sequence[ReportFile],
    watches: Mapping[Path, _FileWatch],
    scales: Mapping[Path, float | None],
) -> list[str]:
    """The notes on what was read, in the order the files were given."""
    notes = []
    for path in dict.fromkeys(f.path for f in files if f.path in watches):
        scale, stats = scales.get(path, 1.0), watches[path].stats
        if scale is None:
            notes.append(
                f"{path}: durations up to {stats.longest:,.0f} s cannot be real (over a week) "
                "and are in no unit pilothouse knows: stored without durations"
            )
        elif scale != 1.0:
            notes.append(
                f"{path}: durations read as nanoseconds (whole numbers up to "
                f"{stats.longest:,.0f}, over a week as seconds)"
            )
        if stats.unnamed:
            notes.append(
                f"{path}: {stats.unnamed} testcase(s) without a name, named from their "
                f"position in the report ({stats.first_unnamed}"
                f"{', ...' if stats.unnamed > 1 else ''})"
            )
    return notes


# Objects allocated between two runs of the cyclic garbage collector while reports
# are read (Python's default: 700).
_INGEST_GC_THRESHOLD = 20_000


@contextmanager
def _few_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often while reports are read.

    Reading a report allocates a few objects per testcase, none in a cycle, and
    holds a batch of them at once: at the default threshold the collector walks
    every batch several times over, about 3% of an ingest, to free nothing.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], _INGEST_GC_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def ingest_reports(
    store: Store,
    files: Sequence[ReportFile],
    run: RunInfo,
    *,
    now: datetime,
    skip_invalid: bool = False,
    problems: Sequence[str] = (),
    on_file: Callable[[int], None] | None = None,
) -> IngestCounts:
    """Store *files* as reports of *run* in one transaction and count what they held.

    Every file is read; one whose content the run already holds (from an earlier
    call, or earlier in this one) adds nothing and its testcases count as
    duplicates. Bad files (and *problems* found before, such as unreadable files)
    raise InvalidInputs naming every one, and nothing of the call is written;
    with *skip_invalid* the others are stored and each bad one becomes a warning.
    *on_file* is told how many files were read so far, for a progress display.

    One pass in the common case; a second, in a new transaction, only when the
    first found bad files to skip or durations in another unit than seconds.
    """
    total = len(files) + len(problems)
    bad: dict[Path, str] = {}
    scales: dict[Path, float | None] = {}
    conflicts = 0
    # In digest order, the order the store wants (see Store.add_reports): two
    # ingests of the same reports into one run then take their locks in one order.
    ordered = sorted(files, key=lambda f: f.digest)
    passes = 0
    while passes < 3 + conflicts:  # a third pass only if a file changed while read
        passes += 1
        used = [f for f in ordered if f.path not in bad]
        if not used and (problems or bad):
            raise InvalidInputs([*problems, *bad.values()], f"none of the {total} reports is valid")
        this = _Pass(used, scales, refuse=bool(problems) and not skip_invalid, on_file=on_file)
        key = run.run_key or local_run_key(used)
        try:
            with _few_collections():
                stored = store.add_reports(replace(run, run_key=key), this.items(), now=now)
        except StoreConflict:
            # PostgreSQL broke a deadlock with another writer (one that does not keep
            # digest order) by rolling this pass back: run it again, a few times.
            if conflicts == CONFLICT_RETRIES:
                raise
            conflicts += 1
            continue
        except _Redo:
            found = {**bad, **this.problems()}
            bad = {f.path: found[f.path] for f in files if f.path in found}  # as given
            if (problems or bad) and not skip_invalid:
                raise _refusal([*problems, *bad.values()], total) from None
            scales = {p: f for p, f in this.found_scales().items() if p not in bad}
            continue
        outcomes: Counter[str] = sum((r.outcomes for r in stored), Counter())
        return IngestCounts(
            files=len(used),
            tests=sum(r.tests for r in stored),
            passed=outcomes["passed"],
            failed=outcomes["failed"],
            errors=outcomes["error"],
            skipped=outcomes["skipped"],
            duplicates=sum(r.tests for r in stored if not r.new),
            invalid=tuple([*problems, *bad.values()]),
            warnings=tuple(_warnings(files, this.watches, scales)),
        )
    raise InputError("the reports changed while they were read: run the command again")


def _refusal(problems: list[str], total: int) -> InputError:
    """Every bad report on its own line; a summary only when there are several."""
    if total == 1:
        return InputError(problems[0])
    if len(problems) == 1:
        return InputError(f"{problems[0]} (nothing written; --skip-invalid stores the others)")
    return InvalidInputs(
        problems,
        f"{len(problems)} of {total} reports invalid, nothing written "
        "(--skip-invalid stores the others)",
    )
