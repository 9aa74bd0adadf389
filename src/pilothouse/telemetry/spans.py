"""A run attempt as one trace, following OpenTelemetry's CI/CD semantic conventions.

One trace per run attempt: a SERVER span for the pipeline run (`RUN {workflow}`), an
INTERNAL span per job (a *task* run) and one per timed step under its job. Span times
are the stored timestamps; trace and span ids are derived from the run's identity
(provider, repository, run id, attempt, job, step), so sending the same run twice gives
the receiver the same ids instead of a second copy it cannot recognise.

Pure: builds SDK `ReadableSpan`s, sends nothing (otlp.py does).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from pilothouse import __version__
from pilothouse.telemetry.model import ExportJob, ExportRun, ExportStep

SCOPE = InstrumentationScope("pilothouse", __version__)
# GitHub Actions conclusions -> the conventions' cicd.pipeline.result /
# cicd.pipeline.task.run.result values (success, failure, error, timeout,
# cancellation, skip). neutral is a success that chose not to pass or fail;
# startup_failure and action_required never ran the work: an error of the CI system.
RESULTS = {
    "success": "success",
    "neutral": "success",
    "failure": "failure",
    "timed_out": "timeout",
    "cancelled": "cancellation",
    "skipped": "skip",
    "stale": "cancellation",
    "startup_failure": "error",
    "action_required": "error",
}
_FAILED = frozenset({"failure", "error", "timeout"})
_PROVIDER_SITES = {"github": "https://github.com"}


def result_of(conclusion: str | None) -> str | None:
    """The conventions' result value for a CI conclusion (None: unknown or none)."""
    return RESULTS.get(conclusion or "")


def destination_of(endpoint: str) -> str:
    """Where spans go, as recorded per exported run: the endpoint without user
    information, query or fragment (a token put in the URL is never stored)."""
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme.lower(), netloc.lower(), parts.path or "/", "", ""))


