"""Benchmark: p50/p95 latency of every GET route of the dashboard on a 2M-result store.

The store is read_scale.py's 308-day sample history (2.0M test results, a year of runs,
costs and job logs), loaded once into --cache and reused (see benchmarks/read_scale.py;
the same default cache, /tmp/pilothouse-read-scale). The app is built by
``create_app`` with the clock at the day after --end, and every GET route it has
(``web.app.get_paths``: routes added later are measured without a change here) is
requested --repeat times in this process through httpx's ASGI transport, after one
warm-up request, at the default window and at ``?days=90``. Path parameters are filled
from the store (``{test}``: the slowest test of the window, the one with most history
to draw); a route whose parameter this script cannot fill stops it, naming the route.

It prints per route p50 and p95 in ms and p95 / goal (300 ms on this 2-core machine),
then the SQL statement that took the longest in total over the run, with its EXPLAIN
(SQLite: EXPLAIN QUERY PLAN) and its share of the time. Informational: the script
exits 0 either way.

Run from the project root::

    .venv/bin/python benchmarks/serve.py --repeat 5
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import sqlalchemy
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).parent))
from read_scale import DAYS, ensure_loaded, store_urls  # noqa: E402

from pilothouse.cli.state import State, World  # noqa: E402
from pilothouse.config import load_config  # noqa: E402
from pilothouse.sources.durations import test_id  # noqa: E402
from pilothouse.store import Store  # noqa: E402
from pilothouse.web.app import create_app, get_paths  # noqa: E402

GOAL_MS = 300.0
WINDOWS = (None, 90)  # the default window (targets.window_days) and the selector's 90 days


@dataclass
class SqlClock:
    """Total time and count per SQL statement, from SQLAlchemy's cursor events."""

    totals: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    params: dict[str, Any] = field(default_factory=dict)

    def attach(self, engine: sqlalchemy.Engine) -> None:
        def before(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
            conn.info["started"] = time.perf_counter()

        def after(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
            self.totals[statement] += time.perf_counter() - conn.info.pop("started")
            self.counts[statement] += 1
            self.params.setdefault(statement, params)

        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)

    def heaviest(self) -> tuple[str, float, int]:
        statement = max(self.totals, key=lambda s: self.totals[s])
        return statement, self.totals[statement], self.counts[statement]


def state_at(url: str, now: datetime) -> State:
    env = {"PILOTHOUSE_DB": url}
    config = load_config(path=None, env=env, flags={}, cwd=Path.cwd())
    return State(config=config, world=World(env=env, cwd=Path.cwd(), clock=lambda: now))


def fillers(store: Store, since: datetime) -> dict[str, str]:
    """A value for each path parameter the routes use, from the store."""
    slowest = store.test_stats(since=since)[0]
    newest = store.list_runs(limit=1, since=since)[0]
    return {
        "test": quote(test_id(slowest.classname, slowest.name, slowest.file)),
        "run_id": quote(newest.id),
    }


def filled(path: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        path = path.replace(f"{{{name}}}", value)
    if "{" in path:
        raise SystemExit(f"benchmarks/serve.py: cannot fill the parameters of {path}: add them")
    return path


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def timed(client: httpx.AsyncClient, url: str, repeat: int) -> list[float]:
    """Milliseconds of *repeat* requests of *url*, after one warm-up."""
    response = await client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"benchmarks/serve.py: {url}: HTTP {response.status_code}")
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        (await client.get(url)).raise_for_status()
        times.append(1000 * (time.perf_counter() - start))
    return times


async def measure(app: Any, urls: list[str], repeat: int, report: Callable[..., None]) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for url in urls:
            report(url, await timed(client, url, repeat))


def print_row(url: str, times: list[float]) -> None:
    p50, p95 = statistics.median(times), percentile(times, 0.95)
    verdict = "met" if p95 < GOAL_MS else "MISSED"
    print(f"{url:70.70} {p50:9.1f} {p95:9.1f} {p95 / GOAL_MS:8.2f}x  {verdict}", flush=True)


def explain(engine: sqlalchemy.Engine, statement: str, params: Any) -> list[str]:
    prefix = "EXPLAIN QUERY PLAN" if engine.dialect.name == "sqlite" else "EXPLAIN"
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(f"{prefix} {statement}", params)
        return [str(row[-1]) for row in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/pilothouse-read-scale"))
    parser.add_argument("--end", default="2026-11-29", help="last day of the sample history")
    parser.add_argument("--repeat", type=int, default=5, help="timed requests per route")
    parser.add_argument("--only", help="measure only the routes containing this")
    options = parser.parse_args()
    options.cache.mkdir(parents=True, exist_ok=True)
    end = date.fromisoformat(options.end)
    url = store_urls(options.cache, None)["sqlite"][DAYS[-1]]
    ensure_loaded("sqlite", DAYS[-1], url, None, end)
    now = datetime.combine(end + timedelta(days=1), clock_time(), UTC)
    sql = SqlClock()
    with Store.open(url) as store:
        counts = store.counts()
        print(f"{url}: {counts.get('test_results', 0):,} test results, clock {now:%Y-%m-%d}")
        state = state_at(url, now)
        app = create_app(state, store)
        values = fillers(store, now - timedelta(days=int(state.config["targets.window_days"])))
        paths = [filled(p, values) for p in get_paths(app)]
        urls = [p if days is None else f"{p}?days={days}" for p in paths for days in WINDOWS]
        urls = [u for u in urls if not options.only or options.only in u]
        sql.attach(store.engine)
        print(f"\n{len(paths)} GET routes, {options.repeat} requests each after a warm-up")
        print(
            f"{'route':70} {'p50 ms':>9} {'p95 ms':>9} {'p95/goal':>9}  goal p95 < {GOAL_MS:g} ms"
        )
        start = time.perf_counter()
        asyncio.run(measure(app, urls, options.repeat, print_row))
        elapsed = time.perf_counter() - start
        statement, total, count = sql.heaviest()
        print(
            f"\nheaviest SQL statement: {total:.1f} s in {count} executions "
            f"({100 * total / elapsed:.0f} % of the {elapsed:.1f} s run):\n{statement}"
        )
        for line in explain(store.engine, statement, sql.params[statement]):
            print(f"  {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
