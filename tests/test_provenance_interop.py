"""Interoperability: securesystemslib verifies what pilothouse signs and pilothouse what it
signs; generated statements validate against the in-toto attestation bindings."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from google.protobuf import json_format
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement as AttestationStatement
from securesystemslib.dsse import Envelope as SslibEnvelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import CryptoSigner, SSlibKey

from pilothouse.delivery.provenance import dsse, keys, statement
from pilothouse.delivery.provenance.checks import authenticate_envelope
from pilothouse.delivery.provenance.github import context_from_env, note_unknown, with_flags
from pilothouse.delivery.provenance.model import (
    PAYLOAD_TYPE,
    SLSA_V1,
    BuildContext,
    Subject,
)

GITHUB_ENV = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "acme/rocket",
    "GITHUB_WORKFLOW_REF": "acme/rocket/.github/workflows/release.yml@refs/tags/v1.2.3",
    "GITHUB_REF": "refs/tags/v1.2.3",
    "GITHUB_SHA": "8304c42402aa3a569882687e0642c359e5a74ac2",
    "GITHUB_EVENT_NAME": "push",
    "GITHUB_REPOSITORY_ID": "804070735",
    "GITHUB_REPOSITORY_OWNER_ID": "16248153",
    "RUNNER_ENVIRONMENT": "github-hosted",
    "GITHUB_RUN_ID": "9182555064",
    "GITHUB_RUN_ATTEMPT": "2",
}
SUBJECTS = [Subject("rocket.tar.gz", {"sha256": "ab" * 32, "sha512": "cd" * 64})]


@pytest.mark.parametrize("kind", ["ecdsa", "ed25519"])
def test_securesystemslib_verifies_our_envelopes(kind: str) -> None:
    key = keys.generate(kind)  # type: ignore[arg-type]
    ours = dsse.sign(PAYLOAD_TYPE, b'{"_type":"https://in-toto.io/Statement/v1"}', [key])
    theirs = SslibEnvelope.from_dict(dsse.envelope_to_json(ours))
    public = SSlibKey.from_crypto(key.key.public_key())
    assert public.keyid == key.keyid
    assert list(theirs.verify([public], 1)) == [key.keyid]


def test_securesystemslib_rejects_our_envelope_after_tampering() -> None:
    key = keys.generate("ecdsa")
    document = dsse.envelope_to_json(dsse.sign(PAYLOAD_TYPE, b'{"a":1}', [key]))
    document["payload"] = dsse.b64encode(b'{"a":2}')
    with pytest.raises(VerificationError):
        SslibEnvelope.from_dict(document).verify([SSlibKey.from_crypto(key.key.public_key())], 1)


@pytest.mark.parametrize("generate", [CryptoSigner.generate_ecdsa, CryptoSigner.generate_ed25519])
def test_we_verify_securesystemslib_envelopes(generate) -> None:
    signer = generate()
    envelope = SslibEnvelope(b'{"_type":"https://in-toto.io/Statement/v1"}', PAYLOAD_TYPE, {})
    envelope.sign(signer)
    document = envelope.to_dict()
    public = (
        keys.load_public(signer.public_key.keyval["public"].encode())
        if (signer.public_key.keytype == "ecdsa")
        else keys.PublicKey(signer.public_key._crypto_key())
    )
    ours = dsse.envelope_from_json(document)
    result = authenticate_envelope("", ours, [public], 1)
    assert result.payload == envelope.payload
    assert ours.signatures[0].keyid == public.keyid
    stranger = keys.generate("ecdsa").public
    assert authenticate_envelope("", ours, [stranger], 1).payload is None


def _validate(document: dict) -> None:
    """Strict protobuf JSON parsing (unknown fields, wrong types and bad timestamps fail),
    then the bindings' own validation."""
    proto = json_format.Parse(json.dumps(document), statement_pb2.Statement())
    AttestationStatement.copy_from_pb(proto).validate()
    if document["predicateType"] == SLSA_V1:
        json_format.Parse(json.dumps(document["predicate"]), provenance_pb2.Provenance())


def test_github_statement_validates_against_the_attestation_schema() -> None:
    context = with_flags(
        context_from_env(GITHUB_ENV),
        started_on=datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
        finished_on=datetime(2026, 11, 30, 12, 9, tzinfo=UTC),
    )
    context = note_unknown(context)
    document = statement.statement(SUBJECTS, SLSA_V1, statement.provenance_v1(context))
    _validate(document)


def test_local_statement_validates_against_the_attestation_schema() -> None:
    context = note_unknown(BuildContext(builder_id="https://ci.example.com/builders/1"))
    document = statement.statement(SUBJECTS, SLSA_V1, statement.provenance_v1(context))
    _validate(document)


def test_schema_validation_catches_a_bad_statement() -> None:
    bad = {"_type": "https://in-toto.io/Statement/v1", "subject": [], "predicateType": SLSA_V1}
    with pytest.raises(ValueError, match="subject"):
        _validate({**bad, "predicate": {"x": 1}})
