"""Benchmark: the data behind every dashboard route, in process, on a 2M-result store.

The dashboard's pages call the same functions the CLI commands print with ``--json``
(``tests_data``, ``report_data``, ``runs_data``, ``flaky_data``, ``score_data``,
``cost_data``, ``cache_data``, ``crates_data``, ``artifacts_data``). This script opens
the 308-day store of ``benchmarks/read_scale.py`` (2.0M test results, ten months of
runs, costs, cargo builds, artifacts and job logs; loaded once into --cache, or into a
PostgreSQL schema with --pg) and calls each function in this process (no interpreter
start-up, one open store, as a web server would), for windows of 7, 30, 90 and 365
days, --repeat times after one warm-up call. It prints the median and p95 time per call,
p95 / 300 ms (the dashboard's goal: p95 < 300 ms per route), the median CPU time of this
process per call (what the call costs when the machine is not shared: on a loaded machine
the wall times are a multiple of it), and then, for the slowest
function at 30 days, the statement that took longest (statement plus the Python work on
its rows, until the next statement) with its EXPLAIN (QUERY PLAN).

The clock is pinned one hour after the store's newest run, so every window ends where
the history does. Goal (informational, the script exits 0 either way): every function
under 300 ms p95 at 30 days.

Run from the project root::

    .venv/bin/python benchmarks/route_data.py [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy
from read_scale import DAYS, ensure_loaded, store_urls

from pilothouse.cli.artifacts import artifacts_data
from pilothouse.cli.cache import cache_data
from pilothouse.cli.cost import cost_data, cost_window
from pilothouse.cli.crates import crates_data
from pilothouse.cli.flaky import flaky_data
from pilothouse.cli.reports import report_data, runs_data, tests_data
from pilothouse.cli.score import score_data
from pilothouse.cli.state import State, World
from pilothouse.cli.window import Window, resolve_window
from pilothouse.config import load_config
from pilothouse.store import Store

GOAL_SECONDS = 0.3
WINDOWS = (7, 30, 90, 365)
BUDGET_SECONDS = 20.0  # per function and window: fewer calls (at least 3) past it

Route = Callable[[Store, State, int], Any]


def _window(state: State, days: int) -> Window:
    return resolve_window(state.now(), days=days, since=None, default_days=None)


ROUTES: dict[str, Route] = {
    "tests_data": lambda s, st, d: tests_data(s, st, _window(st, d)),
    "report_data": lambda s, st, d: report_data(s, st, _window(st, d)),
    "runs_data (limit 20)": lambda s, st, d: runs_data(s, st, _window(st, d), limit=20),
    "flaky_data": lambda s, st, d: flaky_data(s, st, _window(st, d)),
    "score_data": lambda s, st, d: score_data(s, st, window_days=d),
    "cost_data": lambda s, st, d: cost_data(s, st, cost_window(st.now().date(), d)),
    "cache_data": lambda s, st, d: cache_data(s, st, _window(st, d)),
    "crates_data": lambda s, st, d: crates_data(s, st, _window(st, d)),
    "artifacts_data": lambda s, st, d: artifacts_data(s, st, window_days=d),
}


@dataclass
class Statements:
    """The statements run on an engine, each with the time until the next one starts
    (its execution, fetching and the Python work on its rows)."""

    found: list[tuple[float, str, Any]] = field(default_factory=list)
    started: float | None = None
    current: tuple[str, Any] | None = None

    def attach(self, engine: sqlalchemy.Engine) -> None:
        sqlalchemy.event.listen(engine, "before_cursor_execute", self._before)

    def _before(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        self.close()
        self.started, self.current = time.perf_counter(), (statement, params)

    def close(self) -> None:
        if self.started is not None and self.current is not None:
            self.found.append((time.perf_counter() - self.started, *self.current))
        self.started = self.current = None

    def slowest(self) -> tuple[float, str, Any]:
        return max(self.found, key=lambda item: item[0])


def clock_after_history(url: str) -> datetime:
    with Store.open(url) as store:
        found = store.run_range()
    assert found is not None, "the store holds no runs"
    return found[1].astimezone(UTC) + timedelta(hours=1)


def make_state(url: str, now: datetime, cwd: Path) -> State:
    env = {"PILOTHOUSE_DB": url}
    config = load_config(path=None, env=env, flags={}, cwd=cwd)
    return State(config=config, world=World(env=env, cwd=cwd, clock=lambda: now))


def time_route(
    route: Route, store: Store, state: State, days: int, repeat: int
) -> tuple[list[float], list[float]]:
    """Wall times and this process's CPU times of *repeat* calls, after a warm-up call."""
    route(store, state, days)  # warm-up: caches, prepared plans
    times: list[float] = []
    cpu: list[float] = []
    while len(times) < repeat and (len(times) < 3 or sum(times) < BUDGET_SECONDS):
        start, start_cpu = time.perf_counter(), time.process_time()
        route(store, state, days)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return times, cpu


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def explain(store: Store, statement: str, params: Any) -> list[str]:
    prefix = "EXPLAIN QUERY PLAN" if store.engine.dialect.name == "sqlite" else "EXPLAIN"
    with store.engine.connect() as connection:
        rows = connection.exec_driver_sql(f"{prefix} {statement}", params).all()
    return [str(row[-1]) for row in rows]


