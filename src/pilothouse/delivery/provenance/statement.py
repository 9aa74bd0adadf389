"""in-toto Statements and SLSA provenance predicates: build them, and read them back.

`provenance_v1` fills the predicate the way GitHub's own generator does inside GitHub
Actions (`actions/toolkit` packages/attest `buildSLSAProvenancePredicate`): buildType
`https://actions.github.io/buildtypes/workflow/v1`, `externalParameters.workflow`,
`internalParameters.github`, the commit in `resolvedDependencies`, the builder id from the
job's workflow ref and the run URL plus attempt as `invocationId`. Elsewhere the build type
is pilothouse's generic one, and what is not known is listed, never guessed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pilothouse.delivery.provenance.model import (
    GENERIC_BUILD_TYPE,
    GITHUB_BUILD_TYPE,
    SLSA_V02,
    SLSA_V1,
    STATEMENT_V01,
    STATEMENT_V1,
    BuildContext,
    Subject,
)

GITHUB_V02_BUILD_TYPE = "https://github.com/Attestations/GitHubActionsWorkflow@v1"
_LISTING_LINE = re.compile(r"([0-9a-fA-F]{64}) [ *](.+)")
_HEX = re.compile(r"[0-9a-f]+")


def parse_listing(text: str) -> list[Subject]:
    """Subjects from `sha256sum` output (`HEX  NAME` or `HEX *NAME` per line).

    >>> parse_listing("0" * 64 + "  dist/app.tar.gz\\n")[0].name
    'dist/app.tar.gz'
    """
    subjects = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _LISTING_LINE.fullmatch(line.rstrip("\r"))
        if match is None:
            raise ValueError(f"line {number} is not `SHA256  NAME` (sha256sum output)")
        subjects.append(Subject(match[2], {"sha256": match[1].lower()}))
    if not subjects:
        raise ValueError("no `SHA256  NAME` line")
    return subjects


def merge_subjects(subjects: Iterable[Subject]) -> list[Subject]:
    """One subject per name (in first-seen order); a name with two digests is an error."""
    merged: dict[str, Subject] = {}
    for subject in subjects:
        seen = merged.get(subject.name)
        if seen is None:
            merged[subject.name] = subject
            continue
        common = seen.digest.keys() & subject.digest.keys()
        if any(seen.digest[a] != subject.digest[a] for a in common):
            raise ValueError(f"{subject.name} is given twice with different digests")
        merged[subject.name] = Subject(subject.name, {**seen.digest, **subject.digest})
    return list(merged.values())


def statement(
    subjects: Iterable[Subject], predicate_type: str, predicate: Mapping[str, Any]
) -> dict[str, Any]:
    """An in-toto Statement v1."""
    return {
        "_type": STATEMENT_V1,
        "subject": [{"name": s.name, "digest": dict(s.digest)} for s in subjects],
        "predicateType": predicate_type,
        "predicate": dict(predicate),
    }


def serialize(document: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON: the bytes that are signed."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def rfc3339(moment: datetime) -> str:
    """UTC with a Z; a time without a zone is taken as UTC (never the machine's zone)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def provenance_v1(context: BuildContext) -> dict[str, Any]:
    """A SLSA Provenance v1 predicate for *context* (builder id required)."""
    if context.builder_id is None:
        raise ValueError("no builder id: pass --builder-id URI (set by itself in GitHub Actions)")
    definition: dict[str, Any] = {
        "buildType": context.build_type,
        "externalParameters": _external(context),
        "internalParameters": _internal(context),
    }
    dependencies = _dependencies(context)
    if dependencies:
        definition["resolvedDependencies"] = dependencies
    return {
        "buildDefinition": definition,
        "runDetails": {"builder": {"id": context.builder_id}, "metadata": _metadata(context)},
    }


def _repository_url(context: BuildContext) -> str | None:
    return f"{context.server_url}/{context.repository}" if context.repository else None


def _external(context: BuildContext) -> dict[str, Any]:
    if context.build_type == GITHUB_BUILD_TYPE:
        workflow = {
            "ref": context.workflow_ref,
            "repository": _repository_url(context),
            "path": context.workflow_path,
        }
        return {"workflow": _present(workflow)}
    source = _present({"repository": _repository_url(context), "ref": context.ref})
    return {"source": source} if source else {}


def _internal(context: BuildContext) -> dict[str, Any]:
    internal: dict[str, Any] = {}
    if context.build_type == GITHUB_BUILD_TYPE:
        internal["github"] = _present(
            {
                "event_name": context.event_name,
                "repository_id": context.repository_id,
                "repository_owner_id": context.repository_owner_id,
                "runner_environment": context.runner_environment,
            }
        )
    notes = _present({"sources": list(context.sources), "unknown": list(context.unknown)})
    if notes:
        internal["pilothouse"] = notes
    return internal


def _dependencies(context: BuildContext) -> list[dict[str, Any]]:
    url = _repository_url(context)
    if url is None or context.commit is None:
        return []
    uri = f"git+{url}@{context.ref}" if context.ref else f"git+{url}"
    return [{"uri": uri, "digest": {"gitCommit": context.commit}}]


def _metadata(context: BuildContext) -> dict[str, Any]:
    return _present(
        {
            "invocationId": context.invocation_id,
            "startedOn": rfc3339(context.started_on) if context.started_on else None,
            "finishedOn": rfc3339(context.finished_on) if context.finished_on else None,
        }
    )


def provenance_v02(context: BuildContext) -> dict[str, Any]:
    """A SLSA Provenance v0.2 predicate (the shape slsa-github-generator's generic
    workflow writes) for consumers that read only v0.2."""
    if context.builder_id is None:
        raise ValueError("no builder id: pass --builder-id URI (set by itself in GitHub Actions)")
    github = context.build_type == GITHUB_BUILD_TYPE
    materials = [
        {"uri": d["uri"], "digest": {"sha1": d["digest"]["gitCommit"]}}
        for d in _dependencies(context)
    ]
    invocation: dict[str, Any] = {"parameters": {}, "environment": _environment_v02(context)}
    if materials:
        source = {"uri": materials[0]["uri"], "digest": materials[0]["digest"]}
        invocation["configSource"] = _present({**source, "entryPoint": context.workflow_path})
    metadata = _present(
        {
            "buildInvocationId": context.invocation_id,
            "buildStartedOn": rfc3339(context.started_on) if context.started_on else None,
            "buildFinishedOn": rfc3339(context.finished_on) if context.finished_on else None,
        }
    )
    metadata["completeness"] = {"parameters": True, "environment": False, "materials": False}
    metadata["reproducible"] = False
    return {
        "builder": {"id": context.builder_id},
        "buildType": GITHUB_V02_BUILD_TYPE if github else GENERIC_BUILD_TYPE,
        "invocation": invocation,
        "metadata": metadata,
        "materials": materials,
    }


def _environment_v02(context: BuildContext) -> dict[str, Any]:
    return _present(
        {
            "github_event_name": context.event_name,
            "github_run_id": context.run_id,
            "github_run_attempt": context.run_attempt,
            "github_repository_id": context.repository_id,
            "github_repository_owner_id": context.repository_owner_id,
            "github_sha1": context.commit,
            "github_ref": context.ref,
            "runner_environment": context.runner_environment,
        }
    )


def _present(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v not in (None, [], {})}


PREDICATES = {SLSA_V1: provenance_v1, SLSA_V02: provenance_v02}


@dataclass(frozen=True, slots=True)
class Statement:
    """A statement read back from a verified payload."""

    statement_type: str
    subjects: tuple[Subject, ...]
    predicate_type: str
    predicate: dict[str, Any]


def parse_statement(payload: bytes) -> Statement:
    """Read a statement from (already verified) payload bytes; ValueError on a bad one.

    Unknown fields are ignored, as the in-toto spec asks of parsers."""
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"the payload is not JSON ({exc})") from None
    except RecursionError:
        raise ValueError("the payload is JSON nested too deep") from None
    if not isinstance(document, dict):
        raise ValueError("the payload is not a JSON object")
    kind = document.get("_type")
    if kind not in (STATEMENT_V1, STATEMENT_V01):
        raise ValueError(f"_type {kind!r} is not an in-toto Statement (v1 or v0.1)")
    predicate_type = document.get("predicateType")
    if not isinstance(predicate_type, str) or not predicate_type:
        raise ValueError("predicateType is missing")
    predicate = document.get("predicate", {})
    if not isinstance(predicate, dict):
        raise ValueError("predicate is not an object")
    subjects = _subjects(document.get("subject"))
    return Statement(kind, subjects, predicate_type, predicate)


def _subjects(items: object) -> tuple[Subject, ...]:
    if not isinstance(items, list) or not items:
        raise ValueError("subject is missing or empty")
    subjects = []
    for index, item in enumerate(items):
        digest = item.get("digest") if isinstance(item, dict) else None
        if not isinstance(digest, dict) or not digest:
            raise ValueError(f"subject[{index}] has no digest")
        if not all(isinstance(v, str) and _HEX.fullmatch(v.lower()) for v in digest.values()):
            raise ValueError(f"subject[{index}] has a digest that is not hex")
        name = item.get("name", "")
        subjects.append(Subject(name if isinstance(name, str) else "", _lower(digest)))
    return tuple(subjects)


def _lower(digest: Mapping[str, str]) -> dict[str, str]:
    return {str(k).lower(): v.lower() for k, v in digest.items()}
