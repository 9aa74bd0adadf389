"""The one OTLP seam: spans sent over OTLP/HTTP (protobuf) with the OpenTelemetry SDK's
own exporter, and where they go when the user names a collector's base URL."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from urllib.parse import urlsplit

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from pilothouse.errors import ConfigError, PilothouseError, printable

TRACES_PATH = "/v1/traces"
_SDK_LOGGER = "opentelemetry"


def traces_endpoint(url: str, *, source: str = "--endpoint") -> str:
    """*url* as the OTLP/HTTP traces endpoint: a collector's base URL (no path, as
    `OTEL_EXPORTER_OTLP_ENDPOINT` holds) gets `/v1/traces`; a full path is kept."""
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{source}: {printable(text)!r} is not an http(s) URL of an OTLP/HTTP receiver "
            "(e.g. http://127.0.0.1:4318)"
        )
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigError(f"{source}: {printable(text)!r} has a bad port") from None
    if parts.path in ("", "/"):
        return text.rstrip("/") + TRACES_PATH
    return text


class _Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _sdk_messages() -> Iterator[_Captured]:
    """The SDK's log lines while exporting, kept from stderr (they may hold a URL and
    would interleave with ours) and turned into our one-line error instead."""
    logger = logging.getLogger(_SDK_LOGGER)
    handler = _Captured()
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def send(
    spans: Sequence[ReadableSpan],
    *,
    endpoint: str,
    headers: Mapping[str, str] | None,
    timeout: float,
) -> None:
    """Send *spans* in one OTLP/HTTP request (the SDK retries what can heal until
    *timeout*); raise a one-line error naming the endpoint when they did not arrive."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    with _sdk_messages() as parsing:  # the SDK reads $OTEL_EXPORTER_OTLP_HEADERS here
        exporter = OTLPSpanExporter(
            endpoint=endpoint, headers=dict(headers) if headers else None, timeout=timeout
        )
    if parsing.messages:  # they quote the header, API key and all: never shown
        exporter.shutdown()  # type: ignore[no-untyped-call]
        raise ConfigError(
            "$OTEL_EXPORTER_OTLP_HEADERS (or $OTEL_EXPORTER_OTLP_TRACES_HEADERS): an entry is "
            "not KEY=VALUE (comma-separated, URL-encoded); its value is not shown"
        )
    try:
        with _sdk_messages() as captured:
            result = exporter.export(spans)
    finally:
        exporter.shutdown()  # type: ignore[no-untyped-call]
    if result is not SpanExportResult.SUCCESS:
        reasons = [m for m in captured.messages if "retrying" not in m] or captured.messages
        reason = reasons[-1] if reasons else "no reason given"
        raise PilothouseError(
            f"{printable(endpoint)}: the OTLP receiver did not take {len(spans)} spans: "
            f"{printable(reason)[:300]}"
        )
