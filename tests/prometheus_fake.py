"""A loopback fake of Prometheus's HTTP API: ``GET /api/v1/query_range``.

Answers are shaped as Prometheus 2.x/3.x writes them (docs: prometheus.io/docs/prometheus/
latest/querying/api/): ``{"status": "success", "data": {"resultType": "matrix", "result":
[{"metric": {labels}, "values": [[unix_time, "value"], ...]}]}}`` with values as strings
("NaN", "+Inf" included), and errors as ``{"status": "error", "errorType": "bad_data",
"error": "..."}`` with HTTP 400 (bad query), 422 (execution) or 503 (timeout, overload).

Register the series a query answers with `add(query, values)`: the query string must be
the exact rendered PromQL. Every request is recorded in `requests`.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class FakePrometheus:
    series: dict[str, list[tuple[dict[str, str], list[Any]]]] = field(default_factory=dict)
    errors: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    requests: list[dict[str, str]] = field(default_factory=list)

    def add(self, query: str, *series: list[Any]) -> None:
        """*query* answers one series per argument (a list of values, one per step;
        None leaves that step out, as Prometheus does for a missing sample)."""
        self.series[query] = [({"instance": f"10.0.0.{i}:9090"}, v) for i, v in enumerate(series)]

    def fail(self, query: str, status: int, body: dict[str, Any] | str) -> None:
        raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.errors[query] = (status, raw)

    def answer(self, params: dict[str, str]) -> tuple[int, bytes]:
        self.requests.append(params)
        query = params.get("query", "")
        if query in self.errors:
            return self.errors[query]
        try:
            start, end, step = float(params["start"]), float(params["end"]), float(params["step"])
        except (KeyError, ValueError):
            return 400, _error("bad_data", 'invalid parameter "start": cannot parse')
        result = []
        for labels, series in self.series.get(query, []):
            values = []
            for i, value in enumerate(series):
                when = start + i * step
                if when > end or value is None:
                    continue
                # Prometheus writes times as JSON numbers with up to 3 decimals (1435781451.781)
                # and sample values as strings ("1", "0.25", "NaN", "+Inf").
                stamp = int(when) if when == int(when) else round(when, 3)
                values.append([stamp, value if isinstance(value, str) else f"{float(value):g}"])
            result.append({"metric": labels, "values": values})
        body = {"status": "success", "data": {"resultType": "matrix", "result": result}}
        return 200, json.dumps(body).encode()

    @contextmanager
    def serve(self) -> Iterator[str]:
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                if url.path != "/api/v1/query_range":
                    status, body = 404, b"404 page not found\n"
                else:
                    params = {k: v[-1] for k, v in parse_qs(url.query).items()}
                    status, body = fake.answer(params)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


def _error(kind: str, message: str) -> bytes:
    return json.dumps({"status": "error", "errorType": kind, "error": message}).encode()
