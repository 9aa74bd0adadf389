"""Signing keys: ECDSA P-256 (SHA-256, DER signatures) and Ed25519, through `cryptography`.

Key ids are the ones securesystemslib computes (SHA-256 of the canonical JSON of keytype,
scheme and public value), so envelopes signed here carry ids its `Envelope.verify` finds;
pilothouse itself treats an envelope's key id as a hint only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal, TypeVar

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

KeyKind = Literal["ecdsa", "ed25519"]
_PublicKeys = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
_PrivateKeys = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
SUPPORTED = "ECDSA P-256 or Ed25519"
_K = TypeVar("_K")


@dataclass(frozen=True)
class PublicKey:
    """A trusted public key."""

    key: _PublicKeys

    @property
    def kind(self) -> KeyKind:
        return "ed25519" if isinstance(self.key, ed25519.Ed25519PublicKey) else "ecdsa"

    @property
    def scheme(self) -> str:
        return "ed25519" if self.kind == "ed25519" else "ecdsa-sha2-nistp256"

    @property
    def keyid(self) -> str:
        value = self.pem().decode() if self.kind == "ecdsa" else self._raw().hex()
        return _keyid(self.kind, self.scheme, value)

    def verify(self, signature: bytes, data: bytes) -> bool:
        try:
            if isinstance(self.key, ed25519.Ed25519PublicKey):
                self.key.verify(signature, data)
            else:
                self.key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return False
        return True

    def pem(self) -> bytes:
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def _raw(self) -> bytes:
        return self.key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class PrivateKey:
    """A signing key and its public half."""

    key: _PrivateKeys

    @property
    def public(self) -> PublicKey:
        return PublicKey(self.key.public_key())

    @property
    def keyid(self) -> str:
        return self.public.keyid

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.key, ed25519.Ed25519PrivateKey):
            return self.key.sign(data)
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))

    def pem(self) -> bytes:
        """PKCS#8 PEM, unencrypted: the file that holds it is made readable by its owner only."""
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def generate(kind: KeyKind) -> PrivateKey:
    """A new key pair of *kind*."""
    if kind == "ed25519":
        return PrivateKey(ed25519.Ed25519PrivateKey.generate())
    return PrivateKey(ec.generate_private_key(ec.SECP256R1()))


def load_private(data: bytes) -> PrivateKey:
    """A private key from PEM (PKCS#8, or SEC1 for ECDSA); ValueError saying what is wrong."""
    if b"-----BEGIN" not in data or b"PRIVATE KEY-----" not in data:
        raise ValueError(f"not a PEM private key ({SUPPORTED})")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ValueError("the private key is encrypted: give it unencrypted") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a readable PEM private key ({_first_line(exc)})") from None
    return PrivateKey(_supported_private(key))


def load_public(data: bytes) -> PublicKey:
    """A public key from PEM (SubjectPublicKeyInfo); ValueError saying what is wrong."""
    if b"-----BEGIN PUBLIC KEY-----" not in data:
        hint = " (this is a private key: give its .pub)" if b"PRIVATE KEY" in data else ""
        raise ValueError(f"not a PEM public key ({SUPPORTED}){hint}")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a readable PEM public key ({_first_line(exc)})") from None
    return PublicKey(_supported_public(key))


def _supported_private(key: object) -> _PrivateKeys:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return _curve(key)
    raise ValueError(f"unsupported key type {type(key).__name__} (use {SUPPORTED})")


def _supported_public(key: object) -> _PublicKeys:
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey):
        return _curve(key)
    raise ValueError(f"unsupported key type {type(key).__name__} (use {SUPPORTED})")


def _curve(key: _K) -> _K:
    curve = getattr(key, "curve", None)
    if isinstance(curve, ec.SECP256R1):
        return key
    raise ValueError(f"unsupported curve {getattr(curve, 'name', '?')} (use {SUPPORTED})")


def _keyid(keytype: str, scheme: str, public: str) -> str:
    # securesystemslib's canonical JSON: sorted keys, no spaces, only \ and " escaped
    def text(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    canonical = (
        f'{{"keytype":{text(keytype)},"keyval":{{"public":{text(public)}}},'
        f'"scheme":{text(scheme)}}}'
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]
