"""The build context from the GitHub Actions environment and from a run in the store.

The environment variables are the ones the runner sets for every step; they carry the
same values as the OIDC token claims GitHub's own generator reads (`workflow_ref`,
`repository`, `ref`, `sha`, `event_name`, `repository_id`, `repository_owner_id`,
`runner_environment`, `run_id`, `run_attempt`), except `job_workflow_ref`: in a reusable
workflow `GITHUB_WORKFLOW_REF` names the caller, so pass `--builder-id` there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pilothouse.delivery.provenance.model import GITHUB_BUILD_TYPE, BuildContext
from pilothouse.model import RunSummary

# The fields a consumer may want, by the name the note of unknowns uses.
_WANTED = {
    "builder_id": "builder id",
    "repository": "source repository",
    "ref": "source ref",
    "commit": "source commit",
    "invocation_id": "invocation id",
    "started_on": "start time",
}


def in_actions(env: Mapping[str, str]) -> bool:
    return env.get("GITHUB_ACTIONS") == "true"


def context_from_env(env: Mapping[str, str]) -> BuildContext:
    """What the GitHub Actions environment says of this build (nothing elsewhere)."""
    if not in_actions(env):
        return BuildContext()
    server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    repository = env.get("GITHUB_REPOSITORY") or None
    workflow = env.get("GITHUB_WORKFLOW_REF") or None
    path, ref = _split_workflow_ref(workflow, repository)
    run_id, attempt = env.get("GITHUB_RUN_ID") or None, env.get("GITHUB_RUN_ATTEMPT") or None
    return BuildContext(
        builder_id=f"{server}/{workflow}" if workflow else None,
        build_type=GITHUB_BUILD_TYPE,
        server_url=server,
        repository=repository,
        workflow_path=path,
        workflow_ref=ref,
        ref=env.get("GITHUB_REF") or None,
        commit=env.get("GITHUB_SHA") or None,
        event_name=env.get("GITHUB_EVENT_NAME") or None,
        repository_id=env.get("GITHUB_REPOSITORY_ID") or None,
        repository_owner_id=env.get("GITHUB_REPOSITORY_OWNER_ID") or None,
        runner_environment=env.get("RUNNER_ENVIRONMENT") or None,
        run_id=run_id,
        run_attempt=attempt,
        job=env.get("GITHUB_JOB") or None,
        invocation_id=_invocation(server, repository, run_id, attempt),
        sources=("environment",),
    )


def _split_workflow_ref(
    workflow: str | None, repository: str | None
) -> tuple[str | None, str | None]:
    """`OWNER/REPO/.github/workflows/x.yml@refs/heads/main` -> path and ref (a ref may hold @)."""
    if workflow is None:
        return None, None
    rest = workflow.removeprefix(f"{repository}/") if repository else workflow
    path, _, ref = rest.partition("@")
    return path or None, ref or None


def _invocation(
    server: str, repository: str | None, run_id: str | None, attempt: str | None
) -> str | None:
    if repository is None or run_id is None:
        return None
    return f"{server}/{repository}/actions/runs/{run_id}/attempts/{attempt or '1'}"


def with_run(context: BuildContext, runs: Sequence[RunSummary]) -> BuildContext:
    """Fill what *context* lacks from the stored run (the one of its repository)."""
    run = _the_run(context, runs)
    if run is None:
        return context
    attempt = _attempt(context, run)
    started = _job_start(context, run, attempt) or next(
        (a.started_at for a in run.attempts if a.attempt == attempt), None
    )
    filled: dict[str, Any] = {
        "repository": context.repository or run.repository,
        "commit": context.commit or run.commit,
        "ref": context.ref or (f"refs/heads/{run.branch}" if run.branch else None),
        "run_id": context.run_id or run.id,
        "run_attempt": context.run_attempt or str(attempt),
        "started_on": context.started_on or started or run.started_at,
    }
    filled["invocation_id"] = context.invocation_id or _invocation(
        context.server_url, filled["repository"], run.id, str(attempt)
    )
    return dataclasses.replace(context, **filled, sources=(*context.sources, "store"))


def _the_run(context: BuildContext, runs: Sequence[RunSummary]) -> RunSummary | None:
    if context.repository is not None:
        runs = [r for r in runs if r.repository.lower() == context.repository.lower()]
    return runs[0] if len(runs) == 1 else None


def _job_start(context: BuildContext, run: RunSummary, attempt: int) -> datetime | None:
    """The start of this job (a job without `name:` is shown by its id, $GITHUB_JOB)."""
    return next(
        (j.started_at for j in run.jobs if j.name == context.job and j.attempt == attempt), None
    )


def _attempt(context: BuildContext, run: RunSummary) -> int:
    if context.run_attempt and context.run_attempt.isdigit():
        return int(context.run_attempt)
    return max((a.attempt for a in run.attempts), default=run.attempt)


def with_flags(context: BuildContext, **flags: Any) -> BuildContext:
    """Values the user passed win over the environment and the store."""
    given = {k: v for k, v in flags.items() if v is not None}
    if not given:
        return context
    return dataclasses.replace(context, **given, sources=(*context.sources, "flags"))


def finished(context: BuildContext, moment: datetime) -> BuildContext:
    """The build is done when its provenance is made: the artifacts exist by then."""
    return dataclasses.replace(context, finished_on=context.finished_on or moment)


def note_unknown(context: BuildContext) -> BuildContext:
    """List the fields nothing filled, so the provenance says what it does not know."""
    unknown = tuple(label for name, label in _WANTED.items() if getattr(context, name) is None)
    return dataclasses.replace(context, unknown=unknown)
