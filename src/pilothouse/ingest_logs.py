"""Ingest CI job logs: find the files, name their run and job, store their cache events."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import IO

from pilothouse.errors import InputError, InvalidInputs
from pilothouse.ingest import local_run_key
from pilothouse.model import CacheEvent, RunInfo
from pilothouse.sources.junit import ReportFile
from pilothouse.sources.logs import LogStats, read_log
from pilothouse.store import Store
from pilothouse.store.cache import LogInput

LOG_SUFFIXES = (".txt", ".log")


@dataclass(frozen=True, slots=True)
class LogFile:
    """A log on disk, hashed (its identity) without being held in memory."""

    path: Path
    digest: str
    size: int

    @classmethod
    def open(cls, path: Path) -> LogFile:
        """Hash *path* (streaming), as reports are: the same log however named."""
        hashed = ReportFile.open(path)
        return cls(path, hashed.digest, hashed.size)

    def log_input(self) -> LogInput:
        stats = LogStats()
        return LogInput(str(self.path), self.digest, self.size, self._events(stats), stats)

    def _events(self, stats: LogStats) -> Iterator[CacheEvent]:
        try:
            with self.path.open("rb") as stream:
                yield from read_log(stream, stats)
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read: {exc.strerror or exc}") from None


def spooled_input(source: str, stream: IO[bytes]) -> LogInput:
    """A log already downloaded (a spooled file), hashed from its start, as LogInput."""
    digest = hashlib.sha256()
    stream.seek(0)
    for block in iter(lambda: stream.read(1 << 20), b""):
        digest.update(block)
    size = stream.tell()
    stream.seek(0)
    stats = LogStats()
    return LogInput(source, digest.hexdigest(), size, read_log(stream, stats), stats)


@dataclass(frozen=True, slots=True)
class LogCounts:
    """What one `ingest logs` read: files, which were new, cache events by kind."""

    files: int = 0
    new: int = 0
    duplicates: int = 0
    events: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"files": self.files, "new": self.new, "duplicates": self.duplicates,
                "events": self.events}  # fmt: skip


def open_logs(paths: Sequence[Path]) -> list[LogFile]:
    """Hash every log; every unreadable one is named at once, and nothing is stored."""
    files: list[LogFile] = []
    problems: list[str] = []
    for path in paths:
        try:
            files.append(LogFile.open(path))
        except InputError as exc:
            problems.append(str(exc))
    if len(problems) > 1:
        raise InvalidInputs(problems, f"{len(problems)} of {len(paths)} logs unreadable")
    if problems:
        raise InputError(problems[0])
    return files


def job_of(run: RunInfo, path: Path) -> RunInfo:
    """The run with its job named: --job or $GITHUB_JOB, else the log's file name."""
    return run if run.job else replace(run, job=path.stem)


def ingest_logs(
    store: Store, files: Sequence[LogFile], run: RunInfo, *, now: datetime
) -> LogCounts:
    """Store *files* as job logs of *run* in one transaction and count what they held."""
    if not files:
        raise InputError("no log files given")
    run = run if run.run_key else replace(run, run_key=local_run_key(files))
    stored = store.add_job_logs(((job_of(run, f.path), f.log_input()) for f in files), now=now)
    new = sum(1 for s in stored if s.new)
    return LogCounts(len(files), new, len(files) - new, sum(s.events for s in stored))
