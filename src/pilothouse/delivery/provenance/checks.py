"""The verification policy: every step a named check, in the order SLSA's
`verifying-artifacts.md` gives them.

1. authenticity (per document): `signature` and `threshold` for DSSE with keys, `bundle`
   and `identity` for Sigstore bundles; a payload that fails them is never parsed;
2. `payload-type`, then `statement` (the payload is an in-toto Statement);
3. `subject`: every artifact's digest is a subject of a verified statement;
4. `predicate-type`, then the expectations the consumer gave: `builder-id`,
   `source-uri`, `source-ref`, `external-parameters` (`--strict`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pilothouse.delivery.provenance.dsse import VerifyingKey, count_trusted
from pilothouse.delivery.provenance.model import (
    GENERIC_BUILD_TYPE,
    GITHUB_BUILD_TYPE,
    GITHUB_BUILD_TYPE_OLD,
    PAYLOAD_TYPE,
    SLSA_V02,
    SLSA_V1,
    Artifact,
    Check,
    Envelope,
    Expectations,
    Subject,
    Verdict,
)
from pilothouse.delivery.provenance.statement import Statement, parse_statement

LEVELS = ("L0", "L1", "L2", "L3")
# externalParameters each build type defines (the rest is refused under --strict)
KNOWN_EXTERNAL: dict[str, dict[str, set[str] | None]] = {
    GITHUB_BUILD_TYPE: {"workflow": {"ref", "repository", "path"}, "inputs": None, "vars": None},
    GITHUB_BUILD_TYPE_OLD: {
        "workflow": {"ref", "repository", "path"},
        "inputs": None,
        "vars": None,
    },
    GENERIC_BUILD_TYPE: {"source": {"repository", "ref"}},
}


@dataclass(frozen=True, slots=True)
class Authenticated:
    """One document after its authenticity checks; `payload` is None unless they passed."""

    label: str
    checks: tuple[Check, ...]
    payload_type: str
    payload: bytes | None
    level: str


def authenticate_envelope(
    label: str, envelope: Envelope, keys: Sequence[VerifyingKey], threshold: int
) -> Authenticated:
    """Count the distinct trusted keys that signed *envelope*, before reading its payload."""
    tally = count_trusted(envelope, keys)
    signed = Check(
        "signature",
        tally.verified > 0,
        f"{tally.verified} of {tally.signatures} signatures verified by a trusted key"
        + ("" if tally.verified else f" ({len(keys)} trusted keys)"),
    )
    enough = Check(
        "threshold",
        len(tally.keys) >= threshold,
        f"{len(tally.keys)} distinct trusted keys signed; {threshold} required",
    )
    trusted = signed.ok and enough.ok
    payload = envelope.payload if trusted else None
    return Authenticated(label, (signed, enough), envelope.payload_type, payload, "L1")


def accept_unsigned(label: str, payload: bytes, allowed: bool) -> Authenticated:
    """A bare statement: read only when the consumer allows unsigned provenance."""
    detail = (
        "unsigned statement, accepted by --allow-unsigned (nothing proves who wrote it)"
        if allowed
        else "unsigned statement (a DSSE envelope was expected; --allow-unsigned reads it)"
    )
    check = Check("signature", allowed, detail)
    return Authenticated(label, (check,), PAYLOAD_TYPE, payload if allowed else None, "L1")


def judge(
    documents: Sequence[Authenticated],
    artifacts: Sequence[Artifact],
    expectations: Expectations,
) -> Verdict:
    """All checks over the authenticated documents and the artifacts, merged by name."""
    named: list[tuple[str, Check]] = []
    statements: list[Statement] = []
    for document in documents:
        named.extend((document.label, c) for c in document.checks)
        if document.payload is None:
            continue
        checks, parsed = _read(document)
        named.extend((document.label, c) for c in checks)
        if parsed is not None:
            statements.append(parsed)
            named.extend((document.label, c) for c in statement_checks(parsed, expectations))
    matches = [(a, _matched(a, statements)) for a in artifacts]
    if statements:
        named.append(("", _subject_check(matches)))
    return Verdict(_level(documents), tuple(matches), _merge(named, len(documents)))


def _read(document: Authenticated) -> tuple[list[Check], Statement | None]:
    kind = document.payload_type
    typed = kind == PAYLOAD_TYPE or (
        kind.startswith("application/vnd.in-toto.") and kind.endswith("+json")
    )
    checks = [Check("payload-type", typed, f"payloadType {kind}")]
    if not typed or document.payload is None:
        return checks, None
    try:
        parsed = parse_statement(document.payload)
    except ValueError as exc:
        return [*checks, Check("statement", False, str(exc))], None
    detail = f"{parsed.statement_type} with {len(parsed.subjects)} subjects"
    return [*checks, Check("statement", True, detail)], parsed


def statement_checks(statement: Statement, expectations: Expectations) -> list[Check]:
    """The predicate's checks against what the consumer expects."""
    view = ProvenanceView.of(statement)
    checks = [_predicate_type(statement, expectations)]
    if expectations.builder_id is not None:
        checks.append(_builder(view, expectations.builder_id))
    if expectations.source_uri is not None:
        checks.append(_source(view, expectations.source_uri))
    if expectations.source_ref is not None:
        checks.append(_ref(view, expectations.source_ref))
    if expectations.strict:
        checks.append(_external(view))
    return checks


