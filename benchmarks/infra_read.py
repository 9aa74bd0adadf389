"""Benchmark: what `pilothouse infra` pays to aggregate a fleet's CloudWatch points.

The window's p50/p95, idle and weekend hours are computed by the database
(`Store.infra_stats`: `row_number()` over each resource's and metric's points, then one
row per resource and metric). Its peer is the plain way: read the window's points into
Python and take the same percentiles with `test_stats.percentile`. Both must agree; the
ratio says what doing it in SQL costs or saves. Also printed: the write of the points
(`Store.save_infra`, one transaction) and a second, incremental write of the same points
(all already stored: ON CONFLICT DO NOTHING).

A fleet of --instances instances, 4 metrics each (no memory agent), 5-minute points over
--days days: 40 instances x 14 days = 645,120 points. Run from the project root::

    .venv/bin/python benchmarks/infra_read.py [--db URL] [--instances 40] [--days 14]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from pilothouse.analysis.test_stats import percentile
from pilothouse.infra.model import INSTANCE, MetricPoint, Resource
from pilothouse.store import Store
from pilothouse.store.schema import infra_points, infra_resources

END = datetime(2026, 11, 27, tzinfo=UTC)
METRICS = ("cpu", "network_in", "network_out", "status_failed")
PERIOD = 300


def fleet(instances: int, days: int) -> tuple[list[Resource], list[MetricPoint]]:
    rng = random.Random(17)
    resources = [Resource(f"i-{n:017x}", INSTANCE, f"build-{n}", "eu-west-1", "running",
                          "m5.2xlarge") for n in range(instances)]  # fmt: skip
    start = END - timedelta(days=days)
    points = [
        MetricPoint(r.key, metric, start + timedelta(seconds=PERIOD * k), PERIOD,
                    round(rng.uniform(0, 100), 3))
        for r in resources
        for metric in METRICS
        for k in range(days * 86400 // PERIOD)
    ]  # fmt: skip
    return resources, points


def in_python(store: Store, since: datetime, idle: float) -> dict[tuple[str, str], Any]:
    """The peer: the window's points read into Python, percentiles taken there."""
    query = (
        select(infra_resources.c.resource_key, infra_points.c.metric, infra_points.c.value)
        .join(infra_resources, infra_resources.c.id == infra_points.c.resource_id)
        .where(infra_points.c.period_start >= since)
    )
    grouped: dict[tuple[str, str], list[float]] = {}
    with store.engine.connect() as connection:
        for key, metric, value in connection.execute(query):
            grouped.setdefault((key, metric), []).append(value)
    return {
        group: (percentile(values, 50), percentile(values, 95),
                sum(PERIOD for v in values if v < idle) / 3600)
        for group, values in grouped.items()
    }  # fmt: skip


def timed(action: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="store URL (default: a SQLite file in a temp dir)")
    parser.add_argument("--instances", type=int, default=40)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.db or f"sqlite:///{Path(folder) / 'infra.db'}"
        resources, points = fleet(args.instances, args.days)
        with Store.open(url, create=True) as store:
            began = time.perf_counter()
            store.save_infra(resources, points, {}, seen_at=END)
            write = time.perf_counter() - began
            began = time.perf_counter()
            again = store.save_infra(resources, points, {}, seen_at=END)
            rewrite = time.perf_counter() - began
            since = END - timedelta(days=args.days)
            sql, stats = timed(lambda: store.infra_stats(since, END, idle_below=5.0), args.repeat)
            python, peer = timed(lambda: in_python(store, since, 5.0), args.repeat)
        for item in stats:
            p50, p95, idle = peer[(item.resource, item.metric)]
            assert (item.p50, item.p95, item.below_idle_hours) == (p50, p95, idle), item
        print(
            f"store: {url.split('://')[0]}, {len(points):,} points "
            f"({args.instances} instances x {len(METRICS)} metrics x {args.days} days)"
        )
        print(
            f"write, one transaction:        {write:8.2f} s ({len(points) / write:,.0f} points/s)"
        )
        print(f"write again (all known):       {rewrite:8.2f} s ({again.known_points:,} known)")
        print(f"window stats in SQL (median):  {sql:8.3f} s, {len(stats)} rows")
        print(f"read + percentiles in Python:  {python:8.3f} s, {len(peer)} groups")
        print(f"ratio SQL / Python:            {sql / python:8.2f}x (the same numbers)")


if __name__ == "__main__":
    main()