def bench(url: str, repeat: int, only: str | None) -> None:
    now = clock_after_history(url)
    routes = {k: v for k, v in ROUTES.items() if only is None or only in k}
    with tempfile.TemporaryDirectory() as cwd, Store.open(url) as store:
        state = make_state(url, now, Path(cwd))
        print(f"\n{store.description}, clock {now:%Y-%m-%d %H:%M} UTC, goal p95 < 300 ms")
        head = f"{'function':22} {'window':>6} {'calls':>5} {'median':>9} {'p95':>9}"
        print(f"{head} {'p95/goal':>8} {'cpu':>9}")
        worst: tuple[float, str] | None = None
        for name, route in routes.items():
            for days in WINDOWS:
                times, cpu = time_route(route, store, state, days, repeat)
                high = p95(times)
                verdict = "met" if high < GOAL_SECONDS else "MISSED"
                print(
                    f"{name:22} {days:>5}d {len(times):>5} {statistics.median(times) * 1e3:>7.0f}ms"
                    f" {high * 1e3:>7.0f}ms {high / GOAL_SECONDS:>7.2f}x"
                    f" {statistics.median(cpu) * 1e3:>7.0f}ms  {verdict}",
                    flush=True,
                )
                if days == 30 and (worst is None or high > worst[0]):
                    worst = (high, name)
        if worst is not None:
            slowest_statement(store, state, routes[worst[1]], worst[1])


def slowest_statement(store: Store, state: State, route: Route, name: str) -> None:
    statements = Statements()
    statements.attach(store.engine)
    start = time.perf_counter()
    route(store, state, 30)
    statements.close()
    total = time.perf_counter() - start
    seconds, statement, params = statements.slowest()
    print(
        f"\nslowest at 30 days: {name} ({total * 1e3:.0f} ms, {len(statements.found)} statements);"
        f" its slowest statement ({seconds * 1e3:.0f} ms with its rows):"
    )
    print("  " + " ".join(statement.split())[:1500])
    for line in explain(store, statement, params):
        print(f"    {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/pilothouse-read-scale"))
    parser.add_argument("--pg", help="PostgreSQL URL (the store goes in schema --pg-schema)")
    parser.add_argument("--pg-schema", default="read_scale_308", help="schema of the store")
    parser.add_argument("--end", default="2026-11-29", help="last day of the sample history")
    parser.add_argument("--repeat", type=int, default=20, help="timed calls per function")
    parser.add_argument("--only", help="time only the functions whose name contains this")
    parser.add_argument("--skip-sqlite", action="store_true", help="with --pg: PostgreSQL only")
    options = parser.parse_args()
    options.cache.mkdir(parents=True, exist_ok=True)
    end = date.fromisoformat(options.end)
    days = DAYS[-1]
    for backend, urls in store_urls(options.cache, options.pg).items():
        if backend == "sqlite" and options.skip_sqlite:
            continue
        url = urls[days]
        if backend == "postgresql":
            url = url.replace(f"read_scale_{days}", options.pg_schema)
        ensure_loaded(backend, days, url, options.pg, end, schema=options.pg_schema)
        bench(url, options.repeat, options.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
