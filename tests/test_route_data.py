"""The data functions the dashboard calls are what the CLI prints with --json: the same
dict, on the same store and clock, for every read command (benchmarks/route_data.py
times them)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from pilothouse.cli import reports  # not its tests_data: pytest would collect it
from pilothouse.cli.artifacts import artifacts_data
from pilothouse.cli.cache import cache_data
from pilothouse.cli.cost import cost_data, cost_window
from pilothouse.cli.crates import crates_data
from pilothouse.cli.flaky import flaky_data
from pilothouse.cli.score import score_data
from pilothouse.cli.state import State, World
from pilothouse.cli.window import ALL_HISTORY, resolve_window
from pilothouse.config import load_config
from pilothouse.store import Store

from .conftest import Cli

Data = Callable[[Store, State], Any]


def _since(state: State, days: int) -> Any:
    return resolve_window(state.now(), days=days, since=None, default_days=None)


# (CLI arguments without --json, the data function's call): the window selector's
# sizes and each command's default.
CASES: list[tuple[tuple[str, ...], Data]] = [
    (("tests",), lambda s, st: reports.tests_data(s, st, _since(st, 30))),
    (("tests", "--window", "7", "--limit", "5"),
     lambda s, st: reports.tests_data(s, st, _since(st, 7), limit=5)),
    (("report", "--window", "90"), lambda s, st: reports.report_data(s, st, _since(st, 90))),
    (("report", "--limit", "3"), lambda s, st: reports.report_data(s, st, _since(st, 30), limit=3)),
    (("runs", "--limit", "20"), lambda s, st: reports.runs_data(s, st, ALL_HISTORY, limit=20)),
    (("runs", "--window", "7"), lambda s, st: reports.runs_data(s, st, _since(st, 7))),
    (("flaky",), lambda s, st: flaky_data(s, st, _since(st, 30))),
    (("flaky", "--window", "365"), lambda s, st: flaky_data(s, st, _since(st, 365))),
    (("score",), lambda s, st: score_data(s, st)),
    (("score", "--window", "7"), lambda s, st: score_data(s, st, window_days=7)),
    (("cost",), lambda s, st: cost_data(s, st, cost_window(st.now().date()))),
    (("cost", "--days", "90", "--by", "workflow"),
     lambda s, st: cost_data(s, st, cost_window(st.now().date(), 90), "workflow")),
    (("cache",), lambda s, st: cache_data(s, st, _since(st, 14))),
    (("crates", "--window", "7"), lambda s, st: crates_data(s, st, _since(st, 7))),
    (("artifacts",), lambda s, st: artifacts_data(s, st)),
    (("artifacts", "--window", "30"), lambda s, st: artifacts_data(s, st, window_days=30)),
]  # fmt: skip


def _as_printed(data: Any) -> Any:
    """*data* as print_json writes it, read back."""

    def default(value: Any) -> Any:
        assert isinstance(value, datetime)
        return value.isoformat()

    return json.loads(json.dumps(data, default=default))


def _state(cli: Cli) -> State:
    env = {"PILOTHOUSE_DB": cli.db}
    config = load_config(path=None, env=env, flags={}, cwd=cli.cwd)
    return State(config=config, world=World(env=env, cwd=cli.cwd, clock=lambda: cli.now))


def test_every_data_function_is_what_its_command_prints(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli("sample", "--days", "12", "--end", f"{cli.now:%Y-%m-%d}")
    assert code == 0, err
    state = _state(cli)
    with Store.open(cli.db) as store:
        for args, data in CASES:
            printed = cli.json(*args)
            assert _as_printed(data(store, state)) == printed, args
            assert any(printed.values()), args  # the sample fills every page
