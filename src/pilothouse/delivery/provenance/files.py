"""The file edge: artifacts and their digests, provenance files, keys, output.

Every problem is one `InputError` (or `ConfigError` for a key setting) naming the file.
Inputs are read with a size bound, so a huge or endless file costs nothing.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import stat
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pilothouse.delivery.provenance import keys
from pilothouse.delivery.provenance.model import Artifact, Subject
from pilothouse.errors import ConfigError, InputError
from pilothouse.files import write_atomically

MAX_PROVENANCE_BYTES = 16 * 1024 * 1024
MAX_SMALL_BYTES = 1024 * 1024  # keys, listings, trusted roots
CHUNK = 1024 * 1024
KEY_ENV = "PILOTHOUSE_PROVENANCE_KEY"
_GLOB = set("*?[")


def read_bounded(path: Path, limit: int, what: str) -> bytes:
    """The whole of a regular file of at most *limit* bytes."""
    try:
        with path.open("rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise InputError(f"{path}: not a regular file ({what})")
            data = handle.read(limit + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise InputError(f"{path}: the {what} is over {limit // (1024 * 1024)} MiB: refused")
    return data


def digests(path: Path) -> dict[str, str]:
    """SHA-256 and SHA-512 of a file, read once in chunks."""
    sha256, sha512 = hashlib.sha256(), hashlib.sha512()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                sha256.update(chunk)
                sha512.update(chunk)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the artifact ({exc.strerror or exc})") from None
    return {"sha256": sha256.hexdigest(), "sha512": sha512.hexdigest()}


def expand(arguments: Sequence[str], cwd: Path) -> list[tuple[str, Path]]:
    """Artifact names and paths: a file by its base name, a directory's files by their
    path inside it (sorted), a glob the shell left alone by its matches."""
    found: list[tuple[str, Path]] = []
    for argument in arguments:
        path = cwd / argument
        if path.is_dir():
            found.extend(_walk(path))
        elif path.is_file():
            found.append((path.name, path))
        elif _GLOB & set(argument):
            found.extend(_matches(argument, cwd))
        else:
            raise InputError(f"{argument}: no such file or directory")
    return found


def _walk(root: Path) -> Iterator[tuple[str, Path]]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    if not files:
        raise InputError(f"{root}: the directory holds no file")
    return ((p.relative_to(root).as_posix(), p) for p in files)


def _matches(pattern: str, cwd: Path) -> list[tuple[str, Path]]:
    paths = sorted(Path(p) for p in glob.glob(str(cwd / pattern), recursive=True))
    files = [(p.name, p) for p in paths if p.is_file()]
    if not files:
        raise InputError(f"{pattern}: no file matches")
    return files


def artifacts(arguments: Sequence[str], cwd: Path) -> list[Artifact]:
    return [Artifact(name, digests(path)) for name, path in expand(arguments, cwd)]


def subjects(arguments: Sequence[str], cwd: Path) -> list[Subject]:
    return [Subject(a.name, a.digest) for a in artifacts(arguments, cwd)]


@dataclass(frozen=True, slots=True)
class Document:
    """One JSON document of a provenance file: where it is, its kind and its bytes."""

    label: str
    kind: str  # "envelope", "bundle" or "statement"
    raw: bytes
    value: dict[str, Any]


def read_documents(path: Path) -> list[Document]:
    """Every document of a provenance file: one JSON document, or JSON lines (a
    `.intoto.jsonl` with one envelope per line is read whole). A bundle may come wrapped
    as GitHub's attestations API returns it (`{"bundle": ...}`, `{"attestations": [...]}`)."""
    data = read_bounded(path, MAX_PROVENANCE_BYTES, "provenance file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not JSON (not UTF-8 text)") from None
    try:
        whole = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        whole = None
    if isinstance(whole, dict):
        return _unwrap(path, "", whole, data)
    if whole is not None:
        raise InputError(f"{path}: not a JSON object (a DSSE envelope or a Sigstore bundle)")
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise InputError(f"{path}: empty: no provenance")
    documents = []
    for number, line in lines:
        value = _json_line(path, number, line)
        documents.extend(_unwrap(path, f"line {number}", value, line.encode()))
    return documents


