"""Duration sources: test ids, robust history estimates, test lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pilothouse.errors import InputError
from pilothouse.model import TestObservation
from pilothouse.sources.durations import (
    durations_from_history,
    read_junit_durations,
    read_test_list,
    weighted_median,
)
from pilothouse.sources.durations import test_id as make_test_id

from .conftest import JUNIT

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("classname", "name", "file", "expected"),
    [
        (
            "tests.test_x.TestY",
            "test_z[a b]",
            "tests/test_x.py",
            "tests/test_x.py::TestY::test_z[a b]",
        ),
        ("tests.test_x", "test_free", "tests/test_x.py", "tests/test_x.py::test_free"),
        (
            "tests.test_x.TestY.TestInner",
            "t",
            "tests/test_x.py",
            "tests/test_x.py::TestY::TestInner::t",
        ),
        ("crate::bin", "module::test", "", "crate::bin module::test"),
        ("com.acme.CalcTest", "adds", "", "com.acme.CalcTest::adds"),
        ("", "lonely", "", "lonely"),
    ],
)
def test_ids_match_what_runners_select_by(
    classname: str, name: str, file: str, expected: str
) -> None:
    assert make_test_id(classname, name, file) == expected


def test_pytest_report_gives_node_ids() -> None:
    found = read_junit_durations(JUNIT / "test-reporter" / "python-xunit-pytest.xml")
    assert found and all("::" in key for key in found)


def _obs(duration: float, day: int) -> TestObservation:
    return TestObservation("c", "t", "", "passed", duration, T0 + timedelta(days=day))


def test_history_estimate_ignores_one_slow_outlier() -> None:
    history = [_obs(2.0, d) for d in range(9)] + [_obs(45.0, 9)]  # setup cost landed once
    assert durations_from_history(history) == {"c::t": 2.0}


def test_history_estimate_follows_a_lasting_change() -> None:
    history = [_obs(2.0, d) for d in range(20)] + [_obs(8.0, 20 + d) for d in range(12)]
    assert durations_from_history(history) == {"c::t": 8.0}


def test_skipped_results_carry_no_timing() -> None:
    skipped = TestObservation("c", "s", "", "skipped", 0.0, T0)
    assert durations_from_history([skipped]) == {}


def test_weighted_median() -> None:
    assert weighted_median([1.0, 2.0, 3.0], [1.0, 1.0, 10.0]) == 3.0
    assert weighted_median([5.0], [0.1]) == 5.0


def test_test_list_skips_noise() -> None:
    text = "tests/a.py::t1\n\n# comment\ntests/a.py::t2[x y]\n2 tests collected in 0.01s\n"
    assert read_test_list(text, origin="f") == ["tests/a.py::t1", "tests/a.py::t2[x y]"]
    with pytest.raises(InputError, match="f: no test ids"):
        read_test_list("\n", origin="f")
