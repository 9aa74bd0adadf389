"""Tests (`/tests`): pass rate over time with and without quarantined tests, the slowest,
the failing now, the flaky with their evidence, search by name; `/tests/{test}`: one
test's history. The /api twins are `tests --json` and `flaky --json`."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from pilothouse.analysis.flaky import message_key
from pilothouse.analysis.test_stats import TestStats, failing_tests, summarize_tests
from pilothouse.cli.flaky import flaky_data
from pilothouse.cli.reports import tests_dict
from pilothouse.flaky_reader import names_in
from pilothouse.model import TestObservation, TestResultRow
from pilothouse.sources.durations import test_id
from pilothouse.store import Store
from pilothouse.web.deps import StateDep, StoreDep, Window, WindowDep
from pilothouse.web.render import api, page

router = APIRouter()
NAV: tuple[str, str] | None = ("Tests", "/tests")

SearchQuery = Annotated[str, Query(max_length=200, description="Part of a test's id.")]
SHOWN = 25  # rows of each table on the page (the API has them all)
FAILED = ("failed", "error")
HINTS = ("pilothouse ingest junit PATH", "pilothouse sample")  # what adds test results


def matching(stats: list[TestStats], query: str) -> list[TestStats]:
    """The tests whose id contains *query* (any case); all of them for an empty one."""
    needle = query.strip().casefold()
    if not needle:
        return stats
    return [s for s in stats if needle in test_id(s.classname, s.name, s.file).casefold()]


@router.get("/api/tests")
def tests_api(store: StoreDep, window: WindowDep, q: SearchQuery = "") -> Response:
    """`pilothouse tests --window N --json`, only the tests matching ?q= when given."""
    return api(tests_dict(matching(store.test_stats(since=window.since), q), None))


@router.get("/api/flaky")
def flaky_api(store: StoreDep, state: StateDep, window: WindowDep) -> Response:
    """`pilothouse flaky --window N --json`."""
    return api(flaky_data(store, state, window.read))


@router.get("/tests", response_class=HTMLResponse)
def tests_page(
    request: Request, store: StoreDep, state: StateDep, window: WindowDep, q: SearchQuery = ""
) -> Response:
    stats = matching(store.test_stats(since=window.since), q)
    flaky = flaky_data(store, state, window.read)
    failing = [s for s in failing_tests(stats) if s.last_outcome in FAILED]
    return page(
        request,
        "tests.html",
        window,
        stored=store.run_range(with_results=True) is not None,
        hints=HINTS,
        q=q,
        total=len(stats),
        slowest=[row(s) for s in stats[:SHOWN]],
        failing=[row(s) for s in failing[:SHOWN]],
        failing_total=len(failing),
        flaky=[
            flaky_row(f) for f in flaky["flaky"] if q.strip().casefold() in f["test"].casefold()
        ],
        overall=flaky["pass_rate"]["overall"],
        pass_rate=pass_rate_chart(flaky["pass_rate"]["by_day"]),
    )


def flaky_row(item: dict[str, Any]) -> dict[str, Any]:
    """A `flaky --json` record with its evidence counted by kind (`retry ×3`)."""
    kinds = Counter(evidence["kind"] for evidence in item["evidence"])
    return {**item, "evidence_kinds": [f"{kind} ×{n}" for kind, n in sorted(kinds.items())]}


def row(stats: TestStats) -> dict[str, Any]:
    """A TestStats as the tables show it, with its id (the per-test page's key)."""
    return {"id": test_id(stats.classname, stats.name, stats.file), **stats.as_dict()}


def day_seconds(day: str) -> int:
    return int(datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC).timestamp())


def pass_rate_chart(by_day: list[dict[str, Any]]) -> dict[str, Any]:
    """Daily pass rate, percent, with and without the quarantined tests."""

    def percent(value: float | None) -> float | None:
        return None if value is None else round(100 * value, 3)

    return {
        "kind": "line",
        "x": [day_seconds(d["day"]) for d in by_day],
        "series": [
            {"label": label, "unit": "%", "values": [percent(d[key]) for d in by_day]}
            for label, key in (
                ("with quarantined", "with_quarantined"),
                ("without quarantined", "without_quarantined"),
            )
        ],
        "lines": [],
    }


# -- one test ---------------------------------------------------------------------------


def find_test(store: Store, key: str) -> list[tuple[str, str, str]]:
    """The (classname, name, file) ever stored under the test id or name *key*."""
    found = store.tests_named(sorted(names_in(key)))
    return sorted({t for t in found if key in (test_id(*t), t[1])})


def history_of(store: Store, key: str, window: Window) -> dict[str, Any]:
    """One test's results in the window: its statistics (as `tests --json` has them),
    every result, and its failure messages grouped; 404 when it did not run."""
    rows = [
        (triple, result)
        for triple in find_test(store, key)
        for result in store.test_results(triple[0], triple[1], since=window.since)
        if result.file == triple[2]
    ]
    if not rows:
        raise HTTPException(404, f"no test {key[:200]!r} ran in the last {window.days} days")
    rows.sort(key=lambda pair: (pair[1].created_at or window.since, pair[1].attempt))
    return {
        "test": key,
        "tests": [row(s) for s in summarize_tests(observation(t, r) for t, r in rows)],
        "results": [result_dict(test_id(*t), r) for t, r in rows],
        "messages": grouped_messages(r for _, r in rows),
    }


def observation(triple: tuple[str, str, str], result: TestResultRow) -> TestObservation:
    return TestObservation(*triple, result.outcome, result.duration, result.created_at)


def result_dict(test: str, result: TestResultRow) -> dict[str, Any]:
    return {"test": test, **result._asdict()}


def grouped_messages(results: Any) -> list[dict[str, Any]]:
    """Failure messages grouped by their shape (numbers folded), most frequent first,
    each with an example, its count and when it was last seen."""
    counts: Counter[str] = Counter()
    example: dict[str, TestResultRow] = {}
    for result in results:
        if result.outcome in FAILED:
            key = message_key(result.message)
            counts[key] += 1
            example[key] = result
    return [
        {
            "key": key,
            "count": count,
            "message": example[key].message,
            "last_seen": example[key].created_at,
            "run": example[key].run_key,
        }
        for key, count in counts.most_common()
    ]


@router.get("/api/tests/{test:path}")
def test_api(test: str, store: StoreDep, window: WindowDep) -> Response:
    return api(history_of(store, test, window))


@router.get("/tests/{test:path}", response_class=HTMLResponse)
def test_page(request: Request, test: str, store: StoreDep, window: WindowDep) -> Response:
    data = history_of(store, test, window)
    return page(
        request,
        "test.html",
        window,
        data=data,
        strip=data["results"][-200:],
        durations=durations_chart(data["results"]),
    )


def durations_chart(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Each executed result's duration, in seconds, by run time."""
    timed = [r for r in results if r["created_at"] is not None and r["outcome"] != "skipped"]
    return {
        "kind": "line",
        "x": [int(r["created_at"].timestamp()) for r in timed],
        "series": [{"label": "duration", "unit": "s", "values": [r["duration"] for r in timed]}],
        "lines": [],
    }
