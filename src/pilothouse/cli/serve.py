"""`pilothouse serve`: the dashboard, read-only, over the configured store."""

from __future__ import annotations

import ipaddress
import socket
import sys
import webbrowser
from typing import Annotated

import typer

from pilothouse.cli.state import state_of
from pilothouse.errors import InputError

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """Whether *host* only listens on this machine.

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listen_lines(host: str, port: int, *, token_set: bool) -> list[str]:
    """What serve says before it starts: where, and whether anyone may read it."""
    shown = f"[{host}]" if ":" in host else host
    lines = [f"pilothouse: serving the dashboard on http://{shown}:{port}/ (Ctrl-C stops it)"]
    if not is_loopback(host) and not token_set:
        lines.append(
            f"pilothouse: warning: {host} is reachable from other machines and the data has no "
            "authentication: set PILOTHOUSE_SERVE_TOKEN (or serve.token) to require a bearer token"
        )
    return lines


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to *host*:*port* and listening; one that cannot be (the port taken, an
    address not of this machine) is an InputError naming it, before anything is printed."""
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise InputError(f"{shown}: cannot listen: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise InputError(f"{shown}: cannot listen: {exc.strerror or exc}") from None
    return sock


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8765,
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the dashboard in a web browser.")
    ] = False,
) -> None:
    """The dashboard (scorecard, tests, ...) in a web browser, with a JSON API under /api.

    Read-only: it never creates or migrates the store. Binds 127.0.0.1 unless --host
    says otherwise; set PILOTHOUSE_SERVE_TOKEN to require `Authorization: Bearer`.
    """
    import uvicorn  # the server: not for --help

    from pilothouse.web.app import create_app

    state = state_of(ctx)
    token_set = bool(state.config["serve.token"])
    with state.open_store() as store:
        app = create_app(state, store)
        sock = listen(host, port)
        port = sock.getsockname()[1]  # --port 0: the one the system chose
        for line in listen_lines(host, port, token_set=token_set):
            sys.stderr.write(line + "\n")
        if open_browser:
            webbrowser.open(f"http://{'localhost' if is_loopback(host) else host}:{port}/")
        with sock:
            uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
