"""pytest node ids <-> the classname::name pytest's own JUnit XML stores."""

from __future__ import annotations

import pytest

from pilothouse.sources.nodeids import align, junit_key, node_id_readings


@pytest.mark.parametrize(
    ("node_id", "key"),
    [
        ("tests/test_m0.py::test_4", "tests.test_m0::test_4"),
        ("tests/test_m0.py::TestK::test_x", "tests.test_m0.TestK::test_x"),
        ("tests/test_m0.py::TestK::Inner::t[a b-1]", "tests.test_m0.TestK.Inner::t[a b-1]"),
        ("t.py::test_p[x::y]", "t::test_p[x::y]"),
        ("fixture-project::basic test_cwd", "fixture-project::basic test_cwd"),
        ("com.acme.CalcTest::adds", "com.acme.CalcTest::adds"),
        ("tests.test_m0::test_4", "tests.test_m0::test_4"),
    ],
)
def test_junit_key_is_what_pytest_writes(node_id: str, key: str) -> None:
    assert junit_key(node_id) == key


def test_readings_longest_file_first() -> None:
    assert node_id_readings("a.b.C::t") == [
        ("a/b/C.py", "a/b/C.py::t"),
        ("a/b.py", "a/b.py::C::t"),
        ("a.py", "a.py::b::C::t"),
    ]
    assert node_id_readings("crate::bin mod::t")[0][0] == "crate.py"
    assert node_id_readings("lonely") == []
    assert node_id_readings("test_a.py::test_one") == []  # already a node id


STORED = {"tests.test_m0::test_4": 4.0, "tests.test_m0.TestK::test_p[a b]": 2.0}


def test_history_in_dotted_form_meets_listed_node_ids() -> None:
    listed = ["tests/test_m0.py::test_4", "tests/test_m0.py::TestK::test_p[a b]"]
    aligned = align(STORED, listed, lambda file: False)
    assert aligned == {listed[0]: 4.0, listed[1]: 2.0}


def test_history_in_node_id_form_meets_a_dotted_list() -> None:
    history = {"tests/test_m0.py::test_4": 4.0}
    assert align(history, ["tests.test_m0::test_4"], lambda file: False) == {
        "tests.test_m0::test_4": 4.0
    }


def test_without_a_list_the_file_on_disk_decides() -> None:
    stored = {"tests.test_m0.TestK::t": 1.0, "tests.TestK::t": 2.0, "com.acme.Calc::adds": 3.0}
    on_disk = {"tests/test_m0.py", "tests.py"}
    assert align(stored, (), on_disk.__contains__) == {
        "tests/test_m0.py::TestK::t": 1.0,
        "tests.py::TestK::t": 2.0,
        "com.acme.Calc::adds": 3.0,  # no such file: kept as stored
    }


def test_list_wins_over_the_file_system() -> None:
    stored = {"tests.test_m0::test_4": 4.0}
    listed = ["tests.py::test_m0::test_4"]  # an odd layout the list confirms
    assert align(stored, listed, lambda file: file == "tests/test_m0.py") == {listed[0]: 4.0}


def test_the_same_test_in_both_forms_keeps_the_larger_duration() -> None:
    history = {"tests/test_m0.py::test_4": 4.0, "tests.test_m0::test_4": 6.0}
    assert align(history, ["tests/test_m0.py::test_4"], lambda file: False) == {
        "tests/test_m0.py::test_4": 6.0
    }
