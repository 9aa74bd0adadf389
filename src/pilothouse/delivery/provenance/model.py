"""The records of provenance: envelopes, subjects, build context, checks and verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
STATEMENT_V01 = "https://in-toto.io/Statement/v0.1"
SLSA_V1 = "https://slsa.dev/provenance/v1"
SLSA_V02 = "https://slsa.dev/provenance/v0.2"
PREDICATE_TYPES = {"v1": SLSA_V1, "v0.2": SLSA_V02}
GITHUB_BUILD_TYPE = "https://actions.github.io/buildtypes/workflow/v1"
# The same build type under its first name (bundles made before actions/toolkit renamed it).
GITHUB_BUILD_TYPE_OLD = "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1"
GENERIC_BUILD_TYPE = "https://pilothouse.dev/buildtypes/generic/v1"
GENERIC_V02_BUILD_TYPE = "https://github.com/slsa-framework/slsa-github-generator/generic@v1"
DIGESTS = ("sha256", "sha512")


@dataclass(frozen=True, slots=True)
class Signature:
    """One DSSE signature: the raw signature bytes and the optional key id (a hint)."""

    sig: bytes
    keyid: str = ""


@dataclass(frozen=True, slots=True)
class Envelope:
    """A DSSE envelope; `payload` holds the decoded bytes, never parsed here."""

    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]


@dataclass(frozen=True, slots=True)
class Subject:
    """An artifact named in a statement, by its digests (algorithm -> lowercase hex)."""

    name: str
    digest: dict[str, str]


@dataclass(frozen=True, slots=True)
class BuildContext:
    """What is known of the build that made the artifacts; None is unknown."""

    builder_id: str | None = None
    build_type: str = GENERIC_BUILD_TYPE
    server_url: str = "https://github.com"
    repository: str | None = None  # OWNER/REPO
    workflow_path: str | None = None
    workflow_ref: str | None = None
    ref: str | None = None
    commit: str | None = None
    event_name: str | None = None
    repository_id: str | None = None
    repository_owner_id: str | None = None
    runner_environment: str | None = None
    run_id: str | None = None
    run_attempt: str | None = None
    job: str | None = None  # the job's id in the workflow ($GITHUB_JOB)
    invocation_id: str | None = None
    started_on: datetime | None = None
    finished_on: datetime | None = None
    sources: tuple[str, ...] = ()  # where the values came from: "environment", "store", ...
    unknown: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Check:
    """One named verification step and its outcome."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Artifact:
    """A local file to verify: its name and digests."""

    name: str
    digest: dict[str, str]


@dataclass(frozen=True, slots=True)
class Expectations:
    """What the consumer requires of the provenance (None: not checked)."""

    predicate_type: str | None = None
    builder_id: str | None = None
    source_uri: str | None = None  # github.com/OWNER/REPO
    source_ref: str | None = None  # refs/heads/main, refs/tags/v1.2.3
    strict: bool = False
    allow_unsigned: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of `provenance verify`, as its JSON shows it."""

    level: str
    artifacts: tuple[tuple[Artifact, bool], ...]
    checks: tuple[Check, ...]

    @property
    def verified(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def to_json(self) -> dict[str, object]:
        return {
            "verified": self.verified,
            "level": self.level if self.verified else "L0",
            "artifacts": [
                {"name": a.name, "sha256": a.digest.get("sha256"), "matched": matched}
                for a, matched in self.artifacts
            ],
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }
