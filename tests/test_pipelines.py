"""analysis/pipelines.py: per workflow stats, daily percentiles, slowest, runner label
queues, the run timeline and sync freshness, on hand-made records."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from pilothouse.analysis import pipelines as flow
from pilothouse.analysis.test_stats import percentile
from pilothouse.model import AttemptTimes, JobTimes

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def attempt(
    key: str,
    number: int,
    seconds: float | None,
    conclusion: str | None = "success",
    workflow: str | None = "ci",
    day: int = 0,
    status: str = "completed",
) -> AttemptTimes:
    created = T0 + timedelta(days=day, minutes=number)
    return AttemptTimes(1, key, number, workflow, status, conclusion, created, seconds)


def job(
    name: str,
    queued: float | None,
    seconds: float | None,
    labels: str = '["linux"]',
    workflow: str | None = "ci",
    day: int = 0,
) -> JobTimes:
    return JobTimes(workflow, name, labels, T0 + timedelta(days=day), queued, seconds)


def test_workflow_stats_counts_runs_by_their_latest_attempt() -> None:
    attempts = [
        attempt("1", 1, 600.0, "failure"),
        attempt("1", 2, 660.0),  # a re-run that passed: the run succeeded
        attempt("2", 1, 300.0),
        attempt("3", 1, 50.0, "cancelled"),  # not timed, not concluded
        attempt("4", 1, None, None, status="in_progress"),
        attempt("5", 1, 900.0, "failure"),
        attempt("9", 1, 100.0, workflow=None),
    ]
    jobs = [job("a", 10.0, 1.0), job("b", 30.0, 1.0), job("c", -2.0, 1.0), job("d", None, 1.0)]
    ci, other = flow.workflow_stats(attempts, jobs)
    assert other.workflow == flow.NO_WORKFLOW and other.runs == 1
    assert (ci.workflow, ci.runs, ci.attempts, ci.rerun) == ("ci", 5, 6, 1)
    assert (ci.succeeded, ci.concluded) == (2, 3)
    assert ci.duration_p50 == percentile([660.0, 300.0, 900.0], 50) == 660.0
    assert ci.duration_p90 == round(percentile([660.0, 300.0, 900.0], 90), 1)
    assert ci.queue_p50 == 10.0  # a negative wait (clock skew) counts as none
    data = ci.as_dict()
    assert data["attempts_per_run"] == 1.2 and data["rerun_rate"] == 0.2
    assert data["success_rate"] == round(2 / 3, 4)


def test_workflow_stats_without_timed_runs_has_no_percentiles() -> None:
    (only,) = flow.workflow_stats([attempt("1", 1, None, None, status="queued")], [])
    data = only.as_dict()
    assert data["success_rate"] is None and data["duration_p50_seconds"] is None
    assert data["queue_p90_seconds"] is None


def test_daily_durations_put_none_on_days_without_runs() -> None:
    attempts = [attempt("1", 1, 60.0), attempt("2", 1, 120.0), attempt("3", 1, 600.0, day=2)]
    days = flow.days_between(date(2026, 11, 20), date(2026, 11, 22))
    assert days == [date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)]
    daily = flow.daily_durations(attempts, days)
    assert daily == {"ci": {"p50": [90.0, None, 600.0], "p90": [114.0, None, 600.0]}}


def test_slowest_ranks_by_p50_and_skips_untimed() -> None:
    items = [(("ci", "a"), 10.0), (("ci", "a"), 30.0), (("ci", "b"), 25.0), (("ci", "c"), None)]
    ranked = flow.slowest(items, 5)
    assert [s.key for s in ranked] == [("ci", "b"), ("ci", "a")]
    assert (ranked[1].count, ranked[1].p50, ranked[1].max) == (2, 20.0, 30.0)
    assert len(flow.slowest(items, 1)) == 1


@pytest.mark.parametrize(
    ("stored", "key"),
    [('["self-hosted", "linux"]', "self-hosted, linux"), ("[]", "(no label)"),
     ("", "(no label)"), ("not json", "not json"), ('"x"', "(no label)")],
)  # fmt: skip
def test_labels_of(stored: str, key: str) -> None:
    assert flow.labels_of(stored) == key


def test_label_queues_and_their_daily_p90() -> None:
    jobs = [job("a", 5.0, 1.0), job("b", 15.0, 1.0, day=1), job("c", 100.0, 1.0, '["gpu"]')]
    linux, gpu = flow.label_queues(jobs)
    assert (linux.labels, linux.jobs, linux.queue_p50, linux.queue_max) == ("linux", 2, 10.0, 15.0)
    assert linux.last_used == T0 + timedelta(days=1)
    assert gpu.as_dict()["queue_p90_seconds"] == 100.0
    days = flow.days_between(date(2026, 11, 20), date(2026, 11, 21))
    assert flow.daily_label_queues(jobs, days) == {"gpu": [100.0, None], "linux": [5.0, 15.0]}


def test_timeline_places_queue_and_run_on_one_scale() -> None:
    at = [T0 + timedelta(seconds=s) for s in (0, 10, 110, 50, 60, 200)]
    bars = flow.timeline([(at[0], at[1], at[2]), (at[3], at[4], at[5]), (None, None, None)])
    first, second, empty = bars
    assert (first.left, first.queue_width, first.run_width) == (0.0, 5.0, 50.0)
    assert (second.left, second.run_left, second.run_width) == (25.0, 30.0, 70.0)
    assert (second.queued_from, second.started, second.finished) == (50.0, 60.0, 200.0)
    assert (empty.queue_width, empty.run_width) == (0.0, 0.0)
    (nothing,) = flow.timeline([(None, None, None)])
    assert (nothing.left, nothing.queue_width, nothing.run_width) == (0.0, 0.0, 0.0)


def test_a_running_job_runs_to_the_end_of_the_timeline() -> None:
    (running, done) = flow.timeline(
        [(T0, T0 + timedelta(seconds=10), None), (T0, T0, T0 + timedelta(seconds=100))]
    )
    assert running.run_left == 10.0 and running.run_width == 90.0


@pytest.mark.parametrize(
    ("age", "status"),
    [(None, "never"), (timedelta(0), "fresh"), (timedelta(hours=23), "fresh"),
     (timedelta(hours=25), "stale"), (-timedelta(hours=1), "fresh")],
)  # fmt: skip
def test_sync_freshness(age: timedelta | None, status: str) -> None:
    synced = None if age is None else T0 - age
    found, seconds = flow.sync_freshness(synced, T0)
    assert found == status
    assert seconds == (None if age is None else max(0.0, age.total_seconds()))
