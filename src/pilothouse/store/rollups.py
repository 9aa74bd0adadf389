"""Per-test per-day rollups of test results, kept in the transaction that stores them.

`tests` names each test (classname, name, file) once, keyed by a digest (a btree
cannot hold 100 KB names); a result carries its test's id (store.staging).
`test_days` sums a test's results of one UTC day (the day of its run's
`created_at`) and remembers the newest; `test_day_bins` is that day's duration
histogram (analysis/sketch.py). Every write is an
``INSERT ... SELECT ... GROUP BY test_id ... ON CONFLICT DO UPDATE`` over the new
results that adds counts, so concurrent ingests add up exactly; rows are written in
key order, so they cannot deadlock.

Results of a run without `created_at` are not rolled up (no day); a window read
over all history reads them raw. A run whose `created_at` changes (a GitHub sync
gives the real time of a run that ingest dated) is moved: see `move_run`.
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from pilothouse.analysis import sketch
from pilothouse.store.schema import reports, runs, test_day_bins, test_days, test_results, tests

if TYPE_CHECKING:  # the reads' record; writers (ingest) do not import the analysis
    from pilothouse.analysis.test_stats import WindowTotals

_CODES = {"passed": 0, "failed": 1, "error": 2, "skipped": 3}
SQLITE_TEST_KEY = "pilothouse_test_key"


# Bytes of the sha256 digest that key a test: 128 bits, so no two tests of any store
# share a key (a collision is about as likely as one of sha256 itself at 2**64 tests),
# a quarter of the 64 hex characters keys took before 0014 (its index was the largest
# of a store).
KEY_BYTES = 16


def key_of_test(classname: str, name: str, file: str) -> bytes:
    """The digest that keys a test: the first KEY_BYTES of the sha256 of its three
    names, each length-prefixed (no separator a name could contain). PostgreSQL
    computes the same (key_sql)."""
    text = f"{len(classname)}:{classname}{len(name)}:{name}{file}"
    return hashlib.sha256(text.encode("utf-8")).digest()[:KEY_BYTES]


def sqlite_functions(dbapi_connection: Any) -> None:
    """Give a SQLite connection the functions the rollup statements call: the test
    key (migrations name tests with it), and `ln` and `ceil` where SQLite was built
    without its math functions (they are C's log and ceil, as Python's are)."""
    dbapi_connection.create_function(SQLITE_TEST_KEY, 3, key_of_test, deterministic=True)
    try:
        dbapi_connection.execute("SELECT ln(2.0), ceil(0.5)")
    except sqlite3.OperationalError:  # pragma: no cover - SQLite built without them
        dbapi_connection.create_function("ln", 1, math.log, deterministic=True)
        dbapi_connection.create_function("ceil", 1, math.ceil, deterministic=True)


def _postgres(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def key_sql(connection: Connection, c: Any, n: Any, f: Any) -> ColumnElement[bytes]:
    """key_of_test in SQL, for migrations that name tests from stored names."""
    if not _postgres(connection):
        sqlite_key: ColumnElement[bytes] = getattr(func, SQLITE_TEST_KEY)(c, n, f)
        return sqlite_key
    text = (
        cast(func.length(c), postgresql.TEXT) + ":" + c
        + cast(func.length(n), postgresql.TEXT) + ":" + n + f
    )  # fmt: skip
    digest = func.sha256(func.convert_to(text, "UTF8"))
    return func.substring(digest, 1, KEY_BYTES, type_=postgresql.BYTEA)


def _bin_of(duration: Any) -> ColumnElement[int]:
    """sketch.bin_of in SQL, computed by the database's C code on both backends; the
    same double operations as Python's (C's log, a division by the bound LOG_GAMMA,
    ceil), so the same bin."""
    exact = cast(func.ceil(func.ln(duration) / literal(sketch.LOG_GAMMA)), Integer)
    return case((duration > 0, exact), else_=sketch.ZERO_BIN)


def _insert(connection: Connection, table: Any) -> Any:
    return (postgresql if _postgres(connection) else sqlite).insert(table)


def day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


# -- writes -------------------------------------------------------------------


def add_reports(connection: Connection, report_ids: Sequence[int], *, sign: int = 1) -> None:
    """Roll the results of *report_ids* (reports of one run) into their day; with
    sign=-1 take them out again (the newest result of a day is then repaired by
    move_run). Their tests are named already (store.staging)."""
    if not report_ids:
        return
    created_at = connection.execute(
        select(runs.c.created_at)
        .join(reports, reports.c.run_id == runs.c.id)
        .where(reports.c.id == report_ids[0])
    ).scalar_one()
    if created_at is not None:
        _roll(connection, {"report_ids": list(report_ids)}, created_at, sign)


def _roll(connection: Connection, ids: dict[str, Any], created_at: datetime, sign: int) -> None:
    """Add (sign=-1: subtract) the results of ids["report_ids"] to their day, created_at."""
    single = len(ids["report_ids"]) == 1
    values = {**ids, "day": day_of(created_at), "created_at": created_at}
    if single:
        values["single"] = ids["report_ids"][0]
    connection.execute(_statement(connection, _add_days, single, sign), values)
    connection.execute(_statement(connection, _add_bins, sign), values)


# Built once per dialect (and shape), with their values bound as parameters: building
# a statement costs more than rolling up a small report's rows.
_BUILT: dict[tuple[Any, ...], Any] = {}


def _statement(connection: Connection, build: Callable[..., Any], *args: Any) -> Any:
    """*build*(connection, *args), built once per dialect."""
    key = (connection.dialect.name, build.__name__, *args)
    found = _BUILT.get(key)
    if found is None:
        found = _BUILT[key] = build(connection, *args)
    return found


def _report_ids() -> Any:
    return bindparam("report_ids", expanding=True)


def _results_with_tests() -> Any:
    return test_results.join(tests, tests.c.id == test_results.c.test_id)


# The bin of a result that has none (skipped, or no duration): below every bin.
UNTIMED = sketch.ZERO_BIN - 1


def _result_bin(outcome: Any, duration: Any) -> ColumnElement[int]:
    return case((_timed(outcome, duration), _bin_of(duration)), else_=UNTIMED)


def _rows_of(_connection: Connection) -> Any:
    """The results of the reports ids["report_ids"] as (test_id, report_id, ordinal,
    outcome, duration, bin, test): bin UNTIMED for a result without a duration or
    skipped; `test` is what to group a test's rows by (its id)."""
    r = test_results.c
    query = select(
        r.test_id,
        r.report_id,
        r.ordinal,
        r.outcome,
        r.duration,
        _result_bin(r.outcome, r.duration).label("bin"),
        r.test_id.label("test"),
    ).where(r.report_id.in_(_report_ids()))
    return query.subquery()


