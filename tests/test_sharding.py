"""The sharding algorithm: properties on generated suites, real durations, edge cases."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pilothouse.analysis.sharding import (
    MIN_SECONDS,
    ShardingError,
    _items,
    estimate_durations,
    group_of,
    lower_bound,
    lpt,
    plan_for_target,
    plan_shards,
)

from .conftest import DATA

HYPHA = json.loads((DATA / "durations" / "2023-01-09_df5e522e7.json").read_text())

suites = st.dictionaries(
    st.from_regex(r"t/test_[a-c]\.py::Test[AB]::test_[a-z]{1,6}", fullmatch=True),
    st.floats(min_value=0, max_value=500, allow_nan=False),
    min_size=1,
    max_size=60,
)


def _planned(durations: dict[str, float]) -> dict[str, float]:
    """What the planner balances: a millisecond at least, or 1 each when nothing is timed."""
    if not any(durations.values()):
        return dict.fromkeys(durations, 1.0)
    return {t: max(s, MIN_SECONDS) for t, s in durations.items()}


def _lpt_makespan(durations: dict[str, float], n: int) -> float:
    durations = _planned(durations)
    items = _items(durations, sorted(durations), "test", n)
    return max(sum(i.seconds for i in shard) for shard in lpt(items, n))


@settings(max_examples=150, deadline=None)
@given(suites, st.integers(min_value=1, max_value=12))
def test_every_test_in_exactly_one_shard_and_never_worse_than_lpt(
    durations: dict[str, float], n: int
) -> None:
    plan = plan_shards(durations, list(durations), n)
    placed = [t for s in plan.shards for t in s.tests]
    assert sorted(placed) == sorted(durations)
    assert len(plan.shards) == n
    if len(durations) >= n:
        assert all(s.tests for s in plan.shards)
    assert plan.makespan <= _lpt_makespan(durations, n) + 1e-9
    assert plan.makespan >= plan.lower_bound - 1e-9
    planned = _planned(durations)
    for shard in plan.shards:
        assert shard.seconds == pytest.approx(sum(planned[t] for t in shard.tests))


@settings(max_examples=40, deadline=None)
@given(suites, st.integers(min_value=1, max_value=8))
def test_same_input_same_plan_whatever_the_order(durations: dict[str, float], n: int) -> None:
    tests = list(durations)
    first = plan_shards(durations, tests, n)
    again = plan_shards(dict(reversed(list(durations.items()))), list(reversed(tests)), n)
    assert first.shards == again.shards


@pytest.mark.parametrize("n", [2, 3, 5, 8, 13, 32])
def test_real_suite_is_within_half_a_percent_of_the_lower_bound(n: int) -> None:
    plan = plan_shards(HYPHA, list(HYPHA), n)
    assert plan.makespan / plan.lower_bound <= 1.005
    assert plan.makespan <= _lpt_makespan(HYPHA, n)


def test_local_search_beats_lpt_on_its_classic_bad_case() -> None:
    # LPT on {3,3,2,2,2} into 2 gives 7; the optimum is 6.
    durations = {f"t::{i}": s for i, s in enumerate([3, 3, 2, 2, 2])}
    assert _lpt_makespan(durations, 2) == 7
    assert plan_shards(durations, list(durations), 2).makespan == 6


def test_lower_bound() -> None:
    assert lower_bound([10, 1, 1], 3) == 10
    assert lower_bound([3, 3, 3, 3], 2) == 6
    assert lower_bound([], 2) == 0


@pytest.mark.parametrize(
    ("test_id", "expected"),
    [
        ("t/test_x.py::TestA::test_new[3]", 20.0),  # same parametrised test
        ("t/test_x.py::TestA::test_other", 15.0),  # same class
        ("t/test_x.py::test_free", 12.5),  # same file
        ("t/test_y.py::test_far", 10.0),  # the median of everything, not the mean
    ],
)
def test_unknown_tests_take_their_neighbours_median(test_id: str, expected: float) -> None:
    known = {
        "t/test_x.py::TestA::test_new[1]": 20.0,
        "t/test_x.py::TestA::test_new[2]": 20.0,
        "t/test_x.py::TestA::test_old": 5.0,
        "t/test_x.py::TestA::test_old2": 10.0,
        "t/test_x.py::TestA::test_old3": 15.0,
        "t/test_x.py::TestB::test_b": 7.0,
        "t/test_z.py::test_a": 1.0,
        "t/test_z.py::test_b": 2.0,
        "t/test_z.py::test_huge": 3000.0,
    }
    estimates, unknown = estimate_durations(known, [test_id])
    assert unknown == (test_id,)
    assert estimates[test_id] == expected


def test_no_history_at_all_treats_tests_alike() -> None:
    plan = plan_shards({}, ["a", "b", "c", "d"], 2)
    assert [len(s.tests) for s in plan.shards] == [2, 2] and len(plan.unknown) == 4


@pytest.mark.parametrize(
    ("test_id", "by", "group"),
    [
        ("t/x.py::TestA::test_b[1]", "class", "t/x.py::TestA"),
        ("t/x.py::TestA::test_b[1]", "file", "t/x.py"),
        ("t/x.py::test_b", "class", "t/x.py"),
        ("t/x.py::test_b", "test", "t/x.py::test_b"),
    ],
)
def test_group_of(test_id: str, by: str, group: str) -> None:
    assert group_of(test_id, by) == group


def test_by_class_keeps_classes_together_unless_one_is_too_big() -> None:
    durations = {f"t/a.py::TestSmall{c}::test_{i}": 1.0 for c in range(6) for i in range(3)}
    durations.update({f"t/b.py::TestBig::test_{i}": 5.0 for i in range(8)})
    plan = plan_shards(durations, list(durations), 3, by="class")
    homes: dict[str, set[int]] = {}
    for shard in plan.shards:
        for test in shard.tests:
            homes.setdefault(group_of(test, "class"), set()).add(shard.index)
    assert all(len(homes[f"t/a.py::TestSmall{c}"]) == 1 for c in range(6))
    assert len(homes["t/b.py::TestBig"]) > 1  # 40 s > the ideal 19.3 s per shard
    assert plan.makespan / plan.lower_bound < 1.05


def test_target_minutes_picks_the_fewest_shards() -> None:
    durations = {f"t::{i}": 60.0 for i in range(20)}  # 20 minutes of tests
    plan = plan_for_target(durations, list(durations), 6 * 60, setup_seconds=60)
    assert len(plan.shards) == 4  # 60 + 300 = 360 s; 3 shards would be 60 + 420
    assert plan.wall_seconds == 360


def test_target_impossible_names_the_tests() -> None:
    durations = {"t::slow": 900.0, "t::fast": 1.0}
    with pytest.raises(ShardingError, match=r"1 test\(s\) alone take longer .* t::slow \(900 s\)"):
        plan_for_target(durations, list(durations), 10 * 60)


def test_target_beyond_max_shards() -> None:
    durations = {f"t::{i}": 100.0 for i in range(50)}
    with pytest.raises(ShardingError, match="4 shards are not enough"):
        plan_for_target(durations, list(durations), 200, max_shards=4)


@pytest.mark.parametrize(("tests", "n", "match"), [([], 2, "no tests"), (["a"], 0, "at least 1")])
def test_bad_requests(tests: list[str], n: int, match: str) -> None:
    with pytest.raises(ShardingError, match=match):
        plan_shards({}, tests, n)


def test_fifty_thousand_tests_into_sixty_four_shards() -> None:
    durations = {
        f"t/test_{i // 50}.py::test_{i}": 0.01 + (i * 7919 % 1000) / 100 for i in range(50_000)
    }
    plan = plan_shards(durations, list(durations), 64)
    assert sum(len(s.tests) for s in plan.shards) == 50_000
    assert plan.makespan / plan.lower_bound <= 1.005


def test_groups_are_split_rather_than_leave_a_shard_empty() -> None:
    durations = {"a.py::t": 100.0, "b.py::x": 1.0, "b.py::y": 1.0}
    plan = plan_shards(durations, list(durations), 3, by="file")
    assert all(shard.tests for shard in plan.shards)


def test_non_finite_or_negative_durations_are_treated_as_unknown() -> None:
    durations = {"a::t": float("nan"), "a::u": -3.0, "a::v": 2.0}
    plan = plan_shards(durations, list(durations), 2)
    assert set(plan.unknown) == {"a::t", "a::u"}
    assert all(shard.seconds == shard.seconds for shard in plan.shards)  # no NaN
