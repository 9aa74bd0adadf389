"""The Overview's trend: each point is what `score` said at the end of that window."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from pilothouse.cli import score as score_cli
from pilothouse.cli.state import State
from pilothouse.store import Store
from pilothouse.web.sections import sparkline
from tests.conftest import FIXED_NOW, Cli


def test_each_trend_point_is_the_score_of_its_window(
    demo_store: Store, demo_state: State, demo_store_url: str, tmp_path: Path
) -> None:
    current = score_cli.scorecard_now(demo_store, demo_state, window_days=7)
    trend = score_cli.score_trend(demo_store, demo_state, current)
    assert len(trend) == score_cli.TREND_WINDOWS
    starts = [start for start, _ in trend]
    assert starts == [FIXED_NOW - timedelta(days=7 * k) for k in range(6, 0, -1)]
    assert trend[-1][1] == {c.id: c.value for c in current.criteria}
    # Window j (ending j weeks ago) is the previous window of `score --window 7` run one
    # week after its end: a previous window is bounded, whatever the store holds later.
    for j in range(1, 6):
        cli = Cli(cwd=tmp_path, db=demo_store_url, now=FIXED_NOW - timedelta(days=7 * (j - 1)))
        said = cli.json("score", "--window", "7")["criteria"]
        assert trend[-1 - j][1] == {c["id"]: c["previous"] for c in said}, j


@pytest.mark.parametrize(
    ("days", "windows"), [(1, 6), (7, 6), (14, 6), (30, 6), (60, 6), (90, 4), (183, 2), (365, 2)]
)
def test_a_trend_reads_about_a_year_at_most(days: int, windows: int) -> None:
    assert score_cli.trend_windows(days) == windows


def test_a_year_window_trend_is_the_current_and_previous(
    demo_store: Store, demo_state: State
) -> None:
    current = score_cli.scorecard_now(demo_store, demo_state, window_days=365)
    trend = score_cli.score_trend(demo_store, demo_state, current)
    assert [values for _, values in trend] == [
        {c.id: c.previous for c in current.criteria},
        {c.id: c.value for c in current.criteria},
    ]


def test_a_sparkline_spec_has_the_trend_and_the_target(
    demo_store: Store, demo_state: State
) -> None:
    current = score_cli.scorecard_now(demo_store, demo_state, window_days=30)
    trend = score_cli.score_trend(demo_store, demo_state, current)
    item = current.criteria[0]
    spec = sparkline(item, trend)
    assert spec["kind"] == "sparkline"
    assert spec["x"] == sorted(spec["x"]) and len(spec["x"]) == len(trend)
    assert spec["series"][0]["values"][-1] == item.value
    assert spec["series"][0]["values"][-2] == item.previous
    assert spec["series"][0]["values"][0] is None  # 180 days ago: before the sample
    assert spec["lines"] == [{"label": "target", "value": item.target}]