def _counted(outcome: Any, *wanted: str) -> ColumnElement[int]:
    return case((outcome.in_(wanted), 1), else_=0)


def _timed(outcome: Any, duration: Any) -> ColumnElement[bool]:
    return and_(outcome != "skipped", duration.is_not(None))


def _add_days(connection: Connection, single: bool, sign: int) -> Any:
    """Add the results to their day (parameters: report_ids, day, created_at, and
    single, the one report's id, if *single*)."""
    source = _rows_of(connection)
    base, sums, last_report, last_code, group, test_id = _day_sums(source, single)
    outcome = case({code: literal(name) for name, code in _CODES.items()}, value=last_code % 4)
    rows = (
        base.with_only_columns(
            test_id,
            bindparam("day", type_=test_days.c.day.type),
            *(sign * func.sum(column) for column in sums),
            bindparam("created_at", type_=test_days.c.last_seen.type),
            last_report,
            cast(last_code // 4, Integer),
            outcome,
        )
        .group_by(group)
        .order_by(group)
    )
    columns = ["test_id", "day", "passed", "failed", "skipped", "timed", "duration_sum",
               "last_seen", "last_report", "last_ordinal", "last_outcome"]  # fmt: skip
    statement = _insert(connection, test_days).from_select(columns, rows)
    return statement.on_conflict_do_update(
        index_elements=["day", "test_id"], set_=_day_updates(statement, sign)
    )


def _day_sums(source: Any, single: bool) -> tuple[Select[Any], list[Any], Any, Any, Any, Any]:
    """The rows _add_days reads (FROM and WHERE), what it sums per test, the test's last
    report and last (ordinal, outcome) code (ordinal * 4 + outcome code), what to group
    a test's rows by and its id (one per group).

    One report (the usual ingest) is summed in one pass; several are summed per report
    first, and the newest report of each test found with a window function.
    """
    r = source.c
    timed = _timed(r.outcome, r.duration)
    per_result = [
        _counted(r.outcome, "passed"),
        _counted(r.outcome, "failed", "error"),
        _counted(r.outcome, "skipped"),
        case((timed, 1), else_=0),
        case((timed, r.duration), else_=0.0),
    ]
    code = cast(r.ordinal, BigInteger) * 4 + case(_CODES, value=r.outcome)
    if single:
        base = select(r.test).where(literal(True))
        one = bindparam("single", type_=Integer)
        return base, per_result, one, func.max(code), r.test, func.max(r.test_id)
    names = ["passed", "failed", "skipped", "timed", "duration_sum"]
    per_report = (
        select(
            r.test,
            func.max(r.test_id).label("test_id"),
            r.report_id,
            *(func.sum(v).label(n) for n, v in zip(names, per_result, strict=True)),
            func.max(code).label("last"),
        )
        .group_by(r.test, r.report_id)
        .subquery()
    )
    newest = func.row_number().over(
        partition_by=per_report.c.test, order_by=per_report.c.report_id.desc()
    )
    ranked = select(per_report, newest.label("rn")).subquery()
    first = ranked.c.rn == 1
    return (
        select(ranked.c.test).where(literal(True)),
        [ranked.c[n] for n in names],
        func.max(case((first, ranked.c.report_id), else_=None)),
        func.max(case((first, ranked.c.last), else_=None)),
        ranked.c.test,
        func.max(ranked.c.test_id),
    )


def _day_updates(statement: Any, sign: int) -> dict[str, Any]:
    new, old = statement.excluded, test_days.c
    updates: dict[str, Any] = {
        name: old[name] + new[name]
        for name in ("passed", "failed", "skipped", "timed", "duration_sum")
    }
    if sign > 0:
        newer = tuple_(new.last_seen, new.last_report, new.last_ordinal) >= tuple_(
            old.last_seen, old.last_report, old.last_ordinal
        )
        for name in ("last_seen", "last_report", "last_ordinal", "last_outcome"):
            updates[name] = case((newer, new[name]), else_=old[name])
    return updates


def _add_bins(connection: Connection, sign: int) -> Any:
    """Add the results' durations to their day's bins (parameters: report_ids, day)."""
    b = _rows_of(connection).c
    rows = (
        select(
            func.max(b.test_id),
            bindparam("day", type_=test_day_bins.c.day.type),
            b.bin,
            sign * func.count(),
            func.min(b.duration),
            func.max(b.duration),
        )  # fmt: skip
        .where(b.bin > UNTIMED)
        .group_by(b.test, b.bin)
        .order_by(b.test, b.bin)
    )
    statement = _insert(connection, test_day_bins).from_select(
        ["test_id", "day", "bin", "count", "low", "high"], rows
    )
    old, new = test_day_bins.c, statement.excluded
    # taking durations out leaves the bounds as they were: still bounds
    least, greatest = (func.least, func.greatest) if _postgres(connection) else (func.min, func.max)
    return statement.on_conflict_do_update(
        index_elements=["day", "test_id", "bin"],
        set_={
            "count": old["count"] + new["count"],
            "low": least(old.low, new.low),
            "high": greatest(old.high, new.high),
        },
    )


def move_run(connection: Connection, run_id: int, old_created_at: datetime | None) -> None:
    """The run's created_at changed from *old_created_at*: take its results out of the
    old day, repair that day's newest result per test, roll them into the new one."""
    report_ids = list(
        connection.execute(
            select(reports.c.id).where(reports.c.run_id == run_id).order_by(reports.c.id)
        ).scalars()
    )
    if not report_ids:
        return
    if old_created_at is not None:
        day = day_of(old_created_at)
        _roll(connection, {"report_ids": report_ids}, old_created_at, -1)
        connection.execute(
            delete(test_days).where(
                test_days.c.day == day,
                test_days.c.passed + test_days.c.failed + test_days.c.skipped == 0,
            )
        )
        connection.execute(
            delete(test_day_bins).where(test_day_bins.c.day == day, test_day_bins.c["count"] == 0)
        )
        _repair_newest(connection, day, report_ids)
    add_reports(connection, report_ids)


def _repair_newest(connection: Connection, day: date, report_ids: Sequence[int]) -> None:
    """Give the tests of *day* whose newest result was in *report_ids* their newest
    result among the day's runs now."""
    stale = select(test_days.c.test_id).where(
        test_days.c.day == day, test_days.c.last_report.in_(report_ids)
    )
    r = test_results.c
    order = (runs.c.created_at.desc(), r.report_id.desc(), r.ordinal.desc())
    newest = func.row_number().over(partition_by=tests.c.id, order_by=order)
    ranked = (
        select(
            tests.c.id.label("test_id"),
            runs.c.created_at,
            r.report_id,
            r.ordinal,
            r.outcome,
            newest.label("rn"),
        )
        .select_from(
            _results_with_tests()
            .join(reports, reports.c.id == r.report_id)
            .join(runs, runs.c.id == reports.c.run_id)
        )
        .where(_in_day(day), r.report_id.in_(_reports_where(_in_day(day))), tests.c.id.in_(stale))
        .subquery()
    )
    found = connection.execute(select(ranked).where(ranked.c.rn == 1)).all()
    for row in found:
        connection.execute(
            update(test_days)
            .where(test_days.c.day == day, test_days.c.test_id == row.test_id)
            .values(
                last_seen=row.created_at,
                last_report=row.report_id,
                last_ordinal=row.ordinal,
                last_outcome=row.outcome,
            )
        )


def _reports_where(where: ColumnElement[bool]) -> Select[Any]:
    """The ids of the reports of the runs *where* holds: naming a window's reports by a
    subquery makes both planners start from runs.created_at's index (store._in_window)."""
    return select(reports.c.id).join(runs, runs.c.id == reports.c.run_id).where(where)


def _in_day(day: date) -> ColumnElement[bool]:
    start = _midnight(day)
    end = start + timedelta(days=1)
    return and_(runs.c.created_at >= start, runs.c.created_at < end)


def backfill(connection: Connection, batch: int = 64) -> None:
    """Roll up every stored report, a batch of one run's reports per statement."""
    query = select(reports.c.run_id, reports.c.id).order_by(reports.c.run_id, reports.c.id)
    group: list[int] = []
    current = None
    for run_id, report_id in connection.execute(query).all():
        if (run_id != current or len(group) >= batch) and group:
            add_reports(connection, group)
            group = []
        current = run_id
        group.append(report_id)
    add_reports(connection, group)


# -- reads ----------------------------------------------------------------------


def _whole_days_from(since: datetime | None) -> date | None:
    """The first day the window holds whole (None: every day)."""
    if since is None:
        return None
    start = since.astimezone(UTC)
    day = start.date()
    return day if start == _midnight(day) else day + timedelta(days=1)


def _raw_window(since: datetime | None) -> ColumnElement[bool] | None:
    """The runs whose results a window reads raw: the partial first day, or (for all
    history) the runs without a time. None: no raw part."""
    if since is None:
        return runs.c.created_at.is_(None)
    first = _whole_days_from(since)
    assert first is not None
    end = _midnight(first)
    if since >= end:
        return None
    return and_(runs.c.created_at >= since, runs.c.created_at < end)


def _raw_results(connection: Connection, since: datetime | None) -> Select[Any] | None:
    where = _raw_window(since)
    if where is None:
        return None
    r = test_results.c
    window_reports = _reports_where(where)
    return (
        select()
        .select_from(
            _results_with_tests()
            .join(reports, reports.c.id == r.report_id)
            .join(runs, runs.c.id == reports.c.run_id)
        )
        .where(where, r.report_id.in_(window_reports))
    )


def _day_rows(since: datetime | None, day: Any, *columns: Any) -> Select[Any]:
    query = select(*columns)
    first = _whole_days_from(since)
    return query if first is None else query.where(day >= first)


def totals_query(connection: Connection, since: datetime | None) -> Select[Any]:
    """Per test: its sums over the window (whole days from test_days, the partial first
    day from its raw results) and its newest day's last outcome (a primary-key lookup;
    NULL for a test seen only in the partial day)."""
    d, r = test_days.c, test_results.c
    parts: list[Select[Any]] = [
        _day_rows(
            since,
            d.day,
            d.test_id,
            d.passed,
            d.failed,
            d.skipped,
            d.timed,
            d.duration_sum,
            d.day.label("newest"),
        )  # fmt: skip
    ]
    raw = _raw_results(connection, since)
    if raw is not None:
        timed = _timed(r.outcome, r.duration)
        parts.append(
            raw.with_only_columns(
                tests.c.id,
                _counted(r.outcome, "passed"),
                _counted(r.outcome, "failed", "error"),
                _counted(r.outcome, "skipped"),
                case((timed, 1), else_=0),
                case((timed, r.duration), else_=0.0),
                literal(None, d.day.type),
            )
        )
    both = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    c = both.c
    sums = (
        select(
            c.test_id,
            func.sum(c.passed).label("passed"),
            func.sum(c.failed).label("failed"),
            func.sum(c.skipped).label("skipped"),
            func.sum(c.timed).label("timed"),
            func.sum(c.duration_sum).label("duration_sum"),
            func.max(c.newest).label("newest"),
        )
        .group_by(c.test_id)
        .subquery()
    )
    newest = test_days.alias("newest")
    query = (
        select(
            sums.c.test_id,
            tests.c.classname,
            tests.c.name,
            tests.c.file,
            sums.c.passed,
            sums.c.failed,
            sums.c.skipped,
            sums.c.timed,
            sums.c.duration_sum,
            newest.c.last_outcome,
            newest.c.last_seen,
        )  # fmt: skip
        .join(tests, tests.c.id == sums.c.test_id)
        .outerjoin(newest, and_(newest.c.day == sums.c.newest, newest.c.test_id == sums.c.test_id))
    )
    return query


def window_totals(connection: Connection, since: datetime | None) -> Iterator[WindowTotals]:
    """One WindowTotals per test with results in runs created since *since*; a test
    seen only in the window's partial first day gets its newest raw result there."""
    from pilothouse.analysis.test_stats import WindowTotals

    rows = connection.execute(totals_query(connection, since)).all()
    raw = _raw_results(connection, since)
    # only a test with no result on a whole day of the window needs its raw newest one
    unseen = raw is not None and any(row.last_outcome is None for row in rows)
    raw_last = _raw_last(connection, raw) if raw is not None and unseen else {}
    for row in rows:
        outcome, seen = (row.last_outcome, row.last_seen)
        if outcome is None:
            outcome, seen = raw_last[row.test_id]
        yield WindowTotals(
            row.test_id, row.classname, row.name, row.file, int(row.passed), int(row.failed),
            int(row.skipped), int(row.timed), float(row.duration_sum), outcome, seen,
        )  # fmt: skip


def _raw_last(connection: Connection, raw: Select[Any]) -> dict[int, tuple[Any, datetime | None]]:
    """Per test, the outcome and time of its newest result among the raw ones."""
    r = test_results.c
    timeless = case((runs.c.created_at.is_(None), 0), else_=1)
    order = (timeless.desc(), runs.c.created_at.desc(), r.report_id.desc(), r.ordinal.desc())
    rn = func.row_number().over(partition_by=tests.c.id, order_by=order)
    ranked = raw.with_only_columns(
        tests.c.id.label("test_id"), r.outcome, runs.c.created_at, rn.label("rn")
    ).subquery()
    query = select(ranked.c.test_id, ranked.c.outcome, ranked.c.created_at).where(ranked.c.rn == 1)
    return {row.test_id: (row.outcome, row.created_at) for row in connection.execute(query)}


def bins_query(connection: Connection, since: datetime | None) -> Select[Any]:
    """Per test, the bins of its window's durations that hold its median's and p90's
    two order statistics (one to four rows per test), with the ranks each holds."""
    b, r = test_day_bins.c, test_results.c
    parts: list[Select[Any]] = [
        _day_rows(since, b.day, b.test_id, b.bin, b["count"], b.low, b.high)
    ]
    raw = _raw_results(connection, since)
    if raw is not None:
        parts.append(
            raw.with_only_columns(
                tests.c.id, _bin_of(r.duration), literal(1), r.duration, r.duration
            ).where(_timed(r.outcome, r.duration))
        )
    both = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    c = both.c
    merged = (
        select(
            c.test_id,
            c.bin,
            func.sum(c["count"]).label("n"),
            func.min(c.low).label("low"),
            func.max(c.high).label("high"),
        )  # fmt: skip
        .group_by(c.test_id, c.bin)
        .subquery()
    )
    m = merged.c
    # PostgreSQL sums bigints as numeric: back to integers, for integer division
    upto = cast(func.sum(m.n).over(partition_by=m.test_id, order_by=m.bin), BigInteger)
    total = cast(func.sum(m.n).over(partition_by=m.test_id), BigInteger)
    spans = select(m.test_id, m.bin, m.low, m.high, (upto - m.n).label("first"),
                   (upto - 1).label("last"), total.label("total")).subquery()  # fmt: skip
    s = spans.c
    wanted = [(s.total - 1) * q // 100 for q in (50, 90)]
    holds = or_(*(and_(s.first <= rank + 1, s.last >= rank) for rank in wanted))
    return select(s.test_id, s.first, s.last, s.bin, s.low, s.high).where(holds)


def window_bins(connection: Connection, since: datetime | None) -> dict[int, list[sketch.BinSpan]]:
    """Per test id, the bins of bins_query."""
    found: dict[int, list[sketch.BinSpan]] = {}
    # plain tuples, unpacked: a few thousand rows per window, where attribute access on
    # each row cost as much as reading it
    for test_id, first, last, index, low, high in connection.execute(bins_query(connection, since)):
        spans = found.get(test_id)
        if spans is None:
            spans = found[test_id] = []
        spans.append(sketch.BinSpan(int(first), int(last), int(index), float(low), float(high)))
    return found
