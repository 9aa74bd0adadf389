"""Sigstore bundles (`*.sigstore.json` from actions/attest-build-provenance), verified
offline by the `sigstore` package against a trusted root the user supplies.

`sigstore` checks the certificate chain to the trusted root's Fulcio CA at the time the
transparency log (or a timestamp authority) vouches for, the SCT, the log entry's
inclusion proof and signed checkpoint or promise, and the DSSE signature; nothing is
fetched. The certificate's identity is then checked as `gh attestation verify` does: the
OIDC issuer, the source repository, the signer workflow, the ref, hosted runners.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pilothouse.delivery.provenance.checks import Authenticated, normalize_repository
from pilothouse.delivery.provenance.model import Check

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
_ISSUER = "1.3.6.1.4.1.57264.1.8"
_SIGNER_URI = "1.3.6.1.4.1.57264.1.9"
_RUNNER = "1.3.6.1.4.1.57264.1.11"
_SOURCE_URI = "1.3.6.1.4.1.57264.1.12"
_SOURCE_REF = "1.3.6.1.4.1.57264.1.14"
# what sigstore says when a bundle needs what it cannot do offline
_OFFLINE_LIMITS = ("only supported for", "Unsupported DSSE log entry", "not enough sources")


class MissingSigstore(Exception):
    """The `sigstore` package is not installed."""


@dataclass(frozen=True, slots=True)
class Identity:
    """The signer a consumer expects (gh attestation verify's --repo, --signer-workflow ...)."""

    source_uri: str | None = None  # github.com/OWNER/REPO
    signer_workflow: str | None = None  # OWNER/REPO/.github/workflows/x.yml[@ref]
    source_ref: str | None = None
    issuer: str = GITHUB_ISSUER
    deny_self_hosted: bool = False


def load_trusted_roots(path: Path, data: bytes) -> list[Any]:
    """Every trusted root in the file: one JSON document, or JSON lines as
    `gh attestation trusted-root` writes them (the public-good and GitHub's instances)."""
    models = _sigstore()
    text = data.decode("utf-8", errors="replace")
    try:
        json.loads(text)
        lines = [text]
    except (json.JSONDecodeError, RecursionError):
        lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"{path} holds no trusted root")
    with tempfile.TemporaryDirectory(prefix="pilothouse-root-") as folder:
        return [_root(models, path, Path(folder), n, line) for n, line in enumerate(lines, 1)]


def _root(models: Any, path: Path, folder: Path, number: int, text: str) -> Any:
    from sigstore.errors import Error as SigstoreError

    copy = folder / f"{number}.json"
    copy.write_text(text)
    try:
        return models.TrustedRoot.from_file(str(copy))
    except (ValueError, SigstoreError) as exc:
        where = f"{path} line {number}" if number > 1 or "\n" in text.strip() else str(path)
        raise ValueError(f"{where} is not a Sigstore trusted root ({_line(exc)})") from None


def authenticate_bundle(
    label: str, raw: bytes, roots: Sequence[Any], identity: Identity
) -> Authenticated:
    """Verify the bundle against any of *roots*; then the certificate's identity."""
    models = _sigstore()
    from sigstore.errors import Error as SigstoreError
    from sigstore.verify import Verifier

    try:
        bundle = models.Bundle.from_json(raw)
    except (SigstoreError, ValueError, RecursionError) as exc:
        return _failed(label, f"not a Sigstore bundle ({_line(exc)})")
    recorder = _Recorder(identity)
    problems = []
    for root in roots:
        try:
            kind, payload = Verifier(trusted_root=root).verify_dsse(bundle, recorder)
        except SigstoreError as exc:
            problems.append(_explain(exc))
            continue
        except Exception as exc:  # fail closed: a hostile bundle may break the verifier
            problems.append(f"{type(exc).__name__}: {_line(exc)}")
            continue
        return _verified(label, kind, payload, recorder)
    return _failed(label, "; ".join(dict.fromkeys(problems)))