def _id(bits: int, *parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    value = int.from_bytes(digest[: bits // 8], "big")
    return value or 1  # an all-zero id is invalid


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000) * 1_000


def _status(result: str | None) -> Status:
    if result in _FAILED:
        return Status(StatusCode.ERROR, result)
    return Status(StatusCode.UNSET)


def _context(trace_id: int, span_id: int) -> SpanContext:
    flags = TraceFlags(TraceFlags.SAMPLED)
    return SpanContext(trace_id, span_id, is_remote=False, trace_flags=flags)


def repository_url(provider: str, repository: str) -> str | None:
    site = _PROVIDER_SITES.get(provider)
    return f"{site}/{repository}" if site else None


def resource_of(provider: str, repository: str) -> Resource:
    """The resource of every span of one repository's runs."""
    attributes: dict[str, str] = {
        "service.name": repository,
        "vcs.provider.name": provider,
        "vcs.repository.name": repository.rsplit("/", 1)[-1],
    }
    url = repository_url(provider, repository)
    if url:
        attributes["vcs.repository.url.full"] = url
    return Resource(attributes)


def _run_attributes(run: ExportRun) -> dict[str, str | int]:
    attributes: dict[str, str | int] = {
        "cicd.pipeline.name": run.workflow or "(unnamed)",
        "cicd.pipeline.run.id": run.run_key,
        "cicd.pipeline.action.name": "RUN",
        "pilothouse.run.attempt": run.attempt,
    }
    optional: dict[str, str | int | None] = {
        "cicd.pipeline.result": result_of(run.conclusion),
        "cicd.pipeline.run.url.full": run.html_url,
        "cicd.pipeline.trigger.event": run.event,
        "vcs.ref.head.name": run.branch,
        "vcs.ref.head.revision": run.commit_sha,
        "pilothouse.run.number": run.run_number,
        "pilothouse.run.conclusion": run.conclusion,
    }
    attributes.update({k: v for k, v in optional.items() if v is not None})
    result = result_of(run.conclusion)
    if result in _FAILED or result == "error":
        attributes["error.type"] = run.conclusion or "failure"
    return attributes


def _job_url(run: ExportRun, job: ExportJob) -> str | None:
    if run.provider == "github" and run.html_url and job.job_key.isdigit():
        return f"{run.html_url.split('/attempts/')[0]}/job/{job.job_key}"
    return None


def _job_attributes(run: ExportRun, job: ExportJob) -> dict[str, str | int | list[str]]:
    attributes: dict[str, str | int | list[str]] = {
        "cicd.pipeline.name": run.workflow or "(unnamed)",
        "cicd.pipeline.run.id": run.run_key,
        "cicd.pipeline.task.name": job.name,
        "cicd.pipeline.task.run.id": job.job_key,
    }
    optional: dict[str, str | list[str] | None] = {
        "cicd.pipeline.task.run.result": result_of(job.conclusion),
        "cicd.pipeline.task.run.url.full": _job_url(run, job),
        "cicd.worker.name": job.runner_name,
        "pilothouse.runner.labels": list(job.runner_labels) or None,
    }
    attributes.update({k: v for k, v in optional.items() if v is not None})
    return attributes


def _step_attributes(run: ExportRun, job: ExportJob, step: ExportStep) -> dict[str, str | int]:
    attributes: dict[str, str | int] = {
        "cicd.pipeline.run.id": run.run_key,
        "cicd.pipeline.task.name": job.name,
        "cicd.pipeline.task.run.id": job.job_key,
        "pilothouse.step.name": step.name,
        "pilothouse.step.number": step.number,
    }
    result = result_of(step.conclusion)
    if result is not None:
        attributes["pilothouse.step.result"] = result
    return attributes


def trace_spans(run: ExportRun, resource: Resource | None = None) -> list[ReadableSpan]:
    """The spans of one finished run attempt: the run, then each job and its steps."""
    resource = resource or resource_of(run.provider, run.repository)
    identity = (run.provider, run.repository, run.run_key, run.attempt)
    trace_id = _id(128, *identity)
    run_context = _context(trace_id, _id(64, *identity, "run"))
    start = run.started_at or run.created_at or run.finished_at
    run_result = result_of(run.conclusion)
    spans = [
        ReadableSpan(
            name=f"RUN {run.workflow or '(unnamed)'}",
            context=run_context,
            resource=resource,
            attributes=_run_attributes(run),
            kind=SpanKind.SERVER,
            status=_status(run_result),
            start_time=_ns(start),
            end_time=_ns(max(run.finished_at, start)),
            instrumentation_scope=SCOPE,
        )
    ]
    spans.extend(_job_spans(run, resource, trace_id, run_context))
    return spans


def _job_spans(
    run: ExportRun, resource: Resource, trace_id: int, parent: SpanContext
) -> Iterator[ReadableSpan]:
    identity = (run.provider, run.repository, run.run_key, run.attempt)
    for job in run.jobs:
        if job.started_at is None or job.finished_at is None:
            continue  # never ran (skipped, or cancelled while queued): nothing to time
        context = _context(trace_id, _id(64, *identity, "job", job.job_key))
        events: tuple[Event, ...] = ()
        if job.created_at is not None and job.created_at < job.started_at:
            events = (Event("job.queued", timestamp=_ns(job.created_at)),)
        result = result_of(job.conclusion)
        yield ReadableSpan(
            name=job.name,
            context=context,
            parent=parent,
            resource=resource,
            attributes=_job_attributes(run, job),
            events=events,
            kind=SpanKind.INTERNAL,
            status=_status(result),
            start_time=_ns(job.started_at),
            end_time=_ns(max(job.finished_at, job.started_at)),
            instrumentation_scope=SCOPE,
        )
        for step in job.steps:
            if step.started_at is None or step.finished_at is None:
                continue
            yield ReadableSpan(
                name=step.name,
                context=_context(trace_id, _id(64, *identity, "step", job.job_key, step.number)),
                parent=context,
                resource=resource,
                attributes=_step_attributes(run, job, step),
                kind=SpanKind.INTERNAL,
                status=_status(result_of(step.conclusion)),
                start_time=_ns(step.started_at),
                end_time=_ns(max(step.finished_at, step.started_at)),
                instrumentation_scope=SCOPE,
            )
