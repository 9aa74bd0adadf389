"""A stored run attempt with its jobs and steps, as the export reads them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ExportStep:
    number: int
    name: str
    conclusion: str | None
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class ExportJob:
    job_key: str
    name: str
    runner_labels: tuple[str, ...]
    runner_name: str | None
    conclusion: str | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    steps: tuple[ExportStep, ...]


@dataclass(frozen=True, slots=True)
class ExportRun:
    """One finished run attempt (the store's `runs` row) and what ran in it."""

    id: int
    provider: str
    repository: str
    run_key: str
    attempt: int
    run_number: int | None
    workflow: str | None
    event: str | None
    branch: str | None
    commit_sha: str | None
    conclusion: str | None
    html_url: str | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime
    jobs: tuple[ExportJob, ...]
