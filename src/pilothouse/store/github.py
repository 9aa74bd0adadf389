"""Store writes and reads for the GitHub Actions sync (runs, jobs, steps, artifacts...).

Functions here take an open connection; `Store` wraps each in a transaction.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, func, insert, select, update

from pilothouse.model import (
    ArtifactRecord,
    CacheUsage,
    JobRecord,
    RunAttempt,
    WorkflowRecord,
)
from pilothouse.store import keyed, rollups
from pilothouse.store.schema import (
    artifacts,
    cache_usage,
    http_cache,
    jobs,
    reports,
    repositories,
    runs,
    steps,
    sync_state,
    workflows,
)

PROVIDER = "github"
# Jobs created by `ingest junit` before the sync knows the job's real id.
JUNIT_JOB_PREFIX = "junit:"
_JOB_KEY_LIMIT = 255  # jobs.job_key
RUN_KEY = ("repository_id", "run_key", "attempt")  # runs: the natural key


def junit_job_key(name: str) -> str:
    """The key of the placeholder job for a report's job *name*.

    The name itself while it fits the key column, else its SHA-256: a job name
    of any length is stored (in `jobs.name`) and keyed alike on both backends.
    """
    key = f"{JUNIT_JOB_PREFIX}{name}"
    if len(key) <= _JOB_KEY_LIMIT:
        return key
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{JUNIT_JOB_PREFIX}sha256:{digest}"


@dataclass(frozen=True, slots=True)
class RunVersion:
    """What the store knows of a run: its attempts and the latest one's state."""

    attempts: frozenset[int]
    latest_attempt: int
    updated_at: datetime | None
    status: str | None
    unfinished: frozenset[int] = frozenset()  # attempts stored before they completed


@dataclass(frozen=True, slots=True)
class SyncState:
    cursor: datetime | None
    synced_at: datetime | None


@dataclass(frozen=True, slots=True)
class CachedEtag:
    etag: str
    next_url: str | None


@dataclass(frozen=True, slots=True)
class Added:
    runs: int = 0
    jobs: int = 0
    steps: int = 0


def repository_id(
    connection: Connection, full_name: str, *, create: bool = True, provider: str = PROVIDER
) -> int | None:
    """The repository's id; created when absent if *create*, else None."""
    values = {"provider": provider, "full_name": full_name}
    if create:
        return keyed.ensure_id(connection, repositories, values, ("provider", "full_name"))[0]
    where = and_(repositories.c.provider == provider, repositories.c.full_name == full_name)
    found = connection.execute(select(repositories.c.id).where(where)).scalar()
    return None if found is None else int(found)


def _run_values(repo_id: int, run: RunAttempt) -> dict[str, Any]:
    return {
        "repository_id": repo_id,
        "run_key": run.run_key,
        "attempt": run.attempt,
        "workflow": run.workflow,
        "workflow_key": run.workflow_key,
        "run_number": run.run_number,
        "event": run.event,
        "branch": run.branch,
        "commit_sha": run.commit,
        "status": run.status,
        "conclusion": run.conclusion,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "updated_at": run.updated_at,
        "html_url": run.html_url,
    }


def _job_values(run_id: int, job: JobRecord) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "job_key": job.job_key,
        "name": job.name,
        "runner_labels": json.dumps(list(job.runner_labels)),
        "runner_name": job.runner_name,
        "attempt": job.attempt,
        "status": job.status,
        "conclusion": job.conclusion,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def store_run(
    connection: Connection,
    repo: str,
    attempts: Sequence[RunAttempt],
    job_records: Sequence[JobRecord],
) -> Added:
    """Upsert every attempt of one run with its jobs and steps; count what is new."""
    for run_key in sorted({attempt.run_key for attempt in attempts}):
        keyed.lock_run(connection, PROVIDER, repo, run_key, exclusive=True)
    repo_id = repository_id(connection, repo)
    assert repo_id is not None
    run_ids: dict[int, int] = {}
    new_runs = new_jobs = new_steps = 0
    dated = _run_times(connection, repo_id, {attempt.run_key for attempt in attempts})
    for attempt in attempts:
        run_ids[attempt.attempt], inserted = keyed.ensure_id(
            connection, runs, _run_values(repo_id, attempt), RUN_KEY, update_existing=True
        )
        new_runs += inserted
        stored_id = run_ids[attempt.attempt]
        if not inserted and dated.get(stored_id) != attempt.created_at:
            rollups.move_run(connection, stored_id, dated.get(stored_id))
    known = _known_jobs(connection, list(run_ids.values()))
    for job in job_records:
        run_id = run_ids.get(job.attempt)
        if run_id is None:  # a job of an attempt the API did not describe: skip it
            continue
        values = _job_values(run_id, job)
        found = known.get((run_id, job.job_key))
        if found is None:
            job_id, inserted = keyed.ensure_id(connection, jobs, values, ("run_id", "job_key"))
            new_jobs += inserted
            new_steps += _insert_steps(connection, job_id, job) if inserted else 0
        elif found.status != "completed" or found.steps != len({s.number for s in job.steps}):
            # A finished job does not change; one that was running gets its new state.
            connection.execute(update(jobs).where(jobs.c.id == found.id).values(**values))
            connection.execute(delete(steps).where(steps.c.job_id == found.id))
            new_steps += max(_insert_steps(connection, found.id, job) - found.steps, 0)
    for run_id in run_ids.values():
        _adopt_junit_jobs(connection, run_id)
    return Added(new_runs, new_jobs, new_steps)


