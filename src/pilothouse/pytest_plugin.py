"""A pytest plugin: `pytest --pilothouse-shard 2/4` runs shard 2 of the plan.

The plan is the one `pilothouse shard` makes (same algorithm, same input, same
shards), built from the collected node ids and the timing history: a
`.test_durations` or JUnit file given with `--pilothouse-durations`, else the
pilothouse store (`PILOTHOUSE_DB` or `.pilothouse/pilothouse.db`). Without the
option the plugin does nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pilothouse.analysis.sharding import ShardingError, parse_shard_spec, plan_shards
from pilothouse.config import DEFAULT_DB


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


def _known(config: pytest.Config) -> dict[str, float]:
    files = config.getoption("pilothouse_durations")
    if files:
        from pilothouse.sources.durations import read_duration_files

        return read_duration_files([Path(f) for f in files])
    url = os.environ.get("PILOTHOUSE_DB") or DEFAULT_DB
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        path = Path(config.rootpath) / url.removeprefix("sqlite:///")
        if not path.exists():
            return {}  # no history yet: every test is estimated alike
        url = f"sqlite:///{path}"
    from pilothouse.errors import StoreMissing
    from pilothouse.sources.durations import durations_from_history
    from pilothouse.store import Store

    try:
        store = Store.open(url)  # read-only: never creates a store
    except StoreMissing:
        return {}
    with store:
        return durations_from_history(store.test_observations())


def pytest_collection_modifyitems(config: pytest.Config, items: list[Any]) -> None:
    option = config.getoption("pilothouse_shard")
    if not option or not items:
        return
    index, total = _parse(option)
    plan = plan_shards(
        _known(config), [item.nodeid for item in items], total, by=config.getoption("pilothouse_by")
    )
    chosen = set(plan.shards[index - 1].tests)
    selected = [item for item in items if item.nodeid in chosen]
    deselected = [item for item in items if item.nodeid not in chosen]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    items[:] = selected