def _unwrap(path: Path, label: str, value: dict[str, Any], raw: bytes) -> list[Document]:
    listed = value.get("attestations")
    if isinstance(listed, list) and listed:
        items = [a.get("bundle") if isinstance(a, dict) else None for a in listed]
        prefix = f"{label} " if label else ""
        return [
            _document(path, f"{prefix}attestation {n}", _object(path, b), json.dumps(b).encode())
            for n, b in enumerate(items, 1)
        ]
    inner = value.get("bundle")
    if isinstance(inner, dict) and "mediaType" not in value:
        return [_document(path, label, inner, json.dumps(inner).encode())]
    return [_document(path, label, value, raw)]


def _object(path: Path, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(f"{path}: an attestation without a bundle object")
    return value


def _json_line(path: Path, number: int, line: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} line {number}: not JSON ({exc.msg})") from None
    except RecursionError:
        raise InputError(f"{path} line {number}: JSON nested too deep") from None
    if not isinstance(value, dict):
        raise InputError(f"{path} line {number}: not a JSON object")
    return value


def _document(path: Path, label: str, value: dict[str, Any], raw: bytes) -> Document:
    media = value.get("mediaType")
    if isinstance(media, str) and media.startswith("application/vnd.dev.sigstore.bundle"):
        return Document(label, "bundle", raw, value)
    if {"payload", "payloadType", "signatures"} & value.keys():
        return Document(label, "envelope", raw, value)
    if "_type" in value and "subject" in value:
        return Document(label, "statement", raw, value)
    where = f"{path} {label}".strip()
    raise InputError(f"{where}: not a DSSE envelope, a Sigstore bundle or an in-toto statement")


def signing_key(path: Path | None, env: Mapping[str, str]) -> keys.PrivateKey | None:
    """The key from --key, else from $PILOTHOUSE_PROVENANCE_KEY (its PEM text)."""
    if path is not None:
        data, source = read_bounded(path, MAX_SMALL_BYTES, "private key"), str(path)
    elif env.get(KEY_ENV, "").strip():
        data, source = env[KEY_ENV].encode(), f"${KEY_ENV}"
    else:
        return None
    try:
        return keys.load_private(data)
    except ValueError as exc:
        error = InputError if path is not None else ConfigError
        raise error(f"{source}: {exc}") from None


def readable_by_others(path: Path) -> bool:
    """Whether a key file lets its group or anyone else read it (ssh refuses such keys)."""
    try:
        return bool(path.stat().st_mode & 0o077)
    except OSError:
        return False


def public_keys(paths: Sequence[Path]) -> list[keys.PublicKey]:
    """The trusted keys, each once (the same key given twice counts once)."""
    loaded: dict[str, keys.PublicKey] = {}
    for path in paths:
        try:
            key = keys.load_public(read_bounded(path, MAX_SMALL_BYTES, "public key"))
        except ValueError as exc:
            raise InputError(f"{path}: {exc}") from None
        loaded.setdefault(key.keyid, key)
    return list(loaded.values())


def write_key_pair(prefix: Path, key: keys.PrivateKey, *, force: bool) -> tuple[Path, Path]:
    """PREFIX.key (0600) and PREFIX.pub; existing files are kept unless *force*."""
    private, public = prefix.with_name(prefix.name + ".key"), prefix.with_name(prefix.name + ".pub")
    if not force:
        for path in (private, public):
            if path.exists():
                raise InputError(f"{path}: exists (--force replaces it)")
    write_atomically(private, key.pem(), mode=0o600)
    write_atomically(public, key.public.pem())
    return private, public