def _run_times(
    connection: Connection, repo_id: int, run_keys: set[str]
) -> dict[int, datetime | None]:
    """When the stored attempts of these runs were created, by id: a sync that
    changes it moves their test results to another day (store.rollups)."""
    query = select(runs.c.id, runs.c.created_at).where(
        runs.c.repository_id == repo_id, runs.c.run_key.in_(sorted(run_keys))
    )
    return {row.id: row.created_at for row in connection.execute(query)}


@dataclass(frozen=True, slots=True)
class _KnownJob:
    id: int
    status: str | None
    steps: int


def _known_jobs(connection: Connection, run_ids: list[int]) -> dict[tuple[int, str], _KnownJob]:
    query = (
        select(jobs.c.id, jobs.c.run_id, jobs.c.job_key, jobs.c.status, func.count(steps.c.number))
        .outerjoin(steps, steps.c.job_id == jobs.c.id)
        .where(jobs.c.run_id.in_(run_ids))
        .group_by(jobs.c.id, jobs.c.run_id, jobs.c.job_key, jobs.c.status)
    )
    return {
        (run_id, job_key): _KnownJob(job_id, status, int(count))
        for job_id, run_id, job_key, status, count in connection.execute(query)
    }


def _insert_steps(connection: Connection, job_id: int, job: JobRecord) -> int:
    unique = {step.number: step for step in job.steps}
    if unique:
        connection.execute(
            insert(steps),
            [
                {
                    "job_id": job_id,
                    "number": step.number,
                    "name": step.name,
                    "status": step.status,
                    "conclusion": step.conclusion,
                    "started_at": step.started_at,
                    "finished_at": step.finished_at,
                }
                for step in unique.values()
            ],
        )
    return len(unique)


def match_job(names: Iterable[tuple[int, str]], wanted: str) -> int | None:
    """The synced job a JUnit report's job name means, if exactly one fits.

    `GITHUB_JOB` is the job's key in the workflow ("test"); the API names a
    matrix job "test (ubuntu, 3.11)". An exact name wins; else a unique
    "key (...)" match.
    """
    candidates = list(names)
    exact = [job_id for job_id, name in candidates if name == wanted]
    if len(exact) == 1:
        return exact[0]
    prefixed = [job_id for job_id, name in candidates if name.startswith(f"{wanted} (")]
    return prefixed[0] if len(prefixed) == 1 else None


def _adopt_junit_jobs(connection: Connection, run_id: int) -> None:
    """Move reports from placeholder jobs (made by ingest junit) to the synced job."""
    rows = connection.execute(
        select(jobs.c.id, jobs.c.job_key, jobs.c.name).where(jobs.c.run_id == run_id)
    ).all()
    synced = [(r.id, r.name) for r in rows if not r.job_key.startswith(JUNIT_JOB_PREFIX)]
    for row in rows:
        if not row.job_key.startswith(JUNIT_JOB_PREFIX):
            continue
        target = match_job(synced, row.name)
        if target is None:
            continue
        connection.execute(update(reports).where(reports.c.job_id == row.id).values(job_id=target))
        connection.execute(delete(jobs).where(jobs.c.id == row.id))


def find_job_for_report(connection: Connection, run_id: int, name: str) -> int | None:
    """For ingest junit: the synced job of this run that *name* means, if any."""
    rows = connection.execute(
        select(jobs.c.id, jobs.c.job_key, jobs.c.name).where(jobs.c.run_id == run_id)
    ).all()
    synced = [(r.id, r.name) for r in rows if not r.job_key.startswith(JUNIT_JOB_PREFIX)]
    return match_job(synced, name)


