"""Benchmark: `pilothouse score --json` on a year of runs and 2 million test results.

Two histories from ``pilothouse sample`` ending today (60 and 308 days: 0.4M and 2.0M
test results, the 308-day one a year of weekday runs), loaded once per backend into a
cache directory (SQLite) or a schema of the PostgreSQL database (--pg URL). Each
command runs as its own child process (interpreter start-up included), --repeat times:

* ``score --json``: the whole scorecard (two windows of 14 days);
* its peers: ``--version`` (the start-up floor), ``runs --limit 20 --json``,
  ``flaky --window 28 --json`` (the same results the pass rate reads) and
  ``cost --days 28 --json`` (the same ledger days).

It prints the median wall time and peak RSS of each, the scorecard's time against the
sum of its peers' (it does what they do, once) and its growth from 0.4M to 2M results,
then EXPLAIN of every SELECT the scorecard sends, captured from a run in this process,
and the full scans among them (tables other than the handful of workflows).
Informational: it exits 0 either way. Timings on a shared machine are noisy: compare
the ratios printed by one run.

Run from the project root (the 308-day store takes a few minutes to load once)::

    .venv/bin/python benchmarks/score.py [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import statistics
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine

from pilothouse.cli import run
from pilothouse.store.engine import parse_url

sys.path.insert(0, str(Path(__file__).parent))
from read_scale import ensure_loaded, run_child  # noqa: E402 - the sibling benchmark

DAYS = (60, 308)
SCORE = ["score", "--json"]
PEERS = {
    "--version": ["--version"],
    "runs --limit 20 --json": ["runs", "--limit", "20", "--json"],
    "flaky --window 28 --json": ["flaky", "--window", "28", "--json"],
    "cost --days 28 --json": ["cost", "--days", "28", "--json"],
}
# Tables whose every row a query may read: a repository has a handful of workflows.
SMALL_TABLES = {"workflows", "repositories", "alembic_version"}


def store_urls(cache: Path, pg: str | None, end: date) -> dict[str, dict[int, str]]:
    urls = {"sqlite": {d: f"sqlite:///{cache / f'score{d}-{end}.db'}" for d in DAYS}}
    if pg:
        sep = "&" if "?" in pg else "?"
        urls["postgresql"] = {
            d: f"{pg}{sep}options=-csearch_path%3D{_schema(d, end)}" for d in DAYS
        }
    return urls


def _schema(days: int, end: date) -> str:
    return f"score_{days}_{end:%Y%m%d}"


def timings(urls: dict[int, str], repeat: int) -> dict[str, list[tuple[float, float]]]:
    """Per command, per store: (median seconds, peak RSS MB)."""
    found: dict[str, list[tuple[float, float]]] = {}
    for name, args in {"score --json": SCORE, **PEERS}.items():
        for days in DAYS:
            runs = [run_child(urls[days], args) for _ in range(repeat)]
            found.setdefault(name, []).append(
                (statistics.median(t for t, _ in runs), max(m for _, m in runs))
            )
    return found


def print_timings(backend: str, found: dict[str, list[tuple[float, float]]], repeat: int) -> None:
    print(f"\n{backend}: median of {repeat}, seconds (peak RSS MB)")
    print(f"{'command':28} {'0.4M':>16} {'2M':>16} {'growth':>7}")
    for name, cells in found.items():
        (small, small_mb), (large, large_mb) = cells
        print(
            f"{name:28} {small:6.2f} ({small_mb:5.0f} MB) {large:6.2f} ({large_mb:5.0f} MB)"
            f" {large / small:6.2f}x"
        )
    score = found["score --json"][1][0]
    peers = sum(found[name][1][0] for name in PEERS if name != "--version")
    startup = found["--version"][1][0]
    print(
        f"score on 2M results: {score:.2f} s = {score / peers:.2f}x the sum of runs, flaky and "
        f"cost ({peers:.2f} s), {score / startup:.1f}x the interpreter start-up ({startup:.2f} s)"
    )


def captured_selects(url: str) -> list[tuple[str, Any]]:
    """Every SELECT `score --json` sends, with its parameters, run in this process."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            if "alembic_version" not in statement and (statement, parameters) not in seen:
                seen.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", capture)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            code = run(["--db", url, *SCORE])
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
    assert code == 0, f"score exited {code}"
    return seen


def _full_scans(backend: str, plan: list[str]) -> list[str]:
    """Tables read whole: SQLite's SCAN (also "USING INDEX": the whole index, in its
    order), PostgreSQL's Seq Scan."""
    pattern = r"^SCAN (\w+)" if backend == "sqlite" else r"Seq Scan on (\w+)"
    found = []
    for line in plan:
        match = re.search(pattern, line.strip())
        if match and match.group(1) not in SMALL_TABLES:
            found.append(match.group(1))
    return found


def _without_seq_scans(connection: Any, explain_sql: str, parameters: Any) -> None:
    """PostgreSQL reads a table of a few thousand rows whole when that is cheaper: show the
    plan it has when sequential scans are discouraged, i.e. the index path that exists."""
    connection.exec_driver_sql("SET enable_seqscan = off")
    try:
        rows = connection.exec_driver_sql(explain_sql, parameters).all()
    finally:
        connection.exec_driver_sql("RESET enable_seqscan")
    print("      with enable_seqscan = off:")
    for row in rows:
        print(f"        {row[-1]}")


def explain(url: str) -> None:
    """The plan of each SELECT the scorecard sends, and the full scans among them."""
    statements = captured_selects(url)
    engine = sqlalchemy.create_engine(parse_url(url))
    backend = engine.dialect.name
    prefix = "EXPLAIN QUERY PLAN" if backend == "sqlite" else "EXPLAIN"
    scans: list[str] = []
    with engine.connect() as connection:
        for number, (statement, parameters) in enumerate(statements, start=1):
            if "pg_catalog" in statement:
                continue  # the store's own "are pilothouse's tables here" check
            one_line = " ".join(statement.split())
            print(f"  [{number}] {one_line[:150]}{'...' if len(one_line) > 150 else ''}")
            rows = connection.exec_driver_sql(f"{prefix} {statement}", parameters).all()
            plan = [str(row[-1]) for row in rows]
            for line in plan:
                print(f"      {line}")
            found = _full_scans(backend, plan)
            scans += found
            if found and backend == "postgresql":
                _without_seq_scans(connection, f"{prefix} {statement}", parameters)
    engine.dispose()
    print(
        f"  {len(statements)} queries; full scans of large tables: {sorted(set(scans)) or 'none'}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/pilothouse-score-bench"))
    parser.add_argument("--pg", help="PostgreSQL URL (a schema per store is created in it)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--explain-only", action="store_true", help="skip the timings")
    options = parser.parse_args()
    options.cache.mkdir(parents=True, exist_ok=True)
    end = datetime.now(UTC).date()  # the scorecard reads the 28 days up to now
    for backend, urls in store_urls(options.cache, options.pg, end).items():
        for days, url in urls.items():
            ensure_loaded(backend, days, url, options.pg, end, schema=_schema(days, end))
        if not options.explain_only:
            print_timings(backend, timings(urls, options.repeat), options.repeat)
        print(f"EXPLAIN of the scorecard's queries on the 308-day store ({backend}):")
        explain(urls[308])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
