"""The scorecard's criteria as pure functions: met, missed, no-data, the previous window."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from pilothouse.analysis import scorecard as card
from pilothouse.model import CacheCounts, CostLine, WorkflowActivity


@pytest.mark.parametrize(
    ("value", "target", "comparison", "samples", "expected"),
    [
        (29.9, 30, "<", 5, "met"),
        (30.0, 30, "<", 5, "missed"),
        (75.1, 75, ">", 5, "met"),
        (75.0, 75, ">", 5, "missed"),
        (100.0, 100, ">=", 5, "met"),
        (99.99, 100, ">=", 5, "missed"),
        (4.0, 4.0, "==", 4, "met"),
        (3.0, 4.0, "==", 4, "missed"),
        (None, 30, "<", 0, "no-data"),
        (10.0, 30, "<", 0, "no-data"),  # a value without samples is never met
    ],
)
def test_judge(value, target, comparison, samples, expected) -> None:
    assert card.judge(value, target, comparison, samples) == expected


def test_run_time_p50_in_minutes_with_p90_and_the_previous_window() -> None:
    current = [m * 60.0 for m in (20, 22, 24, 26, 60)]
    item = card.run_time(
        "build_time", "Build time (p50)", current, [40 * 60.0, 50 * 60.0],
        target_minutes=30, scope="ci-build on main",
    )  # fmt: skip
    assert (item.value, item.status, item.samples, item.previous) == (24.0, "met", 5, 45.0)
    assert item.detail == "p50 24.0 min, p90 46.4 min over 5 runs of ci-build on main"
    assert (item.unit, item.target, item.comparison) == ("min", 30, "<")


@pytest.mark.parametrize(
    ("minutes", "status", "stretch"),
    [(38.0, "met", "stretch < 40 min met"), (42.0, "met", "stretch < 40 min not met"),
     (46.0, "missed", "stretch < 40 min not met")],
)  # fmt: skip
def test_run_time_stretch_target_is_shown_not_judged(minutes, status, stretch) -> None:
    item = card.run_time(
        "test_time", "Test time (p50)", [minutes * 60], [],
        target_minutes=45, scope="tests-all on main", stretch_minutes=40,
    )  # fmt: skip
    assert item.status == status and item.detail.endswith(stretch)
    assert item.previous is None


def test_run_time_without_runs_is_no_data() -> None:
    item = card.run_time("build_time", "Build", [], [600.0], target_minutes=30, scope="b on main")
    assert (item.value, item.status, item.samples, item.previous) == (None, "no-data", 0, 10.0)
    assert item.detail == "no completed run of b on main in the window"


def test_cache_hit_rate_counts_exact_hits_only() -> None:
    item = card.cache_hit_rate(
        CacheCounts(exact_hits=80, partial_hits=15, misses=5),
        CacheCounts(exact_hits=1, partial_hits=0, misses=3),
        target_percent=75, missing="none",
    )  # fmt: skip
    assert (item.value, item.status, item.samples, item.previous) == (80.0, "met", 100, 25.0)
    assert "15 partial (restore-key) hits, 5 misses" in item.detail
    low = card.cache_hit_rate(CacheCounts(70, 30, 0), None, target_percent=75, missing="x")
    assert low.status == "missed" and low.previous is None


@pytest.mark.parametrize("tally", [None, CacheCounts(0, 0, 0)])
def test_cache_without_restores_is_no_data_with_the_note(tally) -> None:
    item = card.cache_hit_rate(tally, None, target_percent=75, missing="no cache data: ...")
    assert (item.status, item.samples, item.detail) == ("no-data", 0, "no cache data: ...")


def test_artifact_size_p50_and_newest_in_megabytes() -> None:
    mb = card.MB
    item = card.artifact_size(
        [150 * mb, 210 * mb, 190 * mb, 260 * mb], [100 * mb, 120 * mb],
        target_mb=200, scope="ci-build on main",
    )  # fmt: skip
    assert (item.value, item.status, item.samples, item.previous) == (200.0, "missed", 4, 110.0)
    assert item.detail == "p50 200.0 MB, newest 260.0 MB over 4 runs of ci-build on main"
    met = card.artifact_size([199 * mb], [], target_mb=200, scope="b")
    assert (met.status, met.previous) == ("met", None)
    assert card.artifact_size([], [], target_mb=200, scope="b").status == "no-data"


def test_pass_rate_from_the_gate_tally() -> None:
    item = card.test_pass_rate(
        card.PassRate(passed=999, executed=1000, quarantined=2, outages=1),
        card.PassRate(500, 500), target_percent=100,
    )  # fmt: skip
    assert (item.value, item.status, item.samples, item.previous) == (99.9, "missed", 1000, 100.0)
    assert item.detail.endswith("left out: 2 quarantined tests, 1 outage attempt")
    assert card.test_pass_rate(card.PassRate(7, 7), None, target_percent=100).status == "met"
    empty = card.test_pass_rate(card.PassRate(0, 0), None, target_percent=100)
    assert (empty.status, empty.value) == ("no-data", None)


def _line(day: date, amount: str) -> CostLine:
    return CostLine("focus", f"{day}-{amount}", day, "EC2", Decimal(amount), "USD")


def test_spend_counts_days_from_the_first_billed_one() -> None:
    start = date(2026, 11, 1)
    days = [start + timedelta(days=i) for i in range(7)]
    # Billing starts on day 3; day 5 has no line and counts as zero.
    lines = [_line(days[2], "60"), _line(days[3], "30.5"), _line(days[3], "9.5"),
             _line(days[5], "20"), _line(days[6], "40")]  # fmt: skip
    spend = card.spend_over(lines, days)
    assert (spend.total, spend.days, spend.first_day) == (Decimal(160), 5, "2026-11-03")
    assert spend.mean == Decimal(32)
    assert card.spend_over([], days).mean is None


def test_daily_cost_mean_with_today_and_the_alert_limit() -> None:
    current = card.Spend(Decimal("980"), 14, "2026-11-13", "2026-11-26")
    previous = card.Spend(Decimal("840"), 14, "2026-10-30", "2026-11-12")
    item = card.daily_cost(
        current, previous, target=70, alert_limit=105, today=Decimal("110.5"), currency="USD"
    )
    assert (item.value, item.status, item.samples, item.previous) == (70.0, "missed", 14, 60.0)
    assert item.detail == (
        "mean 70.00 USD a day over 14 days (2026-11-13 to 2026-11-26); "
        "today 110.50 (over the limit), alert above 105.00"
    )
    none = card.Spend(Decimal(0), 0, "2026-11-13", "2026-11-26")
    empty = card.daily_cost(none, none, target=70, alert_limit=105, today=None, currency="EUR")
    assert (empty.status, empty.previous, empty.unit) == ("no-data", None, "EUR")


def _flow(name: str, state: str = "active", runs: int = 3, path: str | None = None):
    return WorkflowActivity(name, path or f".github/workflows/{name}.yml", state, runs)


def test_workflows_all_active_and_run() -> None:
    flows = [_flow("ci"), _flow("tests"), _flow("codeql", path="dynamic/github-code-scanning")]
    item = card.workflows_active(flows, [_flow("ci", runs=0), _flow("tests")], local_files=None)
    assert (item.value, item.target, item.status, item.previous) == (2.0, 2.0, "met", 1.0)
    assert item.detail == "all 2 workflows active and ran in the window"


def test_workflows_missed_for_disabled_idle_or_unregistered() -> None:
    flows = [_flow("ci"), _flow("nightly", "disabled_inactivity"), _flow("docs", runs=0),
             _flow("old", "deleted")]  # fmt: skip
    local = [".github/workflows/ci.yml", ".github/workflows/new.yaml"]
    item = card.workflows_active(flows, flows, local_files=local)
    assert (item.value, item.target, item.samples, item.status) == (1.0, 4.0, 4, "missed")
    assert item.detail == (
        ".github/workflows/new.yaml not registered; nightly disabled_inactivity; docs: no run"
    )


def test_workflows_unknown_is_no_data() -> None:
    item = card.workflows_active([], [], local_files=None)
    assert (item.status, item.value, item.previous) == ("no-data", None, None)


def test_scorecard_counts_and_gate() -> None:
    met = card.artifact_size([card.MB], [], target_mb=200, scope="b")
    missed = card.artifact_size([300 * card.MB], [], target_mb=200, scope="b")
    empty = card.artifact_size([], [], target_mb=200, scope="b")
    scorecard = card.Scorecard(14, (met, missed, empty))
    data = scorecard.as_dict()
    assert (data["met"], data["missed"], data["no_data"]) == (1, 1, 1)
    assert scorecard.failing(strict=False) == [missed]
    assert scorecard.failing(strict=True) == [missed, empty]
