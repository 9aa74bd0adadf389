"""Store writes for test reports: runs, jobs, reports and their test results."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, func, literal, select, update

from pilothouse.model import RunInfo, TestCase
from pilothouse.store import github as gh
from pilothouse.store import keyed, rollups, staging
from pilothouse.store.columns import check_text
from pilothouse.store.schema import jobs, reports, runs

BATCH_ROWS = 5000


@dataclass(frozen=True, slots=True)
class ReportInput:
    """One report to store: its identity and its testcases, read lazily."""

    path: str
    digest: str
    size: int
    cases: Iterable[TestCase]


@dataclass(frozen=True, slots=True)
class StoredReport:
    """What add_reports did with one report: stored it or not, and what it held."""

    new: bool
    outcomes: Counter[str]
    report_id: int | None = None

    @property
    def tests(self) -> int:
        return sum(self.outcomes.values())


def add_reports(
    connection: Connection, run: RunInfo, items: Iterable[ReportInput], now: datetime
) -> list[StoredReport]:
    """See Store.add_reports: the body of its transaction.

    Safe against concurrent writers of the same repository, run, job or report
    (see store.keyed); the run's row is only updated at the end, so a writer holds
    its lock for no longer than its commit takes.
    """
    run_id, job_id, missing = open_run(connection, run, now)
    stored = [_add_report(connection, run_id, job_id, item, now) for item in items]
    dated = fill_run(connection, run_id, missing) if missing else False
    if not dated:  # a run dated just now had all its reports rolled up by fill_run
        rolled = [r.report_id for r in stored if r.report_id is not None and r.tests]
        rollups.add_reports(connection, rolled)  # a report without results adds nothing
    if any(r.new and (r.outcomes["failed"] or r.outcomes["error"]) for r in stored):
        _mark_failed(connection, run_id, job_id)
    return stored


def open_run(
    connection: Connection, run: RunInfo, now: datetime
) -> tuple[int, int | None, dict[str, Any]]:
    """What a write into a run starts with (reports, cargo outputs): the run's lock
    shared with other ingests, its id and its job's, and the fields the run lacks
    that *run* knows (give them with fill_run at the end of the transaction)."""
    keyed.lock_run(connection, run.provider, run.repository, run.run_key, exclusive=False)
    run_id, missing = _ensure_run(connection, run, now)
    job_id = _ensure_job(connection, run_id, run) if run.job else None
    return run_id, job_id, missing


def _ensure_run(connection: Connection, run: RunInfo, now: datetime) -> tuple[int, dict[str, Any]]:
    """The run's id, and the fields it lacks that *run* knows (for fill_run)."""
    repository_id = gh.repository_id(connection, run.repository, provider=run.provider)
    assert repository_id is not None
    fields = {
        "workflow": run.workflow,
        "event": run.event,
        "branch": run.branch,
        "commit_sha": run.commit,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }
    given = {k: v for k, v in fields.items() if v is not None}
    values = {
        "repository_id": repository_id,
        "run_key": run.run_key,
        "attempt": run.attempt,
        "status": "completed",
        "conclusion": "success",
        "created_at": now,
        **given,
    }
    run_id, inserted = keyed.ensure_id(connection, runs, values, gh.RUN_KEY)
    if inserted or not given:
        return run_id, {}
    row = connection.execute(select(runs).where(runs.c.id == run_id)).mappings().one()
    return run_id, {k: v for k, v in given.items() if row[k] is None}


def fill_run(connection: Connection, run_id: int, missing: dict[str, Any]) -> bool:
    """Give the run the fields it lacked, unless a concurrent writer did meanwhile;
    whether this gave it its created_at (its reports are then rolled up: they had no
    day until now)."""
    values = {k: func.coalesce(runs.c[k], literal(v, runs.c[k].type)) for k, v in missing.items()}
    dated = False
    if "created_at" in values:
        dated = bool(
            connection.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.created_at.is_(None))
                .values(created_at=missing["created_at"])
            ).rowcount
        )
        del values["created_at"]
    if values:
        connection.execute(update(runs).where(runs.c.id == run_id).values(**values))
    if dated:  # the run had no time: its reports are rolled up only now
        rollups.move_run(connection, run_id, None)
    return dated


def _ensure_job(connection: Connection, run_id: int, run: RunInfo) -> int:
    """The job a report belongs to: the synced one it names, else a placeholder
    that a later GitHub sync adopts (see store.github)."""
    assert run.job is not None
    check_text("job name", run.job)  # before its key: the error names the name given
    synced = gh.find_job_for_report(connection, run_id, run.job)
    if synced is not None:
        return synced
    values = {
        "run_id": run_id,
        "job_key": gh.junit_job_key(run.job),
        "name": run.job,
        "runner_labels": json.dumps(list(run.runner_labels)),
        "attempt": run.attempt,
        "status": "completed",
        "conclusion": "success",
        "created_at": run.job_started_at,
        "started_at": run.job_started_at,
        "finished_at": run.job_finished_at,
    }
    return keyed.ensure_id(connection, jobs, values, ("run_id", "job_key"))[0]


def _chunks(cases: Iterable[TestCase]) -> Iterator[list[TestCase]]:
    """*cases* BATCH_ROWS at a time."""
    iterator = iter(cases)
    while chunk := list(islice(iterator, BATCH_ROWS)):
        yield chunk


_OUTCOME = attrgetter("outcome")


def _as_text(path: str) -> str:
    """A file name as text both backends keep: bytes that are not UTF-8 become U+FFFD."""
    try:
        raw = path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = path.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


def _add_report(
    connection: Connection, run_id: int, job_id: int | None, item: ReportInput, now: datetime
) -> StoredReport:
    """Insert one report, streaming its testcases in batches; a report whose digest
    the run holds (stored before, or by a concurrent writer that commits first) is
    still read to the end, so bad input is caught, and adds nothing."""
    values = {
        "run_id": run_id,
        "job_id": job_id,
        "digest": item.digest,
        "path": _as_text(item.path),
        "size": item.size,
        "tests": 0,
        "ingested_at": now,
    }
    new = keyed.insert_new(connection, reports, values, ("run_id", "digest"))
    if new is None:
        return StoredReport(False, Counter(case.outcome for case in item.cases))
    report_id = int(new[0])
    outcomes: Counter[str] = Counter()
    tests = 0
    staging.begin(connection)
    for chunk in _chunks(item.cases):
        outcomes.update(map(_OUTCOME, chunk))
        staging.stage(connection, tests, chunk)
        tests += len(chunk)
    staging.store(connection, report_id)
    failed = outcomes["failed"] + outcomes["error"]
    connection.execute(
        update(reports).where(reports.c.id == report_id).values(tests=tests, failed=failed)
    )
    return StoredReport(True, outcomes, report_id)


def _mark_failed(connection: Connection, run_id: int, job_id: int | None) -> None:
    """A failed test fails a run or job that only reports made; a synced run or job
    keeps the conclusion its CI provider gave it."""
    connection.execute(
        update(runs)
        .where(runs.c.id == run_id, runs.c.conclusion == "success", runs.c.updated_at.is_(None))
        .values(conclusion="failure")
    )
    if job_id is not None:
        connection.execute(
            update(jobs)
            .where(
                jobs.c.id == job_id,
                jobs.c.conclusion == "success",
                jobs.c.job_key.startswith(gh.JUNIT_JOB_PREFIX),
            )
            .values(conclusion="failure")
        )
