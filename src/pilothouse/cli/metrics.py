"""`pilothouse metrics`: the `/metrics` exposition without a server."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from pilothouse.cli.state import state_of
from pilothouse.files import write_atomically


def metrics(
    ctx: typer.Context,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write to FILE (replaced atomically: for node_exporter's textfile "
            "collector, a FILE ending in .prom) instead of standard output.",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """The store's metrics in the Prometheus text format, as `/metrics` serves them.

    For a node_exporter textfile collector, run it from cron or a systemd timer:

    \b
        pilothouse metrics --output /var/lib/node_exporter/textfile/pilothouse.prom
    """
    from pilothouse.web.metrics import metrics_payload  # prometheus-client: not for --help

    state = state_of(ctx)
    with state.open_store() as store:
        body, _content_type = metrics_payload(state, store)
    if output is None:
        sys.stdout.write(body.decode("utf-8"))
    else:
        write_atomically(output, body)
