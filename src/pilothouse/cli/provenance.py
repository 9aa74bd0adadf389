"""`pilothouse provenance keygen|generate|verify`: SLSA provenance for release artifacts."""

from __future__ import annotations

import enum
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from pilothouse.cli.output import print_json
from pilothouse.cli.state import State, state_of
from pilothouse.errors import ConfigError, InputError, StoreError, StoreMissing
from pilothouse.files import write_atomically

app = typer.Typer(
    help="SLSA build provenance for release artifacts: in-toto Statement v1, SLSA Provenance "
    "v1, DSSE signatures; verifies GitHub's Sigstore bundles offline too.\n\n"
    "A key the build itself holds makes Build L1 provenance (docs/provenance.md says how "
    "to reach L2 and L3 on GitHub).",
    no_args_is_help=True,
)


class KeyType(enum.StrEnum):
    ecdsa = "ecdsa"
    ed25519 = "ed25519"


class PredicateVersion(enum.StrEnum):
    v1 = "v1"
    v02 = "v0.2"


def _path(state: State, path: Path | None) -> Path | None:
    return None if path is None else state.cwd / path


@app.command()
def keygen(
    ctx: typer.Context,
    kind: Annotated[
        KeyType, typer.Option("--type", help="ECDSA P-256 or Ed25519.")
    ] = KeyType.ecdsa,
    output: Annotated[
        Path, typer.Option("--output", help="Writes PREFIX.key (mode 0600) and PREFIX.pub.")
    ] = Path("provenance"),
    force: Annotated[bool, typer.Option("--force", help="Replace existing files.")] = False,
) -> None:
    """A signing key pair in PEM: the private key readable by its owner only.

    Keep the private key in a CI secret (its PEM text may be given in
    $PILOTHOUSE_PROVENANCE_KEY instead of --key) and publish the .pub for consumers.
    """
    from pilothouse.delivery.provenance import files, keys

    state = state_of(ctx)
    key = keys.generate(kind.value)
    files.write_key_pair(state.cwd / output, key, force=force)
    typer.echo(f"Wrote {output}.key (private, mode 0600) and {output}.pub; key id {key.keyid}")


