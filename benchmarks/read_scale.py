"""Benchmark: read commands on a store of 0.4M and of 2M test results.

Two histories from ``pilothouse sample`` (60 and 308 days ending on --end, 0.42M and
2.0M test results) are loaded once per backend into a cache directory (SQLite) or a
schema of the PostgreSQL database (--pg URL), then each read command is run as its own
child process, whole-process (interpreter start-up included), --repeat times:

* ``report`` and ``tests --json`` over the 30 days before --end (``--since``);
* ``shard --shards 8 --json`` (durations from the store);
* ``runs --limit 20 --json``;
* ``flaky --window 400 --json`` (all history).

For each it prints the median wall time on each store, the growth ratio (2M / 0.4M)
and the peak RSS of the child (``os.wait4``), then the query plans (EXPLAIN) of the
window read (``shard``), of the rollup reads (``tests``, ``report``: per-test sums and
quantile bins, store/rollups.py), of ``runs --limit`` and of ``flaky``'s reads. Goal
(informational, the script exits 0 either way): peak RSS independent of the history for
every command, and growth <= 1.5x for every command but ``flaky``, whose time grows with
its window by definition (it reads every result of it, in SQL).

Then, in this process, what a dashboard route would pay: ``Store.test_stats`` over the
30-day window on the 2M store (goal 300 ms), beside the same statistics computed from
every raw result of the window (``summarize_tests(test_observations)``, the read before
the rollups), alternating, median of --repeat.

Run from the project root (the 308-day store takes several minutes to load once)::

    .venv/bin/python benchmarks/read_scale.py --cache /tmp/read-scale \\
        --pg postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy

from pilothouse.analysis.test_stats import summarize_tests
from pilothouse.store import Store, history, rollups
from pilothouse.store.engine import SCHEMA_REVISION, parse_url
from pilothouse.store.store import _newest_runs, observations_query

DAYS = (60, 308)
GROWTH_GOAL = 1.5
MEMORY_GOAL = 1.25  # peak RSS on the 2M store / on the 0.4M store: independent of history


def verdict(name: str, growth: float, memory: float) -> str:
    """The goal of one command: time growth <= 1.5x (not for `flaky`, which reads its
    whole window by definition) and peak RSS independent of the history (all of them)."""
    timed = name.startswith("flaky") or growth <= GROWTH_GOAL
    met = "met" if timed and memory <= MEMORY_GOAL else "MISSED"
    return f"{met} (memory {memory:.2f}x{', time not a goal' if name.startswith('flaky') else ''})"


ROUTE_GOAL_SECONDS = 0.3


def commands(since: str) -> dict[str, list[str]]:
    return {
        "report": ["report", "--since", since],
        "tests --json": ["tests", "--json", "--since", since],
        "shard --shards 8 --json": ["shard", "--shards", "8", "--json"],
        "runs --limit 20 --json": ["runs", "--limit", "20", "--json"],
        "flaky --window 400 --json": ["flaky", "--window", "400", "--json"],
    }


def run_child(url: str, args: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one CLI child process."""
    argv = [sys.executable, "-m", "pilothouse", "--db", url, *args]
    env = {**os.environ, "COLUMNS": "100"}
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    assert child.stderr is not None
    err = child.stderr.read().decode()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args)} on {url} failed ({child.returncode}): {err}")
    return elapsed, usage.ru_maxrss / 1024


def store_urls(cache: Path, pg: str | None) -> dict[str, dict[int, str]]:
    urls = {"sqlite": {days: f"sqlite:///{cache / f'sample{days}.db'}" for days in DAYS}}
    if pg:
        sep = "&" if "?" in pg else "?"
        urls["postgresql"] = {
            days: f"{pg}{sep}options=-csearch_path%3Dread_scale_{days}" for days in DAYS
        }
    return urls


