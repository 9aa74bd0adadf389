"""`--window DAYS` beyond a century is a usage error on every command that takes it,
never an OverflowError from the date arithmetic (exit 3)."""

from __future__ import annotations

import pytest

from tests.conftest import Cli

COMMANDS = [
    ("infra",),
    ("changes",),
    ("export", "otel", "--endpoint", "http://127.0.0.1:9"),
    ("flaky",),
    ("tests",),
    ("score",),
    ("artifacts",),
    ("ci", "baseline"),
    ("policy", "input"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("days", ["100000000", "36501"])
def test_a_window_past_a_century_is_a_usage_error(
    sqlite_cli: Cli, command: tuple[str, ...], days: str
) -> None:
    assert sqlite_cli("db", "upgrade")[0] == 0
    code, out, err = sqlite_cli(*command, "--window", days)
    assert (code, out) == (2, ""), err
    assert "--window" in err and "internal error" not in err


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_century_is_still_a_window(sqlite_cli: Cli, command: tuple[str, ...]) -> None:
    assert sqlite_cli("db", "upgrade")[0] == 0
    code, _out, err = sqlite_cli(*command, "--window", "36500")
    assert code in (0, 1) and "internal error" not in err, err
