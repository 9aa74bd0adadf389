"""pytest node ids and the names pytest's own JUnit XML gives the same tests.

pytest reports ``tests/test_m.py::TestK::test_p[a b]`` as classname
``tests.test_m.TestK`` and name ``test_p[a b]``, with no ``file`` attribute
(unless ``junit_family=xunit1``): slashes become dots and ``.py`` is dropped.
That direction is a function, `junit_key`, so a list of node ids (``pytest
--collect-only -q``) matches stored history exactly, in either form. The way
back is ambiguous (``tests.test_m`` is ``tests/test_m.py`` or a class
``test_m`` in ``tests.py``), so without a list `align` takes the reading whose
file exists under pytest's rootdir, longest path first, and otherwise keeps
the stored ``classname::name``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping


def junit_key(test_id: str) -> str:
    """The id under which pytest's JUnit report stores this test (``classname::name``).

    Ids that are not pytest node ids (nextest, JUnit from other runners) are their own key.

    >>> junit_key("tests/test_m.py::TestK::test_p[a::b]")
    'tests.test_m.TestK::test_p[a::b]'
    >>> junit_key("fixture-project::basic test_cwd")
    'fixture-project::basic test_cwd'
    """
    path, bracket, params = test_id.partition("[")
    names = path.split("::")
    if len(names) < 2 or not names[0].endswith(".py"):
        return test_id
    module = names[0].removesuffix(".py").replace("/", ".")
    return ".".join([module, *names[1:-1]]) + "::" + names[-1] + bracket + params


def node_id_readings(stored: str) -> list[tuple[str, str]]:
    """Every (file, node id) a stored ``classname::name`` can be, longest file path first.

    >>> node_id_readings("tests.test_m.TestK::t")[1]
    ('tests/test_m.py', 'tests/test_m.py::TestK::t')
    """
    classname, sep, name = stored.partition("::")
    if not sep or classname.endswith(".py") or "/" in classname or " " in classname:
        return []  # already a node id, or not a Python classname
    parts = classname.split(".")
    readings = []
    for cut in range(len(parts), 0, -1):
        file = "/".join(parts[:cut]) + ".py"
        readings.append((file, "::".join([file, *parts[cut:], name])))
    return readings


def _on_disk(stored: str, exists: Callable[[str], bool]) -> str:
    for file, node_id in node_id_readings(stored):
        if exists(file):
            return node_id
    return stored


def align(
    known: Mapping[str, float],
    tests: Collection[str],
    exists: Callable[[str], bool],
) -> dict[str, float]:
    """Re-key history so it names tests the way the runner selects them.

    A history id matching a listed test (directly or through `junit_key`, so
    stored dotted names and node ids meet in both directions) takes the listed
    id; any other id (a test deleted since, or every test when there is no
    list) becomes the node id whose file *exists* (a path relative to pytest's
    rootdir), or stays as stored. When two history ids land on the same test,
    the larger duration wins: a shard predicted too long is the safer mistake.
    """
    listed = {junit_key(test): test for test in tests}
    aligned: dict[str, float] = {}
    for key, seconds in known.items():
        target = listed.get(junit_key(key)) or _on_disk(key, exists)
        aligned[target] = max(seconds, aligned.get(target, seconds))
    return aligned
