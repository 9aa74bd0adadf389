"""Benchmark: what one `/metrics` scrape costs on a store of 2 million test results.

A scrape builds the scorecard (as `pilothouse score` does) plus the store reads that
count and bucket in SQL (store/metrics.py). Its peer is the scorecard alone: the scrape
should cost little more, and neither should grow with the history. This loads the
308-day sample (2.0M results) once into --cache (or reads the store at --db), then
times, alternating, --repeat rounds: `metrics_payload` (one scrape, exposition
included), `build_scorecard` alone, and each of the scrape's own store reads; it prints
the medians, the ratio scrape / scorecard and the exposition's size.

Run from the project root (loading the 308-day store takes several minutes, once)::

    .venv/bin/python benchmarks/metrics_scrape.py --cache /tmp/pilothouse-read-scale
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from datetime import time as day_time
from pathlib import Path
from typing import Any

from pilothouse.cli import score as score_cli
from pilothouse.cli.state import State, World
from pilothouse.config import load_config
from pilothouse.store import Store
from pilothouse.web.metrics import QUEUE_BOUNDS, RUN_BOUNDS, metrics_payload

DAYS = 308
END = date(2026, 11, 29)


def ensure_store(cache: Path) -> str:
    """The 308-day sample in *cache* (benchmarks/read_scale.py's file name), loaded once."""
    path = cache / f"sample{DAYS}.db"
    url = f"sqlite:///{path}"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        print(f"loading {DAYS} days of sample history into {path} (once)...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pilothouse", "--db", url, "sample", "--days", str(DAYS),
             "--end", END.isoformat(), "--json"],
            check=True, stdout=subprocess.DEVNULL, cwd=cache,
        )  # fmt: skip
    return url


def state_for(url: str, cwd: Path) -> State:
    """The state a scrape at the end of the history sees (noon after its last day)."""
    now = datetime.combine(END, day_time(12), tzinfo=UTC)
    world = World(env={}, cwd=cwd, clock=lambda: now)
    return State(load_config(path=None, env={}, flags={"db": url}, cwd=cwd), world)


def medians_of(tasks: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """The median seconds of each task, run in turn *repeat* times (alternating, so that
    the machine's noise falls on all of them alike)."""
    times: dict[str, list[float]] = {name: [] for name in tasks}
    for _ in range(repeat):
        for name, task in tasks.items():
            start = time.perf_counter()
            task()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/pilothouse-read-scale"))
    parser.add_argument("--db", help="a store URL to read instead of the cached sample")
    parser.add_argument("--repeat", type=int, default=7)
    options = parser.parse_args()
    url = options.db or ensure_store(options.cache)
    state = state_for(url, options.cache)
    targets = score_cli.resolve_targets(state, None)
    windows = score_cli.Windows.ending(state.now(), targets.window_days)
    since = windows.current.since
    with Store.open(url) as store:
        results = store.counts()["test_results"]
        body, _content_type = metrics_payload(state, store)  # warm the page cache once
        tasks: dict[str, Callable[[], Any]] = {
            "scrape (metrics_payload)": lambda: metrics_payload(state, store),
            "scorecard alone (build_scorecard)": lambda: score_cli.build_scorecard(
                store, state, targets, windows, options.cache
            ),
            "  run_duration_buckets": lambda: store.run_duration_buckets(since, RUN_BOUNDS),
            "  job_queue_buckets": lambda: store.job_queue_buckets(since, QUEUE_BOUNDS),
            "  run_totals": store.run_totals,
            "  outcome_totals": store.outcome_totals,
            "  sync_times": store.sync_times,
        }
        medians = medians_of(tasks, options.repeat)
    print(f"store: {url} ({results:,} test results), window {targets.window_days} days")
    print(f"median of {options.repeat}, seconds:")
    for name, seconds in medians.items():
        print(f"  {name:<36} {seconds:8.3f}")
    scrape, card = medians["scrape (metrics_payload)"], medians["scorecard alone (build_scorecard)"]
    lines = sum(1 for line in body.splitlines() if not line.startswith(b"#"))
    print(
        f"scrape / scorecard: {scrape / card:.2f}x; exposition {len(body):,} bytes, {lines} samples"
    )


if __name__ == "__main__":
    main()
