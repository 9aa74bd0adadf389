"""`pilothouse export`: send what the store holds to other tools (OpenTelemetry traces)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated

import typer

from pilothouse.cli.output import print_json
from pilothouse.cli.state import State, state_of
from pilothouse.cli.window import SinceOption, WindowOption, resolve_window
from pilothouse.errors import ConfigError, printable
from pilothouse.store import Store
from pilothouse.store.engine import missing, parse_url

app = typer.Typer(
    help="Send what the store holds to other tools: runs, jobs and steps as OpenTelemetry "
    "traces (OTLP/HTTP).",
    no_args_is_help=True,
)

_ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def resolve_endpoint(flag: str | None, env: Mapping[str, str]) -> str:
    """The traces endpoint: --endpoint, else the OpenTelemetry SDK's own variables."""
    from pilothouse.telemetry.otlp import traces_endpoint

    if flag:
        return traces_endpoint(flag)
    traces = env.get(_ENDPOINT_VARS[0], "").strip()
    if traces:
        return traces_endpoint(traces, source=f"${_ENDPOINT_VARS[0]}")
    base = env.get(_ENDPOINT_VARS[1], "").strip()
    if base:
        return traces_endpoint(base, source=f"${_ENDPOINT_VARS[1]}")
    raise ConfigError(
        "export otel: no receiver: pass --endpoint URL (an OTLP/HTTP receiver such as "
        "http://127.0.0.1:4318) or set $OTEL_EXPORTER_OTLP_ENDPOINT"
    )


def parse_headers(values: Sequence[str]) -> dict[str, str] | None:
    """--header KEY=VALUE pairs (None: let the SDK read $OTEL_EXPORTER_OTLP_HEADERS)."""
    if not values:
        return None
    headers = {}
    for value in values:
        key, sep, content = value.partition("=")
        if not sep or not key.strip():
            # Never echo the value: a header is where API keys go.
            raise typer.BadParameter(
                f"expected KEY=VALUE, got a value without '=' (key {printable(key)[:40]!r})",
                param_hint="--header",
            )
        headers[key.strip()] = content.strip()
    return headers


def _open(state: State) -> Store:
    """The store, upgraded if older (export records what it sent); never created."""
    url = state.store_url
    if Store.revision(url) is None:
        raise missing(parse_url(url))
    return state.open_store(create=True)


@app.command("otel")
def otel(
    ctx: typer.Context,
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint",
            help="OTLP/HTTP receiver: a base URL (http://127.0.0.1:4318 gets /v1/traces) "
            "or the full traces URL. Default: $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "
            "$OTEL_EXPORTER_OTLP_ENDPOINT.",
        ),
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option(
            "--header",
            metavar="KEY=VALUE",
            help="A request header (repeatable), e.g. an API key; default: "
            "$OTEL_EXPORTER_OTLP_HEADERS. Never printed or stored.",
        ),
    ] = None,
    repo: Annotated[
        str | None, typer.Option("--repo", help="Only this repository's runs (OWNER/NAME).")
    ] = None,
    window: WindowOption = None,
    since: SinceOption = None,
    again: Annotated[
        bool,
        typer.Option("--again", help="Also send runs this receiver was already sent."),
    ] = False,
    batch: Annotated[
        int, typer.Option("--batch", min=1, max=5000, help="Runs per OTLP request.")
    ] = 200,
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=0.1, help="Seconds per request, retries included."),
    ] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Stored runs, jobs and steps as OpenTelemetry traces over OTLP/HTTP.

    One trace per finished run attempt (CI/CD semantic conventions: cicd.pipeline.*,
    cicd.pipeline.task.*), span times from the stored timestamps. Idempotent by run:
    a run is sent to a receiver once; --again sends it again (same trace and span ids).
    """
    from opentelemetry.sdk.resources import Resource

    from pilothouse.telemetry.otlp import send
    from pilothouse.telemetry.spans import destination_of, resource_of, trace_spans

    state = state_of(ctx)
    url = resolve_endpoint(endpoint, state.env)
    headers = parse_headers(header or [])
    where = resolve_window(state.now(), days=window, since=since, default_days=None)
    destination = destination_of(url)
    sent_runs = sent_spans = 0
    with _open(state) as store:
        ids = store.runs_to_export(destination, since=where.since, repository=repo, again=again)
        resources: dict[tuple[str, str], Resource] = {}
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            spans = []
            for run in store.export_runs(chunk):
                key = (run.provider, run.repository)
                if key not in resources:
                    resources[key] = resource_of(*key)
                spans.extend(trace_spans(run, resources[key]))
            send(spans, endpoint=url, headers=headers, timeout=timeout)
            store.mark_exported(destination, chunk, state.now())
            sent_runs += len(chunk)
            sent_spans += len(spans)
    summary = {
        "endpoint": destination,
        "runs": sent_runs,
        "spans": sent_spans,
        "window": where.label,
    }
    if as_json:
        print_json(summary)
        return
    if sent_runs:
        typer.echo(f"sent {sent_runs} runs ({sent_spans} spans) to {destination}")
    else:
        again_hint = "" if again else " (add --again to send them again)"
        scope = f"over {where.label}" if where.since is None else where.label  # "since ..."
        typer.echo(f"nothing new to send to {destination} {scope}{again_hint}")
