"""Benchmark: how many GitHub API requests a sync makes, against the fewest possible.

A local HTTP server (the project's GitHub fake, on 127.0.0.1) holds 2,000 workflow
runs with 4 jobs each over 60 days, some artifacts, two workflows and a cache
usage figure. pilothouse syncs it into a fresh SQLite store through the real
client over loopback, then syncs again with nothing changed, then once more
after one new run and one re-run.

The minimum for a first sync is what the data forces on any client of the REST
API: the runs listing at 100 per page, one jobs listing per run (jobs of every
attempt come in one `filter=all` call), the artifacts listing, the workflows
listing and the cache usage. Requests are counted on the server. No timing
thresholds: the numbers are printed as ratios.

Run from the project root::

    .venv/bin/python benchmarks/github_sync.py [--runs 2000] [--jobs 4]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the fake lives with the tests

from tests.github_fake import FakeGitHub  # noqa: E402

from pilothouse.github_sync import sync_github  # noqa: E402
from pilothouse.sources.github import GitHubApi, Token  # noqa: E402
from pilothouse.store import Store  # noqa: E402

REPO = "hypha-labs/hypha"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def build(runs: int, jobs: int, artifacts: int) -> FakeGitHub:
    fake = FakeGitHub(REPO, clock_start=NOW, rate_limit=1_000_000)
    fake.add_workflow("tests-all", ".github/workflows/tests.yml")
    fake.add_workflow("release", ".github/workflows/release.yml")
    made = []
    for i in range(runs):
        created = NOW - timedelta(days=60) + timedelta(days=60) * i / runs
        workflow = "release" if i % 50 == 0 else "tests-all"
        made.append(fake.add_run(workflow=workflow, created_at=created, jobs=jobs))
    for i in range(artifacts):
        fake.add_artifact(made[-1 - i]["id"], f"wheels-{i}", 10_000_000 + i)
    fake.set_cache_usage(40, 7_500_000_000)
    return fake


def minimum_first_sync(runs: int, artifacts: int) -> int:
    pages = math.ceil(runs / 100)
    return pages + runs + max(math.ceil(artifacts / 100), 1) + 1 + 1


def sync_once(store: Store, fake: FakeGitHub, url: str) -> tuple[int, int, float]:
    """One sync over loopback; (requests seen by the server, billable ones, seconds)."""
    before, billable = fake.count(), fake.billable
    start = time.perf_counter()
    with httpx.Client(timeout=30) as client:
        api = GitHubApi(
            client, Token(fake.token, "GITHUB_TOKEN"), api_url=url, clock=lambda: fake.now
        )
        sync_github(store, api, REPO, now=fake.now)
    return fake.count() - before, fake.billable - billable, time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--artifacts", type=int, default=150)
    args = parser.parse_args(argv)
    fake = build(args.runs, args.jobs, args.artifacts)
    minimum = minimum_first_sync(args.runs, args.artifacts)
    with tempfile.TemporaryDirectory() as tmp, fake.serve() as url:
        with Store.open(f"sqlite:///{tmp}/bench.db", create=True) as store:
            first, first_billable, first_s = sync_once(store, fake, url)
            second, second_billable, second_s = sync_once(store, fake, url)
            third, third_billable, third_s = sync_once(store, fake, url)
            fake.now += timedelta(hours=1)
            fake.add_run(workflow="tests-all", created_at=fake.now, jobs=args.jobs)
            old = fake.add_run(workflow="tests-all", created_at=fake.now - timedelta(days=1))
            fake.rerun(old["id"], at=fake.now)
            fourth, fourth_billable, fourth_s = sync_once(store, fake, url)
            counts = store.counts()
    print(f"{args.runs} runs x {args.jobs} jobs, {args.artifacts} artifacts, over loopback HTTP")
    print(f"stored: {counts['runs']} run attempts, {counts['jobs']} jobs, {counts['steps']} steps")
    print()
    print(f"{'sync':<34}{'requests':>10}{'billable':>10}{'seconds':>9}")
    print(f"{'first (whole history)':<34}{first:>10}{first_billable:>10}{first_s:>9.1f}")
    print(f"{'second, nothing changed':<34}{second:>10}{second_billable:>10}{second_s:>9.1f}")
    print(f"{'third, nothing changed':<34}{third:>10}{third_billable:>10}{third_s:>9.1f}")
    print(f"{'fourth, 1 new run + 1 re-run':<34}{fourth:>10}{fourth_billable:>10}{fourth_s:>9.1f}")
    print()
    print(f"first sync requests / minimum needed ({minimum}): {first / minimum:.3f}")
    print(f"no-change sync requests / first sync requests:  {third / first:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