def _verified(label: str, kind: str, payload: bytes, recorder: _Recorder) -> Authenticated:
    bundle = Check(
        "bundle", True, "certificate chain, transparency log entry and signature verified offline"
    )
    identity = recorder.check()
    level = recorder.level() if identity.ok else "L0"
    return Authenticated(label, (bundle, identity), kind, payload if identity.ok else None, level)


def _failed(label: str, detail: str) -> Authenticated:
    return Authenticated(label, (Check("bundle", False, detail),), "", None, "L0")


def _explain(exc: Exception) -> str:
    text = _line(exc)
    if any(limit in text for limit in _OFFLINE_LIMITS):
        return f"the sigstore package cannot verify this bundle offline ({text})"
    return text


class _Recorder:
    """A sigstore VerificationPolicy that notes the identity instead of raising, so the
    failure can be named; called only once the chain to the trusted root verified."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.values: dict[str, str | None] = {}

    def verify(self, cert: Certificate) -> None:
        oids = {
            "issuer": _ISSUER,
            "source": _SOURCE_URI,
            "ref": _SOURCE_REF,
            "runner": _RUNNER,
            "signer": _SIGNER_URI,
        }
        self.values = {key: _extension(cert, oid) for key, oid in oids.items()}

    def problems(self) -> list[str]:
        want, got = self.identity, self.values
        found = []
        if got.get("issuer") != want.issuer:
            found.append(f"issuer {got.get('issuer')} is not {want.issuer}")
        if want.source_uri is None and want.signer_workflow is None:
            found.append("no expected identity: pass --source-uri github.com/OWNER/REPO")
        if want.source_uri and normalize_repository(
            got.get("source") or ""
        ) != normalize_repository(want.source_uri):
            found.append(f"source repository {got.get('source')} is not {want.source_uri}")
        if want.signer_workflow and not _signer_matches(got.get("signer"), want.signer_workflow):
            found.append(f"signer workflow {got.get('signer')} is not {want.signer_workflow}")
        if want.source_ref and got.get("ref") != want.source_ref:
            found.append(f"source ref {got.get('ref')} is not {want.source_ref}")
        if want.deny_self_hosted and got.get("runner") != "github-hosted":
            found.append(f"runner {got.get('runner')} is not github-hosted")
        return found

    def check(self) -> Check:
        problems = self.problems()
        if problems:
            return Check("identity", False, "; ".join(problems))
        got = self.values
        return Check(
            "identity",
            True,
            f"signed by {got.get('signer')} for {got.get('source')} ({got.get('issuer')})",
        )

    def level(self) -> str:
        """L2: GitHub's hosted platform signed; L3: and a reusable workflow the consumer
        named, in another repository than the source, did (signing apart from the build)."""
        got = self.values
        issuer = got.get("issuer") or ""
        github = issuer == GITHUB_ISSUER or issuer.startswith(f"{GITHUB_ISSUER}/")  # enterprise
        if not github or got.get("runner") != "github-hosted":
            return "L1"
        signer = normalize_repository("/".join((got.get("signer") or "").split("/")[:5]))
        isolated = self.identity.signer_workflow is not None and signer != normalize_repository(
            got.get("source") or ""
        )
        return "L3" if isolated else "L2"


def _signer_matches(found: str | None, expected: str) -> bool:
    if found is None:
        return False
    wanted = expected.split("://", 1)[-1].removeprefix("github.com/")
    body = found.split("://", 1)[-1].partition("/")[2]
    return body == wanted or ("@" not in wanted and body.partition("@")[0] == wanted)


def _extension(cert: Certificate, dotted: str) -> str | None:
    from cryptography import x509
    from cryptography.hazmat import asn1

    try:
        value = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(dotted)).value
        raw = getattr(value, "value", b"")
        return str(asn1.decode_der(str, raw))
    except (x509.ExtensionNotFound, ValueError):
        return None


def _sigstore() -> Any:
    try:
        import sigstore.models
    except ImportError as exc:
        raise MissingSigstore(
            f"verifying Sigstore bundles needs the sigstore package ({exc}): "
            "pip install 'sigstore==4.5.1'"
        ) from None
    return sigstore.models


def _line(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
