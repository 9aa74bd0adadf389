"""Test durations for sharding: pytest-split's `.test_durations`, JUnit reports, the store.

Test ids are what the runner selects by:
- pytest node ids, ``tests/test_x.py::TestY::test_z[param]`` (built from JUnit's
  ``file`` and ``classname`` where a report has them; pytest's default JUnit has
  no ``file``, and `nodeids.align` maps its ``classname::name`` to node ids);
- nextest names as ``cargo nextest list`` prints them, ``<binary-id> <test name>``;
- otherwise ``classname::name``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from pilothouse.errors import InputError
from pilothouse.model import TestObservation
from pilothouse.sources.junit import ReportFile


def test_id(classname: str, name: str, file: str) -> str:
    """The id a runner selects this test by (see the module docstring).

    >>> test_id("tests.test_x.TestY", "test_z[1]", "tests/test_x.py")
    'tests/test_x.py::TestY::test_z[1]'
    >>> test_id("fixture-project::basic", "test_cwd", "")
    'fixture-project::basic test_cwd'
    """
    if file.endswith(".py"):
        module = file[:-3].replace("/", ".").replace("\\", ".")
        if classname.startswith(module + "."):
            inner = classname[len(module) + 1 :].replace(".", "::")
            return f"{file}::{inner}::{name}"
        return f"{file}::{name}"
    if "::" in classname:
        return f"{classname} {name}"
    if not classname:
        return name
    return f"{classname}::{name}"


def _position(exc: json.JSONDecodeError) -> str:
    return f"line {exc.lineno}, column {exc.colno}"


def read_test_durations(path: Path) -> dict[str, float]:
    """Read pytest-split's `.test_durations`: a JSON object of node id to seconds."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}:{exc.lineno}: invalid JSON ({_position(exc)}): {exc.msg}"
        ) from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object of test id to seconds")
    durations: dict[str, float] = {}
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"{path}: duration of {key!r} is not a number: {value!r}")
        if not math.isfinite(value) or value < 0:
            raise InputError(f"{path}: duration of {key!r} must be a finite number >= 0: {value}")
        durations[key] = float(value)
    return durations


def read_junit_durations(path: Path) -> dict[str, list[float]]:
    """Durations by test id from one JUnit report (skipped tests carry no timing)."""
    found: dict[str, list[float]] = {}
    for case in ReportFile.open(path).testcases():
        if case.duration is not None and case.outcome != "skipped":
            found.setdefault(test_id(case.classname, case.name, case.file), []).append(
                case.duration
            )
    return found


def is_junit(path: Path) -> bool:
    """XML by name or by its first bytes (a report may be called anything)."""
    if path.suffix.lower() == ".xml":
        return True
    try:
        with path.open("rb") as stream:
            return stream.read(64).lstrip().startswith(b"<")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def read_duration_files(paths: Iterable[Path]) -> dict[str, float]:
    """Merge several files; a test seen in several gets the median of its values."""
    samples: dict[str, list[float]] = {}
    for path in paths:
        if is_junit(path):
            for key, values in read_junit_durations(path).items():
                samples.setdefault(key, []).extend(values)
        else:
            for key, value in read_test_durations(path).items():
                samples.setdefault(key, []).append(value)
    return {key: _median(values) for key, values in samples.items()}


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def weighted_median(values: list[float], weights: list[float]) -> float:
    """The value at half the total weight.

    >>> weighted_median([1.0, 100.0, 2.0], [1.0, 1.0, 1.0])
    2.0
    """
    pairs = sorted(zip(values, weights, strict=True))
    half = sum(weights) / 2
    running = 0.0
    for value, weight in pairs:
        running += weight
        if running >= half:
            return value
    return pairs[-1][0]


# Sharding reads the results of the last 30 days of stored history (counted back from
# the newest run, not the clock, so an idle store still plans): with a half-life of 10
# results, a test run twice a day gives older results a weight under 1/64, and the read
# stays the same size however many years the store holds.
HISTORY_DAYS = 30


def durations_from_history(
    observations: Iterable[TestObservation], *, half_life: int = 10
) -> dict[str, float]:
    """One robust estimate per test: a recency-weighted median of its runs.

    The newest result weighs 1, one *half_life* results older weighs 1/2, and so
    on: durations follow the suite as it changes, while a single slow outlier
    (a setup cost landing on the first test of a worker) cannot dominate.
    *observations* come oldest first; skipped results carry no timing.
    """
    history: dict[str, list[float]] = {}
    for obs in observations:
        if obs.duration is not None and obs.outcome != "skipped":
            history.setdefault(test_id(obs.classname, obs.name, obs.file), []).append(obs.duration)
    estimates: dict[str, float] = {}
    for key, values in history.items():
        count = len(values)
        weights = [0.5 ** ((count - 1 - i) / half_life) for i in range(count)]
        estimates[key] = weighted_median(values, weights)
    return estimates


def durations_from_store(url: str) -> dict[str, float]:
    """The store's estimates from the results of the HISTORY_DAYS before its newest run;
    none for a SQLite store not created yet (nothing is created).

    The first CI run of a suite has no store: sharding then splits by count.
    """
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///").partition("?")[0]
        if path not in ("", ":memory:") and not Path(path).exists():
            return {}
    from pilothouse.errors import StoreMissing
    from pilothouse.store import Store  # SQLAlchemy only when a store is read

    try:
        store = Store.open(url)  # read-only: never creates or migrates a store
    except StoreMissing:
        return {}  # a database without pilothouse's tables: no history yet
    with store:
        stored = store.run_range(with_results=True)
        if stored is None:
            return {}
        since = stored[1] - timedelta(days=HISTORY_DAYS)
        return durations_from_history(store.test_observations(since=since))


def load_history(files: Sequence[Path], url: str) -> dict[str, float]:
    """Timing history for sharding: the duration *files* when given, else the store at *url*."""
    if files:
        return read_duration_files(files)
    return durations_from_store(url)


def read_test_list(text: str, *, origin: str) -> list[str]:
    """Test ids, one per line, as ``pytest --collect-only -q`` or nextest list prints them.

    Blank lines, ``#`` comments and pytest's summary line ("12 tests collected in
    0.5s") are ignored.
    """
    tests: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if " collected" in stripped or stripped.startswith(("no tests ran", "=")):
            continue
        tests.append(stripped)
    if not tests:
        raise InputError(f"{origin}: no test ids in the test list")
    return tests