@app.command()
def generate(
    ctx: typer.Context,
    artifacts: Annotated[
        list[str] | None,
        typer.Argument(help="Files, directories or globs: the subjects.", metavar="ARTIFACT"),
    ] = None,
    subjects: Annotated[
        Path | None,
        typer.Option("--subjects", help="Subjects from `sha256sum` output (a file), too."),
    ] = None,
    base64_subjects: Annotated[
        str | None,
        typer.Option(
            "--base64-subjects",
            help="`sha256sum` output in base64, as slsa-github-generator takes it.",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write here (NAME.intoto.jsonl) instead of stdout."),
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option(
            "--key", help="Private key PEM (else $PILOTHOUSE_PROVENANCE_KEY).", metavar="KEYFILE"
        ),
    ] = None,
    unsigned: Annotated[
        bool, typer.Option("--unsigned", help="Write the bare statement, unsigned.")
    ] = False,
    builder_id: Annotated[
        str | None,
        typer.Option(
            "--builder-id", help="Builder URI (default in GitHub Actions: the workflow ref)."
        ),
    ] = None,
    predicate_type: Annotated[
        PredicateVersion, typer.Option("--predicate-type", help="SLSA provenance v1 or v0.2.")
    ] = PredicateVersion.v1,
    repository: Annotated[
        str | None, typer.Option("--repository", help="Source repository OWNER/REPO.")
    ] = None,
    ref: Annotated[str | None, typer.Option("--ref", help="Source ref (refs/tags/v1.2.3).")] = None,
    commit: Annotated[str | None, typer.Option("--commit", help="Source commit SHA.")] = None,
    run_id: Annotated[
        str | None,
        typer.Option("--run-id", help="A run in the store fills what is missing ($GITHUB_RUN_ID)."),
    ] = None,
    started_on: Annotated[
        datetime | None, typer.Option("--started-on", help="When the build started (ISO 8601).")
    ] = None,
) -> None:
    """An in-toto Statement v1 with a SLSA provenance predicate, signed (DSSE).

    Inside GitHub Actions every field comes from the environment the way GitHub's own
    generator fills it; elsewhere from the flags, with what is unknown listed in
    internalParameters.pilothouse.unknown. A run already synced into the store fills
    what the environment lacks.
    """
    from pilothouse.delivery.provenance import dsse, files, statement
    from pilothouse.delivery.provenance.model import PAYLOAD_TYPE, PREDICATE_TYPES

    state = state_of(ctx)
    if unsigned and key is not None:
        raise typer.BadParameter("--unsigned and --key exclude each other", param_hint="--unsigned")
    found = _subjects(state, artifacts or [], subjects, base64_subjects)
    signer = None if unsigned else files.signing_key(_path(state, key), state.env)
    if key is not None and files.readable_by_others(state.cwd / key):
        sys.stderr.write(f"pilothouse: note: {key} is readable by others (chmod 600 {key})\n")
    if signer is None and not unsigned:
        raise ConfigError(
            f"no signing key: pass --key FILE or set ${files.KEY_ENV} "
            "(pilothouse provenance keygen makes one), or --unsigned"
        )
    flags = {"builder_id": builder_id, "repository": repository, "ref": ref, "commit": commit}
    context = _context(state, run_id, started_on=started_on, **flags)
    kind = PREDICATE_TYPES[predicate_type.value]
    try:
        predicate = statement.PREDICATES[kind](context)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    body = statement.serialize(statement.statement(found, kind, predicate))
    if signer is None:
        line = body
    else:
        envelope = dsse.sign(PAYLOAD_TYPE, body, [signer])
        line = statement.serialize(dsse.envelope_to_json(envelope))
    _emit(state, output, line + b"\n")
    _summary(len(found), predicate_type.value, signer is not None, context.unknown, output)


def _subjects(
    state: State, artifacts: list[str], listing: Path | None, encoded: str | None
) -> list[Any]:
    from pilothouse.delivery.provenance import dsse, files, statement

    found = files.subjects(artifacts, state.cwd)
    texts = []
    if listing is not None:
        path = state.cwd / listing
        texts.append((str(path), files.read_bounded(path, files.MAX_SMALL_BYTES, "listing")))
    if encoded is not None:
        try:
            texts.append(("--base64-subjects", dsse.b64decode(encoded.strip())))
        except ValueError as exc:
            raise InputError(f"--base64-subjects: {exc}") from None
    for source, data in texts:
        try:
            found.extend(statement.parse_listing(data.decode("utf-8", errors="replace")))
        except ValueError as exc:
            raise InputError(f"{source}: {exc}") from None
    if not found:
        raise typer.BadParameter("give ARTIFACT... or --subjects", param_hint="ARTIFACT")
    try:
        return statement.merge_subjects(found)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _context(
    state: State, run_id: str | None, *, started_on: datetime | None, **flags: str | None
) -> Any:
    from pilothouse.delivery.provenance import github

    context = github.context_from_env(state.env)
    key = run_id or context.run_id
    if key is not None:
        context = github.with_run(context, _stored_runs(state, key))
    context = github.with_flags(context, **flags, started_on=started_on, run_id=run_id)
    context = github.finished(context, state.now())
    return github.note_unknown(context)


def _stored_runs(state: State, run_key: str) -> list[Any]:
    """The synced run, when a store exists (this command never creates one)."""
    try:
        with state.open_store() as store:
            return store.runs_by_key(run_key)
    except StoreMissing:
        return []
    except StoreError as exc:  # an enrichment: say so, and make the provenance without it
        sys.stderr.write(f"pilothouse: note: the store was not read ({exc})\n")
        return []


def _emit(state: State, output: Path | None, data: bytes) -> None:

    if output is None:
        sys.stdout.write(data.decode())
        sys.stdout.flush()
        return
    write_atomically(state.cwd / output, data)


def _summary(
    count: int, version: str, signed: bool, unknown: tuple[str, ...], output: Path | None
) -> None:
    level = "Build L1: signed by a key the build holds" if signed else "Build L1: unsigned"
    where = f" to {output}" if output is not None else ""
    note = f"; unknown: {', '.join(unknown)}" if unknown else ""
    sys.stderr.write(f"Provenance (SLSA {version}, {level}) for {count} artifacts{where}{note}\n")


@app.command()
def verify(
    ctx: typer.Context,
    artifacts: Annotated[
        list[str], typer.Argument(help="The artifacts to check.", metavar="ARTIFACT")
    ],
    provenance: Annotated[
        Path,
        typer.Option("--provenance", help="A .intoto.jsonl (DSSE envelopes) or *.sigstore.json."),
    ],
    key: Annotated[
        list[Path] | None,
        typer.Option("--key", help="A trusted public key PEM (repeatable).", metavar="PUBKEY"),
    ] = None,
    threshold: Annotated[
        int, typer.Option("--threshold", min=1, help="Distinct trusted keys that must sign.")
    ] = 1,
    trusted_root: Annotated[
        Path | None,
        typer.Option("--trusted-root", help="Sigstore trusted root (gh attestation trusted-root)."),
    ] = None,
    builder_id: Annotated[
        str | None, typer.Option("--builder-id", help="Expected builder id (no @ref: any ref).")
    ] = None,
    source_uri: Annotated[
        str | None, typer.Option("--source-uri", help="Expected source: github.com/OWNER/REPO.")
    ] = None,
    source_ref: Annotated[
        str | None, typer.Option("--source-ref", help="Expected source ref (refs/heads/main).")
    ] = None,
    source_tag: Annotated[
        str | None, typer.Option("--source-tag", help="Expected source tag (v1.2.3).")
    ] = None,
    signer_workflow: Annotated[
        str | None,
        typer.Option("--signer-workflow", help="Bundles: OWNER/REPO/.github/workflows/X.yml."),
    ] = None,
    issuer: Annotated[
        str | None, typer.Option("--cert-oidc-issuer", help="Bundles: the OIDC issuer.")
    ] = None,
    deny_self_hosted: Annotated[
        bool, typer.Option("--deny-self-hosted-runners", help="Bundles: GitHub-hosted only.")
    ] = False,
    predicate_type: Annotated[
        str | None,
        typer.Option(
            "--predicate-type", help="Expected predicate type (default: SLSA v1 or v0.2)."
        ),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Refuse externalParameters the build type lacks.")
    ] = False,
    allow_unsigned: Annotated[
        bool, typer.Option("--allow-unsigned", help="Read an unsigned statement (L1 at best).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The verdict as JSON.")] = False,
) -> None:
    """Verify the provenance of ARTIFACT...: signatures first, then each check.

    Exit 0 when every check passes; 1 naming each failed check.
    """
    from pilothouse.delivery.provenance import checks, files
    from pilothouse.delivery.provenance.model import Expectations

    state = state_of(ctx)
    if source_ref is not None and source_tag is not None:
        raise typer.BadParameter("--source-ref and --source-tag exclude each other")
    ref = source_ref if source_tag is None else f"refs/tags/{source_tag}"
    documents = files.read_documents(state.cwd / provenance)
    found = files.artifacts(artifacts, state.cwd)
    trusted = files.public_keys([state.cwd / k for k in key or []])
    _needs(documents, trusted, threshold, trusted_root)
    identity = _identity(source_uri, signer_workflow, ref, issuer, deny_self_hosted)
    roots = _roots(state, trusted_root) if any(d.kind == "bundle" for d in documents) else []
    authenticated = [
        _authenticate(d, trusted, threshold, roots, identity, allow_unsigned) for d in documents
    ]
    expectations = Expectations(predicate_type, builder_id, source_uri, ref, strict, allow_unsigned)
    verdict = checks.judge(authenticated, found, expectations)
    _report(verdict, as_json)


def _needs(documents: list[Any], trusted: list[Any], threshold: int, root: Path | None) -> None:
    kinds = {d.kind for d in documents}
    if "envelope" in kinds and not trusted and any(_certified(d) for d in documents):
        raise InputError(
            "the envelope is signed by a Sigstore certificate without its transparency log "
            "entry (slsa-github-generator .intoto.jsonl): that needs an online Rekor look-up, "
            "which pilothouse does not do; verify a Sigstore bundle (*.sigstore.json) instead"
        )
    if "envelope" in kinds and not trusted:
        raise ConfigError("the provenance is DSSE-signed: pass --key PUBKEY to verify it")
    if "envelope" in kinds and threshold > len(trusted):
        raise typer.BadParameter(
            f"{threshold} distinct keys required but {len(trusted)} given", param_hint="--threshold"
        )
    if "bundle" in kinds and root is None:
        raise ConfigError(
            "the provenance is a Sigstore bundle: pass --trusted-root FILE "
            "(gh attestation trusted-root > trusted_root.jsonl)"
        )


def _certified(document: Any) -> bool:
    signatures = document.value.get("signatures") if document.kind == "envelope" else None
    return isinstance(signatures, list) and any(
        isinstance(s, dict) and "cert" in s for s in signatures
    )


def _identity(
    source_uri: str | None, workflow: str | None, ref: str | None, issuer: str | None, deny: bool
) -> Any:
    from pilothouse.delivery.provenance.bundle import GITHUB_ISSUER, Identity

    return Identity(source_uri, workflow, ref, issuer or GITHUB_ISSUER, deny)


def _roots(state: State, path: Path | None) -> list[Any]:
    from pilothouse.delivery.provenance import bundle, files

    assert path is not None, "checked by _needs"
    full = state.cwd / path
    data = files.read_bounded(full, files.MAX_PROVENANCE_BYTES, "trusted root")
    try:
        return bundle.load_trusted_roots(full, data)
    except (ValueError, bundle.MissingSigstore) as exc:
        raise InputError(str(exc)) from None


def _authenticate(
    document: Any,
    trusted: list[Any],
    threshold: int,
    roots: list[Any],
    identity: Any,
    unsigned: bool,
) -> Any:
    from pilothouse.delivery.provenance import bundle, checks, dsse

    label = document.label
    if document.kind == "bundle":
        return bundle.authenticate_bundle(label, document.raw, roots, identity)
    if document.kind == "statement":
        return checks.accept_unsigned(label, document.raw, unsigned)
    try:
        envelope = dsse.envelope_from_json(document.value)
    except ValueError as exc:
        raise InputError(f"{label or 'the envelope'}: not a DSSE envelope: {exc}") from None
    return checks.authenticate_envelope(label, envelope, trusted, threshold)


def _report(verdict: Any, as_json: bool) -> None:
    if as_json:
        print_json(verdict.to_json())
    else:
        _print_human(verdict)
    if not verdict.verified:
        failed = "; ".join(f"{c.name} ({c.detail})" for c in verdict.failed) or "no check ran"
        sys.stderr.write(f"pilothouse: provenance verification failed: {failed}\n")
        raise typer.Exit(1)


def _print_human(verdict: Any) -> None:
    for check in verdict.checks:
        typer.echo(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    for artifact, matched in verdict.artifacts:
        mark = "ok  " if matched else "FAIL"
        typer.echo(f"{mark} {artifact.name} sha256:{artifact.digest['sha256']}")
    if verdict.verified:
        typer.echo(f"Verified: SLSA Build {verdict.level}")