def ensure_loaded(
    backend: str, days: int, url: str, pg: str | None, end: date, *, schema: str | None = None
) -> None:
    """Load the sample history once (PostgreSQL: into *schema*, by default
    read_scale_DAYS); later runs reuse it (upgraded to this schema)."""
    if backend == "sqlite":
        if Path(url.removeprefix("sqlite:///")).exists():
            upgrade(url)
            return
    else:
        assert pg is not None
        engine = sqlalchemy.create_engine(pg)
        with engine.begin() as connection:
            schema = schema or f"read_scale_{days}"
            found = connection.exec_driver_sql(
                "SELECT 1 FROM information_schema.tables"
                f" WHERE table_schema = '{schema}' AND table_name = 'test_results'"
            ).first()
            if found:
                engine.dispose()
                upgrade(url)
                return
            connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        engine.dispose()
    print(f"loading {days} days of sample history into {backend} (once)...", flush=True)
    subprocess.run(
        [sys.executable, "-m", "pilothouse", "--db", url, "sample", "--days", str(days),
         "--end", end.isoformat()],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip


def upgrade(url: str) -> None:
    """Bring a store loaded by an older pilothouse to this schema, timed (a migration
    with a backfill, such as 0008's rollups, takes a while at 2M results)."""
    if Store.revision(url) == SCHEMA_REVISION:
        return
    start = time.perf_counter()
    Store.upgrade(url)
    print(f"upgraded {url} to {SCHEMA_REVISION} in {time.perf_counter() - start:.1f} s", flush=True)


def explain(url: str, since: datetime) -> None:
    """Print the plans of the window read, of the runs choice and of flaky's reads."""
    engine = sqlalchemy.create_engine(parse_url(url))
    prefix = "EXPLAIN QUERY PLAN" if engine.dialect.name == "sqlite" else "EXPLAIN"
    aware = since.replace(tzinfo=UTC)
    with engine.connect() as connection:
        queries = {
            "window read (shard)": observations_query(since),
            "rollup sums (tests, report)": rollups.totals_query(connection, aware),
            "rollup quantile bins (tests, report)": rollups.bins_query(connection, aware),
            "runs --limit 20 (chosen runs)": sqlalchemy.select(_newest_runs(20, None)),
            "flaky: counts per run and suite": history.tallies_query(since),
            "flaky: tests that failed or retried": history.failing_query(since, [1, 2]),
            "flaky: tests named": history.named_query(["a", "b"]),
            "flaky: their histories": history.histories_query(since, [("a", "b", "c")] * 2),
            "flaky: outage messages": history.messages_query([1, 2]),
        }
        for title, query in queries.items():
            compiled = query.compile(engine, compile_kwargs={"render_postcompile": True})
            values = {k: str(v) for k, v in compiled.params.items()}  # plain text: both cast
            params: Any = (
                tuple(values[k] for k in compiled.positiontup or ())
                if compiled.positional
                else values
            )
            print(f"  {title}:")
            for row in connection.exec_driver_sql(f"{prefix} {compiled}", params):
                print(f"    {row[-1]}")
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/pilothouse-read-scale"))
    parser.add_argument("--pg", help="PostgreSQL URL (a schema per store is created in it)")
    parser.add_argument("--end", default="2026-11-29", help="last day of the sample history")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", help="run only the commands whose name contains this")
    parser.add_argument("--skip", help="skip the commands whose name contains this")
    options = parser.parse_args()
    options.cache.mkdir(parents=True, exist_ok=True)
    end = date.fromisoformat(options.end)
    since_day = end - timedelta(days=30)
    since = datetime(since_day.year, since_day.month, since_day.day)  # noqa: DTZ001 - SQL text
    cmds = commands(since_day.isoformat())
    if options.only:
        cmds = {k: v for k, v in cmds.items() if options.only in k}
    if options.skip:
        cmds = {k: v for k, v in cmds.items() if options.skip not in k}
    for backend, urls in store_urls(options.cache, options.pg).items():
        for days, url in urls.items():
            ensure_loaded(backend, days, url, options.pg, end)
        print(f"\n{backend}: median of {options.repeat}, seconds (peak RSS MB)")
        print(f"{'command':28} {'0.4M':>16} {'2M':>16} {'growth':>7}  goal")
        for name, args in cmds.items():
            cells = []
            for days in DAYS:
                runs = [run_child(urls[days], args) for _ in range(options.repeat)]
                cells.append((statistics.median(t for t, _ in runs), max(m for _, m in runs)))
            (small, small_mb), (large, large_mb) = cells
            growth, memory = large / small, large_mb / small_mb
            print(
                f"{name:28} {small:6.2f} ({small_mb:5.0f} MB) {large:6.2f} ({large_mb:5.0f} MB)"
                f" {growth:6.2f}x  {verdict(name, growth, memory)}"
            )
        for days in DAYS:
            print(f"EXPLAIN on the {days}-day store ({backend}):")
            explain(urls[days], since)
        route_read(urls[DAYS[-1]], since.replace(tzinfo=UTC), options.repeat)
    return 0


def route_read(url: str, since: datetime, repeat: int) -> None:
    """In process, the `tests` read a dashboard route makes, from the rollups and
    from the raw results, alternating."""
    rolled, raw = [], []
    with Store.open(url) as store:
        for _ in range(repeat):
            start = time.perf_counter()
            stats = store.test_stats(since=since)
            rolled.append(time.perf_counter() - start)
            start = time.perf_counter()
            exact = summarize_tests(store.test_observations(since=since))
            raw.append(time.perf_counter() - start)
    fast, slow = statistics.median(rolled), statistics.median(raw)
    met = "met" if fast <= ROUTE_GOAL_SECONDS else "MISSED"
    print(
        f"in-process tests read, {DAYS[-1]}-day store, median of {repeat}: rollups {fast:.3f} s"
        f" ({len(stats)} tests), raw results {slow:.3f} s ({len(exact)} tests),"
        f" {slow / fast:.1f}x faster; goal <= {ROUTE_GOAL_SECONDS} s {met}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
