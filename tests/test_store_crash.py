"""Crash safety: `kill -9` at any statement of first-use migrations or of an ingest leaves
a readable store holding none of the report, and the next ingest completes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy

from pilothouse.store import Store
from pilothouse.store.engine import SCHEMA_REVISION

from .conftest import JUNIT, PG_URL, Cli

# Runs `pilothouse ARGV`, stopping for good before the STOP-th SQL statement
# (0: never) after saying so; prints where the ingest's own statements begin.
_CHILD = """
import sys, time
from sqlalchemy import event
from sqlalchemy.engine import Engine
from pilothouse.cli import run

stop, seen, ingest = int(sys.argv[1]), [0], []

@event.listens_for(Engine, "before_cursor_execute")
def _count(_conn, _cursor, statement, *_args):
    seen[0] += 1
    if not ingest and statement.startswith("INSERT INTO repositories"):
        ingest.append(seen[0])
    if seen[0] == stop:
        print("stopped", flush=True)
        time.sleep(600)

@event.listens_for(Engine, "commit")
def _committed(_conn):
    # The ingest's last statement is the one before its COMMIT; what follows
    # (PostgreSQL's ANALYZE of the grown tables) runs after the report is stored.
    if len(ingest) == 1:
        ingest.append(seen[0])

code = run(sys.argv[3:])
with open(sys.argv[2], "w") as marker:
    marker.write(f"done {ingest[0]} {ingest[1]}")
sys.exit(code)
"""
REPORTS = [
    JUNIT / "test-reporter" / "external__java__pulsar-test-report.xml",
    JUNIT / "test-reporter" / "nette-tester__tester-v1.7-report.xml",
]
ARGV = ["ingest", "junit", *map(str, REPORTS), "--run-id", "7", "--job", "test"]


def _ingest(url: str, cwd: Path, stop: int) -> str:
    """The child's last line; killed with SIGKILL once it stopped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(stop), str(cwd / "marker"), *ARGV],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "PILOTHOUSE_DB": url},
        cwd=cwd,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    killed = line == "stopped\n"
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == (-signal.SIGKILL if killed else 0), (proc.returncode, err)
    return "stopped" if killed else (cwd / "marker").read_text()


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Makes URLs of new, empty stores on one backend."""
    schemas: list[str] = []

    def make() -> str:
        if request.param == "sqlite":
            return f"sqlite:///{tmp_path / uuid.uuid4().hex}.db"
        schemas.append(f"t_{uuid.uuid4().hex[:12]}")
        with admin.begin() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {schemas[-1]}")
        return f"{PG_URL}?options=-csearch_path%3D{schemas[-1]}"

    admin = sqlalchemy.create_engine(PG_URL)
    try:
        yield make
    finally:
        for schema in schemas:
            with admin.begin() as connection:
                connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def test_kill_9_during_migrations_or_ingest_leaves_none_of_the_report(
    fresh_store: Callable[[], str], tmp_path: Path
) -> None:
    _done, ingest_from, total = _ingest(fresh_store(), tmp_path, 0).split()
    first, last = int(ingest_from), int(total)
    # In the migrations (their middle, their last statement) and in the ingest's
    # transaction (its first statement, its middle, its last before COMMIT).
    for stop in sorted({first // 2, first - 1, first, (first + last) // 2, last}):
        url = fresh_store()
        assert _ingest(url, tmp_path, stop) == "stopped"
        revision = Store.revision(url)
        assert revision in (None, SCHEMA_REVISION), stop  # migrations are all or nothing
        if revision is not None:
            with Store.open(url) as store:
                counts = store.counts()
            assert (counts["runs"], counts["reports"], counts["test_results"]) == (0, 0, 0)
        # The store is usable again: the next ingest (in this process) completes it.
        code, _out, err = Cli(cwd=tmp_path, db=url)(*ARGV, "--json")
        assert code == 0, err
        with Store.open(url) as store:
            assert store.counts()["test_results"] == 808 + 65
