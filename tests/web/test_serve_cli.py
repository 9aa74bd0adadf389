"""`pilothouse serve`: read-only, says where it listens, warns when exposed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pilothouse.cli.serve import is_loopback, listen, listen_lines
from pilothouse.errors import InputError
from tests.conftest import JUNIT, Cli


def test_serve_never_creates_a_store(sqlite_cli: Cli, tmp_path: Path) -> None:
    code, out, err = sqlite_cli("serve", "--port", "0")
    assert code == 1
    assert err.startswith("pilothouse: error: ") and err.count("\n") == 1
    assert "store.db" in err
    assert not (tmp_path / "store.db").exists()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("ci.internal", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_serve_says_where_it_listens() -> None:
    assert listen_lines("127.0.0.1", 8765, token_set=False) == [
        "pilothouse: serving the dashboard on http://127.0.0.1:8765/ (Ctrl-C stops it)"
    ]
    assert listen_lines("::1", 80, token_set=False)[0].endswith(
        "http://[::1]:80/ (Ctrl-C stops it)"
    )


def test_an_exposed_host_without_a_token_is_warned_about() -> None:
    lines = listen_lines("0.0.0.0", 8765, token_set=False)
    assert len(lines) == 2
    assert lines[1].startswith("pilothouse: warning: 0.0.0.0 is reachable from other machines")
    assert "PILOTHOUSE_SERVE_TOKEN" in lines[1]
    assert len(listen_lines("0.0.0.0", 8765, token_set=True)) == 1


def test_the_token_is_never_shown_by_config(sqlite_cli: Cli) -> None:
    sqlite_cli.env["PILOTHOUSE_SERVE_TOKEN"] = "s3cret-token"
    code, out, _ = sqlite_cli("config")
    assert code == 0 and "s3cret" not in out
    shown = {row["key"]: row for row in json.loads(sqlite_cli("config", "--json")[1])["settings"]}
    assert shown["serve.token"]["value"] == "***"
    assert shown["serve.token"]["source"] == "$PILOTHOUSE_SERVE_TOKEN"


def test_a_port_in_use_is_one_line_naming_it(sqlite_cli: Cli) -> None:
    assert (
        sqlite_cli("ingest", "junit", str(JUNIT / "nextest" / "fixture-project-junit.xml"))[0] == 0
    )
    with listen("127.0.0.1", 0) as taken:
        port = taken.getsockname()[1]
        code, out, err = sqlite_cli("serve", "--port", str(port))
    assert code == 1 and out == ""
    assert err == f"pilothouse: error: 127.0.0.1:{port}: cannot listen: Address already in use\n"


def test_listen_names_an_address_it_cannot_use() -> None:
    with pytest.raises(InputError, match=r"^\[::ffff:1\.2\.3\.4\]:80: cannot listen: "):
        listen("::ffff:1.2.3.4", 80)
    with listen("127.0.0.1", 0) as sock:
        assert sock.getsockname()[0] == "127.0.0.1" and sock.getsockname()[1] > 0
