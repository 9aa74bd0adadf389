"""DSSE: the spec's PAE and ECDSA example, the protocol's test vectors, base64, envelopes."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import given
from hypothesis import strategies as st

from pilothouse.delivery.provenance import dsse, keys
from pilothouse.delivery.provenance.checks import authenticate_envelope
from pilothouse.delivery.provenance.model import PAYLOAD_TYPE, Envelope, Signature

DATA = Path(__file__).parent / "data" / "provenance"
VECTORS = json.loads((DATA / "dsse-vectors.json").read_text())

# secure-systems-lab/dsse protocol.md, "Test Vectors": ECDSA P-256, SHA-256, RFC 6979,
# the signature as the raw concatenation of r and s.
SPEC_X = 46950820868899156662930047687818585632848591499744589407958293238635476079160
SPEC_Y = 5640078356564379163099075877009565129882514886557779369047442380624545832820
SPEC_ENVELOPE = {
    "payload": "aGVsbG8gd29ybGQ=",
    "payloadType": "http://example.com/HelloWorld",
    "signatures": [
        {
            "sig": "A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVe"
            "CUjW2JIZA=="
        }
    ],
}


def test_pae_is_the_spec_test_vector() -> None:
    assert (
        dsse.pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_the_spec_example_signature_verifies_over_our_pae() -> None:
    public = ec.EllipticCurvePublicNumbers(SPEC_X, SPEC_Y, ec.SECP256R1()).public_key()
    envelope = dsse.envelope_from_json(SPEC_ENVELOPE)
    raw = envelope.signatures[0].sig
    der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
    key = keys.PublicKey(public)
    assert key.verify(der, dsse.pae(envelope.payload_type, envelope.payload))
    assert not key.verify(der, dsse.pae(envelope.payload_type, b"hello world!"))


def _vector_key(name: str) -> keys.PublicKey:
    public = bytes.fromhex(VECTORS["keys"][name]["public"])
    return keys.PublicKey(ed25519.Ed25519PublicKey.from_public_bytes(public))


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["id"])
def test_protocol_vectors(vector: dict) -> None:
    trusted = [_vector_key(name) for name in vector["trustedKeys"]]
    try:
        envelope = dsse.envelope_from_json(vector["envelope"])
    except ValueError:
        assert vector["expect"] == "reject"
        return
    assert dsse.pae(envelope.payload_type, envelope.payload).hex() == vector["pae"] or (
        vector["id"] == "payload-type-swapped"
    )
    result = authenticate_envelope("", envelope, trusted, vector["threshold"])
    supported = envelope.payload_type in vector["supportedPayloadTypes"]
    accepted = result.payload is not None and supported
    assert accepted == (vector["expect"] == "accept")


def test_the_same_key_twice_counts_once() -> None:
    vector = next(v for v in VECTORS["vectors"] if v["id"] == "threshold-two-one-key-twice")
    envelope = dsse.envelope_from_json(vector["envelope"])
    tally = dsse.count_trusted(envelope, [_vector_key("A"), _vector_key("B")])
    assert (tally.signatures, tally.verified, len(tally.keys)) == (2, 2, 1)


def test_keyids_are_hints_only() -> None:
    key = keys.generate("ed25519")
    signed = dsse.sign(PAYLOAD_TYPE, b"{}", [key])
    wrong = Envelope(
        signed.payload_type, signed.payload, (Signature(signed.signatures[0].sig, "nope"),)
    )
    assert dsse.count_trusted(wrong, [key.public]).verified == 1
    # a keyid naming a trusted key does not make a signature by another key count
    other = keys.generate("ed25519")
    forged = dsse.sign(PAYLOAD_TYPE, b"{}", [other])
    hinted = Envelope(
        forged.payload_type, forged.payload, (Signature(forged.signatures[0].sig, key.keyid),)
    )
    assert dsse.count_trusted(hinted, [key.public]).verified == 0


@pytest.mark.parametrize(
    "text, data",
    [
        ("aGVsbG8gd29ybGQ=", b"hello world"),
        ("aGVsbG8gd29ybGQ", b"hello world"),  # unpadded
        ("-_-_Pj8=", b"\xfb\xff\xbf>?"),  # URL-safe
        ("+/+/Pj8=", b"\xfb\xff\xbf>?"),  # standard
        ("", b""),
    ],
)
def test_base64_standard_and_url_safe(text: str, data: bytes) -> None:
    assert dsse.b64decode(text) == data


@pytest.mark.parametrize("garbage", ["@@@@", "aGVsbG8=gd29y", "a", "aGVs bG8=", "é", "===="])
def test_base64_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(ValueError, match="not base64"):
        dsse.b64decode(garbage)


@given(st.binary(max_size=200))
def test_base64_round_trips_in_both_alphabets(data: bytes) -> None:
    assert dsse.b64decode(dsse.b64encode(data)) == data
    assert dsse.b64decode(base64.urlsafe_b64encode(data).decode()) == data
    assert dsse.b64decode(base64.urlsafe_b64encode(data).decode().rstrip("=")) == data


@pytest.mark.parametrize(
    "document, message",
    [
        ({"payload": "e30=", "signatures": []}, "payloadType"),
        ({"payloadType": PAYLOAD_TYPE, "signatures": []}, "payload is missing"),
        ({"payloadType": PAYLOAD_TYPE, "payload": "e30="}, "signatures"),
        (
            {"payloadType": PAYLOAD_TYPE, "payload": "%%%", "signatures": []},
            "payload is not base64",
        ),
        ({"payloadType": PAYLOAD_TYPE, "payload": "e30=", "signatures": [{}]}, "signatures\\[0\\]"),
        (
            {"payloadType": PAYLOAD_TYPE, "payload": "e30=", "signatures": [{"sig": "!!"}]},
            "signatures\\[0\\].sig is not base64",
        ),
        (
            {"payloadType": PAYLOAD_TYPE, "payload": "e30=", "signatures": [{"sig": "e30="}] * 65},
            "65 signatures",
        ),
    ],
)
def test_bad_envelopes_say_which_field(document: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dsse.envelope_from_json(document)


def test_envelope_json_round_trip_is_standard_base64() -> None:
    key = keys.generate("ecdsa")
    envelope = dsse.sign(PAYLOAD_TYPE, b'{"_type":"x"}', [key])
    document = dsse.envelope_to_json(envelope)
    assert document["signatures"][0]["keyid"] == key.keyid
    assert "-" not in document["payload"] and "_" not in document["payload"]
    assert dsse.envelope_from_json(document) == envelope


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
_ENVELOPE_LIKE = st.fixed_dictionaries(
    {},
    optional={
        "payloadType": _JSON | st.just(PAYLOAD_TYPE),
        "payload": _JSON | st.text(alphabet="A-Za-z0-9+/=_-", max_size=40),
        "signatures": _JSON
        | st.lists(st.dictionaries(st.sampled_from(["sig", "keyid"]), _JSON), max_size=3),
    },
)


@given(_ENVELOPE_LIKE)
def test_any_envelope_like_json_is_read_or_refused_with_value_error(document: dict) -> None:
    try:
        envelope = dsse.envelope_from_json(document)
    except ValueError:
        return
    tally = dsse.count_trusted(envelope, [keys.generate("ed25519").public])
    assert tally.verified == 0


@given(st.binary(max_size=300))
def test_any_payload_is_read_or_refused_with_value_error(payload: bytes) -> None:
    from pilothouse.delivery.provenance.statement import parse_statement

    try:
        parse_statement(payload)
    except ValueError:
        pass


@given(st.binary(max_size=300))
def test_any_provenance_file_is_read_or_one_input_error(tmp_path_factory, data: bytes) -> None:
    from pilothouse.delivery.provenance.files import read_documents
    from pilothouse.errors import InputError

    path = tmp_path_factory.mktemp("fuzz") / "p.jsonl"
    path.write_bytes(data)
    try:
        documents = read_documents(path)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert all(d.kind in ("envelope", "bundle", "statement") for d in documents)


@given(
    st.fixed_dictionaries(
        {"_type": st.sampled_from(["https://in-toto.io/Statement/v1", "x"])},
        optional={
            "predicateType": _JSON | st.just("https://slsa.dev/provenance/v1"),
            "subject": _JSON
            | st.lists(
                st.dictionaries(
                    st.sampled_from(["name", "digest"]),
                    _JSON | st.dictionaries(st.sampled_from(["sha256"]), _JSON | st.just("ab")),
                ),
                max_size=3,
            ),
            "predicate": _JSON,
        },
    )
)
def test_any_statement_like_json_is_read_or_refused_with_value_error(document: dict) -> None:
    from pilothouse.delivery.provenance.checks import statement_checks
    from pilothouse.delivery.provenance.model import Expectations
    from pilothouse.delivery.provenance.statement import parse_statement

    try:
        parsed = parse_statement(json.dumps(document).encode())
    except ValueError:
        return
    expectations = Expectations(
        builder_id="b", source_uri="github.com/a/b", source_ref="main", strict=True
    )
    results = statement_checks(parsed, expectations)
    # a statement saying nothing of its source or builder never satisfies those expectations
    assert not any(c.ok for c in results if c.name in ("builder-id", "source-uri", "source-ref"))
