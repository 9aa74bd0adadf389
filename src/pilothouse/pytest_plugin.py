"""A pytest plugin: `pytest --pilothouse-shard 2/4` runs shard 2 of the plan.

The plan is the one `pilothouse shard --tests` makes (same planner, same
input, same shards), built from the collected node ids and the timing history:
a `.test_durations` or JUnit file given with `--pilothouse-durations`, else the
store that `pilothouse` itself would use (`db` in pytest's rootdir's
pilothouse.toml, `PILOTHOUSE_DB`, or `.pilothouse/pilothouse.db`). With no
timing history the tests are split by count, with a warning. Without the option
the plugin does nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from pilothouse.analysis.sharding import (
    ShardingError,
    count_split_note,
    parse_shard_spec,
    plan_shards,
)
from pilothouse.config import load_config, store_url
from pilothouse.errors import PilothouseError
from pilothouse.sources.durations import load_history
from pilothouse.sources.nodeids import align


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pilothouse", "test sharding by pilothouse")
    group.addoption("--pilothouse-shard", metavar="I/N", help="Run shard I of N.")
    group.addoption(
        "--pilothouse-durations",
        metavar="FILE",
        action="append",
        help="Timing history: .test_durations or JUnit XML (repeatable); default the store.",
    )
    group.addoption(
        "--pilothouse-by",
        default="test",
        choices=("test", "class", "file"),
        help="Keep classes or files together where balance allows.",
    )


def _parse(value: str) -> tuple[int, int]:
    try:
        return parse_shard_spec(value)
    except ShardingError as exc:
        raise pytest.UsageError(f"--pilothouse-shard {exc}") from None


def _known(config: pytest.Config, tests: list[str]) -> dict[str, float]:
    root = Path(config.rootpath)
    files = [Path(f) for f in config.getoption("pilothouse_durations") or []]
    try:
        settings = load_config(path=None, env=os.environ, flags={}, cwd=root)
        known = load_history(files, store_url(str(settings["db"]), root))
    except PilothouseError as exc:
        raise pytest.UsageError(f"pilothouse: {exc}") from None
    return align(known, tests, lambda file: (root / file).is_file())


def _warn(config: pytest.Config, message: str) -> None:
    """On stderr even while pytest captures output (collection runs captured)."""
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        sys.stderr.write(f"pilothouse: warning: {message}\n")
        return
    with capture.global_and_fixture_disabled():
        sys.stderr.write(f"pilothouse: warning: {message}\n")


def pytest_collection_modifyitems(config: pytest.Config, items: list[Any]) -> None:
    option = config.getoption("pilothouse_shard")
    if not option or not items:
        return
    index, total = _parse(option)
    tests = [item.nodeid for item in items]
    plan = plan_shards(_known(config, tests), tests, total, by=config.getoption("pilothouse_by"))
    if not plan.timed:
        _warn(config, count_split_note(len(set(tests))))
    chosen = set(plan.shards[index - 1].tests)
    selected = [item for item in items if item.nodeid in chosen]
    deselected = [item for item in items if item.nodeid not in chosen]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    items[:] = selected
