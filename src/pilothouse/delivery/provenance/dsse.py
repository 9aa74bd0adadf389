"""DSSE v1.0: the pre-authentication encoding, envelopes as JSON, signing and counting
distinct trusted keys (secure-systems-lab/dsse `protocol.md`, `envelope.md`).

Signatures are checked over PAE(payloadType, payload) before anything reads the payload;
key ids in an envelope are hints only (a signature with a wrong or missing keyid still
counts when a trusted key verifies it), and a key counts once toward a threshold however
many of its signatures the envelope carries.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pilothouse.delivery.provenance.model import Envelope, Signature

MAX_SIGNATURES = 64
_BASE64 = re.compile(r"[A-Za-z0-9+/\-_]*={0,2}")


class VerifyingKey(Protocol):
    """A trusted public key: its id (computed from the key, not taken from an envelope)."""

    @property
    def keyid(self) -> str: ...

    def verify(self, signature: bytes, data: bytes) -> bool: ...


class SigningKey(Protocol):
    @property
    def keyid(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


def pae(payload_type: str, payload: bytes) -> bytes:
    """The pre-authentication encoding: what a DSSE signature signs.

    >>> pae("http://example.com/HelloWorld", b"hello world")
    b'DSSEv1 29 http://example.com/HelloWorld 11 hello world'
    """
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def b64decode(text: str) -> bytes:
    """Standard or URL-safe base64, padded or not; ValueError on anything else."""
    if not isinstance(text, str) or not _BASE64.fullmatch(text):
        raise ValueError("not base64")
    unified = text.replace("-", "+").replace("_", "/").rstrip("=")
    if len(unified) % 4 == 1:
        raise ValueError("not base64 (truncated)")
    try:
        return base64.b64decode(unified + "=" * (-len(unified) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"not base64 ({exc})") from None


def b64encode(data: bytes) -> str:
    """Standard base64 with padding, as the envelopes pilothouse writes use."""
    return base64.b64encode(data).decode("ascii")


def envelope_from_json(document: Mapping[str, Any]) -> Envelope:
    """An envelope from its JSON object; ValueError naming the field at fault."""
    kind, payload, signatures = (document.get(k) for k in ("payloadType", "payload", "signatures"))
    if not isinstance(kind, str) or not kind:
        raise ValueError("payloadType is missing or not a string")
    if not isinstance(payload, str):
        raise ValueError("payload is missing or not a string")
    if not isinstance(signatures, list):
        raise ValueError("signatures is missing or not a list")
    if len(signatures) > MAX_SIGNATURES:
        raise ValueError(f"{len(signatures)} signatures (at most {MAX_SIGNATURES} are read)")
    try:
        body = b64decode(payload)
    except ValueError as exc:
        raise ValueError(f"payload is {exc}") from None
    return Envelope(kind, body, tuple(_signature(i, s) for i, s in enumerate(signatures)))


def _signature(index: int, item: object) -> Signature:
    if not isinstance(item, dict) or not isinstance(item.get("sig"), str):
        raise ValueError(f"signatures[{index}] has no sig string")
    keyid = item.get("keyid", "")
    if not isinstance(keyid, str):
        raise ValueError(f"signatures[{index}].keyid is not a string")
    try:
        return Signature(b64decode(item["sig"]), keyid)
    except ValueError as exc:
        raise ValueError(f"signatures[{index}].sig is {exc}") from None


def envelope_to_json(envelope: Envelope) -> dict[str, Any]:
    """The envelope's JSON object (standard base64; keyid only when known)."""
    return {
        "payloadType": envelope.payload_type,
        "payload": b64encode(envelope.payload),
        "signatures": [
            {"keyid": s.keyid, "sig": b64encode(s.sig)} if s.keyid else {"sig": b64encode(s.sig)}
            for s in envelope.signatures
        ],
    }


def sign(payload_type: str, payload: bytes, signers: Iterable[SigningKey]) -> Envelope:
    """An envelope over *payload* with one signature per signer."""
    message = pae(payload_type, payload)
    signatures = tuple(Signature(s.sign(message), s.keyid) for s in signers)
    return Envelope(payload_type, payload, signatures)


@dataclass(frozen=True, slots=True)
class Tally:
    """Which of an envelope's signatures trusted keys verified."""

    signatures: int
    verified: int
    keys: frozenset[str]


def count_trusted(envelope: Envelope, keys: Sequence[VerifyingKey]) -> Tally:
    """Check every signature against the trusted keys; a key counts once."""
    message = pae(envelope.payload_type, envelope.payload)
    verified = 0
    trusted: set[str] = set()
    for signature in envelope.signatures:
        key = _verifying_key(signature, keys, message)
        if key is not None:
            verified += 1
            trusted.add(key)
    return Tally(len(envelope.signatures), verified, frozenset(trusted))


def _verifying_key(
    signature: Signature, keys: Sequence[VerifyingKey], message: bytes
) -> str | None:
    # the hinted key first, then every other: a keyid never decides alone
    ordered = sorted(keys, key=lambda k: k.keyid != signature.keyid)
    for key in ordered:
        if key.verify(signature.sig, message):
            return key.keyid
    return None