@dataclass(frozen=True, slots=True)
class ProvenanceView:
    """The fields a verifier reads, from a v1 or a v0.2 predicate."""

    builder_id: str | None
    build_type: str | None
    external: dict[str, Any] | None
    sources: tuple[str, ...]  # git URIs, with @ref when given

    @classmethod
    def of(cls, statement: Statement) -> ProvenanceView:
        p = statement.predicate
        if statement.predicate_type == SLSA_V02:
            invocation = _object(p.get("invocation"))
            config = _object(invocation.get("configSource"))
            uris = [config.get("uri")] + [
                _object(m).get("uri") for m in _list(p.get("materials"))[:1]
            ]
            params = invocation.get("parameters")
            return cls(
                _text(_object(p.get("builder")).get("id")),
                _text(p.get("buildType")),
                params if isinstance(params, dict) else None,
                tuple(u for u in uris if isinstance(u, str)),
            )
        definition = _object(p.get("buildDefinition"))
        external = definition.get("externalParameters")
        return cls(
            _text(_object(_object(p.get("runDetails")).get("builder")).get("id")),
            _text(definition.get("buildType")),
            external if isinstance(external, dict) else None,
            _v1_sources(definition, external if isinstance(external, dict) else {}),
        )


def _v1_sources(definition: Mapping[str, Any], external: Mapping[str, Any]) -> tuple[str, ...]:
    uris = [
        _object(d).get("uri")
        for d in _list(definition.get("resolvedDependencies"))
        if str(_object(d).get("uri", "")).startswith("git+")
    ][:1]
    for key in ("workflow", "source"):
        block = _object(external.get(key))
        repository, ref = block.get("repository"), block.get("ref")
        if isinstance(repository, str):
            uris.append(f"{repository}@{ref}" if isinstance(ref, str) else repository)
    return tuple(u for u in uris if isinstance(u, str))


def _predicate_type(statement: Statement, expectations: Expectations) -> Check:
    wanted = (expectations.predicate_type,) if expectations.predicate_type else (SLSA_V1, SLSA_V02)
    ok = statement.predicate_type in wanted
    expected = "" if ok else f" (expected {' or '.join(wanted)})"
    return Check("predicate-type", ok, f"{statement.predicate_type}{expected}")


def _builder(view: ProvenanceView, expected: str) -> Check:
    found = view.builder_id or ""
    # an expected id without @ref matches any ref of that builder (slsa-verifier's rule)
    ok = found == expected or ("@" not in expected and found.partition("@")[0] == expected)
    return Check("builder-id", ok, f"builder {found or '(none)'}; expected {expected}")


def normalize_repository(uri: str) -> str:
    """`git+https://github.com/o/r.git@refs/x` -> `github.com/o/r` (lowercase)."""
    text = uri.removeprefix("git+")
    text = text.split("://", 1)[-1].split("@", 1)[0]
    return text.removesuffix("/").removesuffix(".git").lower()


def _ref_of(uri: str) -> str | None:
    body = uri.removeprefix("git+").split("://", 1)[-1]
    return body.split("@", 1)[1] if "@" in body else None


def _source(view: ProvenanceView, expected: str) -> Check:
    found = sorted({normalize_repository(u) for u in view.sources})
    ok = bool(found) and all(f == normalize_repository(expected) for f in found)
    shown = ", ".join(found) or "(none)"
    return Check("source-uri", ok, f"source {shown}; expected {normalize_repository(expected)}")


def _ref(view: ProvenanceView, expected: str) -> Check:
    refs = [r for r in (_ref_of(u) for u in view.sources) if r]
    found = refs[0] if refs else None
    wanted = (
        {expected}
        if expected.startswith("refs/")
        else {f"refs/heads/{expected}", f"refs/tags/{expected}"}
    )
    ok = found in wanted
    return Check(
        "source-ref", ok, f"ref {found or '(none)'}; expected {' or '.join(sorted(wanted))}"
    )


def _external(view: ProvenanceView) -> Check:
    known = KNOWN_EXTERNAL.get(view.build_type or "")
    external = view.external or {}
    if known is None:
        if not external:
            return Check("external-parameters", True, "no external parameters")
        return Check(
            "external-parameters", False, f"buildType {view.build_type} is not one --strict knows"
        )
    unknown = [k for k in external if k not in known]
    for key, fields in known.items():
        block = external.get(key)
        if fields is not None and isinstance(block, dict):
            unknown.extend(f"{key}.{f}" for f in block if f not in fields)
    detail = f"unknown: {', '.join(unknown)}" if unknown else f"all of {view.build_type}"
    return Check("external-parameters", not unknown, detail)


def _matched(artifact: Artifact, statements: Sequence[Statement]) -> bool:
    return any(_same(artifact.digest, s) for st in statements for s in st.subjects)


def _same(digest: Mapping[str, str], subject: Subject) -> bool:
    common = digest.keys() & subject.digest.keys()
    return bool(common) and all(digest[a] == subject.digest[a] for a in common)


def _subject_check(matches: Sequence[tuple[Artifact, bool]]) -> Check:
    missing = [a.name for a, ok in matches if not ok]
    if missing:
        return Check("subject", False, f"no subject has the digest of {', '.join(missing)}")
    return Check("subject", True, f"{len(matches)} artifacts are subjects")


def _level(documents: Sequence[Authenticated]) -> str:
    levels = [d.level for d in documents] or ["L0"]
    return min(levels, key=LEVELS.index)


def _merge(named: Sequence[tuple[str, Check]], count: int) -> tuple[Check, ...]:
    """One check per name: ok when every document's is; with several documents each
    detail says which one (`line 2: ...`)."""
    order: dict[str, list[tuple[str, Check]]] = {}
    for label, check in named:
        order.setdefault(check.name, []).append((label, check))
    merged = []
    for name, items in order.items():
        details = [
            f"{label}: {c.detail}" if label and count > 1 else c.detail for label, c in items
        ]
        merged.append(Check(name, all(c.ok for _, c in items), "; ".join(details)))
    return tuple(merged)


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
