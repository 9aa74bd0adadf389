"""Store writes for test reports: runs, jobs, reports and their test results."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, CursorResult, and_, insert, select, update

from pilothouse.model import OUTCOMES, RunInfo, TestCase
from pilothouse.store import github as gh
from pilothouse.store.columns import check_text
from pilothouse.store.schema import jobs, reports, repositories, runs, test_results, test_retries

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

    @property
    def tests(self) -> int:
        return sum(self.outcomes.values())


def add_reports(
    connection: Connection, run: RunInfo, items: Iterable[ReportInput], now: datetime
) -> list[StoredReport]:
    """See Store.add_reports: the body of its transaction."""
    stored: list[StoredReport] = []
    run_id = _ensure_run(connection, run, now)
    job_id = _ensure_job(connection, run_id, run) if run.job else None
    for item in items:
        known = connection.execute(
            select(reports.c.id).where(reports.c.run_id == run_id, reports.c.digest == item.digest)
        ).scalar()
        if known is not None:
            stored.append(StoredReport(False, Counter(c.outcome for c in item.cases)))
        else:
            stored.append(_insert_report(connection, run_id, job_id, item, now))
    if any(r.new and (r.outcomes["failed"] or r.outcomes["error"]) for r in stored):
        _mark_failed(connection, run_id, job_id)
    return stored


def _new_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None, "an INSERT returns its primary key"
    return int(key[0])


def _ensure_repository(connection: Connection, provider: str, full_name: str) -> int:
    where = and_(repositories.c.provider == provider, repositories.c.full_name == full_name)
    found = connection.execute(select(repositories.c.id).where(where)).scalar()
    if found is not None:
        return int(found)
    inserted = connection.execute(
        insert(repositories).values(provider=provider, full_name=full_name)
    )
    return _new_id(inserted)


def _ensure_run(connection: Connection, run: RunInfo, now: datetime) -> int:
    repository_id = _ensure_repository(connection, run.provider, run.repository)
    where = and_(
        runs.c.repository_id == repository_id,
        runs.c.run_key == run.run_key,
        runs.c.attempt == run.attempt,
    )
    row = connection.execute(select(runs).where(where)).mappings().first()
    fields = {
        "workflow": run.workflow,
        "event": run.event,
        "branch": run.branch,
        "commit_sha": run.commit,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }
    if row is None:
        values = {k: v for k, v in fields.items() if v is not None}
        values.setdefault("created_at", now)
        inserted = connection.execute(
            insert(runs).values(
                repository_id=repository_id,
                run_key=run.run_key,
                attempt=run.attempt,
                status="completed",
                conclusion="success",
                **values,
            )
        )
        return _new_id(inserted)
    missing = {k: v for k, v in fields.items() if v is not None and row[k] is None}
    if missing:
        connection.execute(update(runs).where(runs.c.id == row["id"]).values(**missing))
    return int(row["id"])


def _ensure_job(connection: Connection, run_id: int, run: RunInfo) -> int:
    """The job a report belongs to: the synced one it names, else a placeholder
    that a later GitHub sync adopts (see store.github)."""
    assert run.job is not None
    check_text("job name", run.job)  # before its key: the error names the name given
    synced = gh.find_job_for_report(connection, run_id, run.job)
    if synced is not None:
        return synced
    key = gh.junit_job_key(run.job)
    where = and_(jobs.c.run_id == run_id, jobs.c.job_key == key)
    found = connection.execute(select(jobs.c.id).where(where)).scalar()
    if found is not None:
        return int(found)
    inserted = connection.execute(
        insert(jobs).values(
            run_id=run_id,
            job_key=key,
            name=run.job,
            runner_labels=json.dumps(list(run.runner_labels)),
            attempt=run.attempt,
            status="completed",
            conclusion="success",
            created_at=run.job_started_at,
            started_at=run.job_started_at,
            finished_at=run.job_finished_at,
        )
    )
    return _new_id(inserted)


_RESULT_COLUMNS = (
    "report_id", "ordinal", "suite", "classname", "name", "file", "duration", "outcome",
    "message", "retries",
)  # fmt: skip


def _bulk_insert_sql(connection: Connection) -> str:
    """A plain INSERT for executemany with tuples: the hot path of ingest.

    SQLAlchemy's per-row parameter processing costs more than SQLite's insert
    itself; these columns need no type processing, so the driver gets tuples.
    """
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    return (
        f"INSERT INTO {test_results.name} ({', '.join(_RESULT_COLUMNS)}) "
        f"VALUES ({', '.join(mark for _ in _RESULT_COLUMNS)})"
    )


def _insert_with_retries(connection: Connection, row: tuple[Any, ...], case: TestCase) -> None:
    """A testcase with retries (rare): insert it alone to learn its id."""
    result_id = connection.execute(
        insert(test_results)
        .values(dict(zip(_RESULT_COLUMNS, row, strict=True)))
        .returning(test_results.c.id)
    ).scalar_one()
    connection.execute(
        insert(test_retries),
        [
            {
                "result_id": result_id,
                "attempt": attempt,
                "kind": retry.kind,
                "message": retry.message,
                "duration": retry.duration,
            }
            for attempt, retry in enumerate(case.retries, start=1)
        ],
    )


def _as_text(path: str) -> str:
    """A file name as text both backends keep: bytes that are not UTF-8 become U+FFFD."""
    try:
        raw = path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = path.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


def _insert_report(
    connection: Connection, run_id: int, job_id: int | None, item: ReportInput, now: datetime
) -> StoredReport:
    """Insert one report, streaming its testcases in batches."""
    report_id = _new_id(
        connection.execute(
            insert(reports).values(
                run_id=run_id,
                job_id=job_id,
                digest=item.digest,
                path=_as_text(item.path),
                size=item.size,
                tests=0,
                ingested_at=now,
            )
        )
    )
    sql = _bulk_insert_sql(connection)
    rows: list[tuple[Any, ...]] = []
    outcomes: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
    ordinal = -1
    for ordinal, case in enumerate(item.cases):  # noqa: B007 - ordinal is used after the loop
        suite, classname, name, file, duration, outcome, message, retries = case
        outcomes[outcome] += 1
        row = (report_id, ordinal, suite, classname, name, file, duration, outcome, message,
               len(retries))  # fmt: skip
        if retries:
            _insert_with_retries(connection, row, case)
            continue
        rows.append(row)
        if len(rows) >= BATCH_ROWS:
            connection.exec_driver_sql(sql, rows)
            rows.clear()
    if rows:
        connection.exec_driver_sql(sql, rows)
    tests = ordinal + 1
    failed = outcomes["failed"] + outcomes["error"]
    connection.execute(
        update(reports).where(reports.c.id == report_id).values(tests=tests, failed=failed)
    )
    return StoredReport(True, Counter(outcomes))


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