def run_versions(connection: Connection, repo: str) -> dict[str, RunVersion]:
    repo_id = repository_id(connection, repo, create=False)
    if repo_id is None:
        return {}
    query = (
        select(runs.c.run_key, runs.c.attempt, runs.c.updated_at, runs.c.status)
        .where(runs.c.repository_id == repo_id)
        .order_by(runs.c.run_key, runs.c.attempt)
    )
    grouped: dict[str, list[Any]] = {}
    for row in connection.execute(query):
        grouped.setdefault(row.run_key, []).append(row)
    return {
        key: RunVersion(
            attempts=frozenset(r.attempt for r in rows),
            latest_attempt=rows[-1].attempt,
            updated_at=rows[-1].updated_at,
            status=rows[-1].status,
            unfinished=frozenset(r.attempt for r in rows if r.status not in (None, "completed")),
        )
        for key, rows in grouped.items()
    }


def unfinished_runs(connection: Connection, repo: str) -> list[str]:
    """Runs whose latest stored attempt had not completed."""
    return sorted(
        key
        for key, version in run_versions(connection, repo).items()
        if version.status is not None and version.status not in ("completed", "gone")
    )


def _upsert_keyed(
    connection: Connection,
    repo: str,
    table: Table,
    key: str,
    items: Iterable[ArtifactRecord | WorkflowRecord],
) -> int:
    """Upsert repository-scoped records by their provider key; how many were new."""
    repo_id = repository_id(connection, repo)
    new = 0
    for item in items:
        values = {"repository_id": repo_id, **_fields(item)}
        new += keyed.upsert(connection, table, values, ("repository_id", key))
    return new


def mark_run_gone(connection: Connection, repo: str, run_key: str) -> None:
    """A run the API no longer shows (deleted): its unfinished attempts stop being
    re-fetched."""
    repo_id = repository_id(connection, repo, create=False)
    connection.execute(
        update(runs)
        .where(
            runs.c.repository_id == repo_id,
            runs.c.run_key == run_key,
            runs.c.status != "completed",
        )
        .values(status="gone")
    )


def upsert_artifacts(connection: Connection, repo: str, items: Iterable[ArtifactRecord]) -> int:
    return _upsert_keyed(connection, repo, artifacts, "artifact_key", items)


def upsert_workflows(connection: Connection, repo: str, items: Iterable[WorkflowRecord]) -> int:
    return _upsert_keyed(connection, repo, workflows, "workflow_key", items)


def _fields(record: ArtifactRecord | WorkflowRecord) -> dict[str, Any]:
    return dataclasses.asdict(record)


def add_cache_usage(
    connection: Connection, repo: str, usage: CacheUsage, *, taken_at: datetime
) -> None:
    connection.execute(
        insert(cache_usage).values(
            repository_id=repository_id(connection, repo),
            taken_at=taken_at,
            active_caches_count=usage.active_caches_count,
            active_caches_size_bytes=usage.active_caches_size_bytes,
        )
    )


def get_sync_state(connection: Connection, repo: str) -> SyncState:
    repo_id = repository_id(connection, repo, create=False)
    row = None
    if repo_id is not None:
        row = connection.execute(
            select(sync_state).where(sync_state.c.repository_id == repo_id)
        ).first()
    return SyncState(row.cursor, row.synced_at) if row else SyncState(None, None)


def set_sync_state(
    connection: Connection, repo: str, *, cursor: datetime | None, synced_at: datetime
) -> None:
    values = {"repository_id": repository_id(connection, repo), "cursor": cursor,
              "synced_at": synced_at}  # fmt: skip
    keyed.upsert(connection, sync_state, values, ("repository_id",))


def cached_etag(connection: Connection, repo: str, url: str) -> CachedEtag | None:
    repo_id = repository_id(connection, repo, create=False)
    if repo_id is None:
        return None
    row = connection.execute(
        select(http_cache.c.etag, http_cache.c.next_url).where(
            http_cache.c.repository_id == repo_id, http_cache.c.url == url
        )
    ).first()
    return CachedEtag(row.etag, row.next_url) if row else None


def save_etag(connection: Connection, repo: str, url: str, etag: str, next_url: str | None) -> None:
    values = {"repository_id": repository_id(connection, repo), "url": url, "etag": etag,
              "next_url": next_url}  # fmt: skip
    keyed.upsert(connection, http_cache, values, ("repository_id", "url"))
