"""A loopback webhook receiver (Slack-compatible JSON posts), shared by the tests of every
command that notifies: what it received, and answers to give before the default 200."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

Hook = tuple[str, list[dict[str, str]], list[int]]


@contextmanager
def webhook_server() -> Iterator[Hook]:
    """(URL with a secret in its path, the JSON bodies received, statuses to answer first)."""
    received: list[dict[str, str]] = []
    statuses: list[int] = []  # queued answers; 200 when empty

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(statuses.pop(0) if statuses else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook/SECRET", received, statuses
    finally:
        server.shutdown()
        server.server_close()
