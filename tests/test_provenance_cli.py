"""`pilothouse provenance keygen|generate|verify` from the CLI on real files: the round
trip, every tamper case failing with the right check named, bad input as one line."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from pilothouse.delivery.provenance import dsse, keys
from pilothouse.delivery.provenance.model import PAYLOAD_TYPE
from pilothouse.model import RunAttempt
from pilothouse.store import Store

from .conftest import Cli
from .test_provenance_statement import TOO_LEGIT

DATA = Path(__file__).parent / "data" / "provenance"
BUILDER = "https://ci.example.com/builders/release"
COMMIT = "8304c42402aa3a569882687e0642c359e5a74ac2"


@pytest.fixture
def dist(sqlite_cli: Cli) -> Path:
    """A release folder of real files, and a key pair made by keygen."""
    folder = sqlite_cli.cwd / "dist"
    folder.mkdir()
    shutil.copy(DATA / "reusable-workflow-artifact", folder / "demo-0.0.0-py3-none-any.whl")
    (folder / "CHECKSUMS").write_text("not a listing, a plain file\n")
    code, out, err = sqlite_cli("provenance", "keygen")
    assert code == 0, err
    return folder


def _generate(cli: Cli, *extra: str, output: str = "dist.intoto.jsonl") -> Path:
    code, _, err = cli(
        "provenance",
        "generate",
        "dist",
        "--key",
        "provenance.key",
        "--builder-id",
        BUILDER,
        "--repository",
        "acme/rocket",
        "--ref",
        "refs/tags/v1.2.3",
        "--commit",
        COMMIT,
        "-o",
        output,
        *extra,
    )
    assert code == 0, err
    return cli.cwd / output


def _verify(cli: Cli, *extra: str, provenance: str = "dist.intoto.jsonl"):
    args = ["provenance", "verify", "dist/demo-0.0.0-py3-none-any.whl", "dist/CHECKSUMS"]
    code, out, err = cli(
        *args, "--provenance", provenance, "--key", "provenance.pub", *extra, "--json"
    )
    return code, json.loads(out) if out else None, err


def _failed(verdict: dict) -> list[str]:
    return [c["name"] for c in verdict["checks"] if not c["ok"]]


def test_keygen_writes_a_private_key_only_its_owner_reads(sqlite_cli: Cli, dist: Path) -> None:
    private = sqlite_cli.cwd / "provenance.key"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert keys.load_private(private.read_bytes()).public.kind == "ecdsa"
    assert keys.load_public((sqlite_cli.cwd / "provenance.pub").read_bytes()).kind == "ecdsa"
    code, _, err = sqlite_cli("provenance", "keygen")
    assert code == 1 and "exists (--force replaces it)" in err
    code, out, err = sqlite_cli(
        "provenance", "keygen", "--type", "ed25519", "--output", "ci", "--force"
    )
    assert code == 0, err
    assert keys.load_private((sqlite_cli.cwd / "ci.key").read_bytes()).public.kind == "ed25519"


def test_round_trip_on_real_files(sqlite_cli: Cli, dist: Path) -> None:
    path = _generate(sqlite_cli)
    envelope = json.loads(path.read_text())
    assert envelope["payloadType"] == PAYLOAD_TYPE
    body = json.loads(dsse.b64decode(envelope["payload"]))
    assert [s["name"] for s in body["subject"]] == ["CHECKSUMS", "demo-0.0.0-py3-none-any.whl"]
    assert set(body["subject"][1]["digest"]) == {"sha256", "sha512"}
    code, verdict, err = _verify(
        sqlite_cli,
        "--builder-id",
        BUILDER,
        "--source-uri",
        "github.com/acme/rocket",
        "--source-tag",
        "v1.2.3",
        "--strict",
    )
    assert code == 0, err
    assert verdict["verified"] is True and verdict["level"] == "L1"
    assert [a["matched"] for a in verdict["artifacts"]] == [True, True]
    assert [c["name"] for c in verdict["checks"]] == [
        "signature",
        "threshold",
        "payload-type",
        "statement",
        "predicate-type",
        "builder-id",
        "source-uri",
        "source-ref",
        "external-parameters",
        "subject",
    ]
    code, out, err = sqlite_cli(
        "provenance",
        "verify",
        "dist",
        "--provenance",
        "dist.intoto.jsonl",
        "--key",
        "provenance.pub",
    )
    assert code == 0 and out.endswith("Verified: SLSA Build L1\n")


def test_v02_and_unsigned_statements(sqlite_cli: Cli, dist: Path) -> None:
    _generate(sqlite_cli, "--predicate-type", "v0.2", output="v02.intoto.jsonl")
    code, verdict, err = _verify(
        sqlite_cli,
        "--source-uri",
        "github.com/acme/rocket",
        "--source-ref",
        "refs/tags/v1.2.3",
        provenance="v02.intoto.jsonl",
    )
    assert code == 0, err
    assert verdict["checks"][4]["detail"] == "https://slsa.dev/provenance/v0.2"
    code, _, err = sqlite_cli(
        "provenance", "generate", "dist", "--unsigned", "--builder-id", BUILDER, "-o", "bare.json"
    )
    assert code == 0, err
    code, verdict, err = _verify(sqlite_cli, provenance="bare.json")
    assert code == 1 and _failed(verdict) == ["signature"]
    code, verdict, err = _verify(sqlite_cli, "--allow-unsigned", provenance="bare.json")
    assert code == 0 and verdict["level"] == "L1"


def _rewrite(path: Path, change) -> None:
    envelope = json.loads(path.read_text())
    change(envelope)
    path.write_text(json.dumps(envelope) + "\n")


def _edit_payload(envelope: dict, edit) -> None:
    body = json.loads(dsse.b64decode(envelope["payload"]))
    edit(body)
    envelope["payload"] = dsse.b64encode(json.dumps(body).encode())


def _sign_with(envelope: dict, key: keys.PrivateKey, payload_type: str | None = None) -> None:
    kind = payload_type or envelope["payloadType"]
    signed = dsse.sign(kind, dsse.b64decode(envelope["payload"]), [key])
    envelope.update(dsse.envelope_to_json(signed))


def test_tamper_one_byte_of_the_artifact(sqlite_cli: Cli, dist: Path) -> None:
    _generate(sqlite_cli)
    wheel = dist / "demo-0.0.0-py3-none-any.whl"
    data = bytearray(wheel.read_bytes())
    data[100] ^= 1
    wheel.write_bytes(bytes(data))
    code, verdict, err = _verify(sqlite_cli)
    assert code == 1 and _failed(verdict) == ["subject"]
    assert [a["matched"] for a in verdict["artifacts"]] == [False, True]
    assert "subject (no subject has the digest of demo-0.0.0-py3-none-any.whl)" in err


def test_tamper_a_subject_digest(sqlite_cli: Cli, dist: Path) -> None:
    path = _generate(sqlite_cli)

    def edit(body: dict) -> None:
        body["subject"][1]["digest"]["sha256"] = "0" * 64

    _rewrite(path, lambda e: _edit_payload(e, edit))
    code, verdict, err = _verify(sqlite_cli)
    assert code == 1 and _failed(verdict) == ["signature", "threshold"]
    assert "statement" not in [c["name"] for c in verdict["checks"]]  # never parsed


def test_tamper_the_payload_after_signing(sqlite_cli: Cli, dist: Path) -> None:
    path = _generate(sqlite_cli)

    def edit(body: dict) -> None:
        body["predicate"]["runDetails"]["builder"]["id"] = "https://evil.example.com"

    _rewrite(path, lambda e: _edit_payload(e, edit))
    code, verdict, err = _verify(sqlite_cli, "--builder-id", BUILDER)
    assert code == 1 and _failed(verdict) == ["signature", "threshold"]
    assert "signature (0 of 1 signatures verified by a trusted key (1 trusted keys))" in err


def test_tamper_the_signature_replaced(sqlite_cli: Cli, dist: Path) -> None:
    path = _generate(sqlite_cli)
    own = keys.load_private((sqlite_cli.cwd / "provenance.key").read_bytes())
    other = own.sign(b"something else")
    _rewrite(path, lambda e: e["signatures"][0].update(sig=dsse.b64encode(other)))
    code, verdict, _ = _verify(sqlite_cli)
    assert code == 1 and "signature" in _failed(verdict)


def test_tamper_a_different_key(sqlite_cli: Cli, dist: Path) -> None:
    path = _generate(sqlite_cli)
    stranger = keys.generate("ecdsa")
    # the stranger even claims the trusted key's id: keyids are hints
    trusted_id = json.loads(path.read_text())["signatures"][0]["keyid"]
    _rewrite(path, lambda e: (_sign_with(e, stranger), e["signatures"][0].update(keyid=trusted_id)))
    code, verdict, _ = _verify(sqlite_cli)
    assert code == 1 and _failed(verdict) == ["signature", "threshold"]


def test_tamper_the_payload_type(sqlite_cli: Cli, dist: Path) -> None:
    path = _generate(sqlite_cli)
    _rewrite(path, lambda e: e.update(payloadType="application/json"))
    code, verdict, _ = _verify(sqlite_cli)
    assert code == 1 and _failed(verdict) == ["signature", "threshold"]
    # signed over the wrong type by the trusted key itself: the type check names it
    own = keys.load_private((sqlite_cli.cwd / "provenance.key").read_bytes())
    _rewrite(path, lambda e: _sign_with(e, own, "application/json"))
    code, verdict, _ = _verify(sqlite_cli)
    assert code == 1 and _failed(verdict) == ["payload-type"]


@pytest.mark.parametrize(
    "flags, failed",
    [
        (("--builder-id", "https://ci.example.com/builders/other"), "builder-id"),
        (("--source-uri", "github.com/evil/rocket"), "source-uri"),
        (("--source-tag", "v9.9.9"), "source-ref"),
        (("--predicate-type", "https://slsa.dev/provenance/v0.2"), "predicate-type"),
    ],
)
def test_unexpected_builder_or_source(sqlite_cli: Cli, dist: Path, flags, failed: str) -> None:
    _generate(sqlite_cli)
    code, verdict, err = _verify(sqlite_cli, *flags)
    assert code == 1 and _failed(verdict) == [failed]
    assert err.startswith(f"pilothouse: provenance verification failed: {failed} (")


def test_a_duplicate_signature_does_not_count_twice(sqlite_cli: Cli, dist: Path) -> None:
    path = _generate(sqlite_cli)
    second = keys.generate("ed25519")
    (sqlite_cli.cwd / "second.pub").write_bytes(second.public.pem())
    _rewrite(path, lambda e: e["signatures"].append(dict(e["signatures"][0])))
    code, verdict, _ = _verify(sqlite_cli, "--key", "second.pub", "--threshold", "2")
    assert code == 1 and _failed(verdict) == ["threshold"]
    assert verdict["checks"][1]["detail"] == "1 distinct trusted keys signed; 2 required"
    # the second key's own signature meets the threshold
    own = keys.load_private((sqlite_cli.cwd / "provenance.key").read_bytes())
    signed = dsse.sign(
        PAYLOAD_TYPE, dsse.b64decode(json.loads(path.read_text())["payload"]), [own, second]
    )
    path.write_text(json.dumps(dsse.envelope_to_json(signed)))
    code, verdict, err = _verify(sqlite_cli, "--key", "second.pub", "--threshold", "2")
    assert code == 0, err


def test_several_envelopes_in_one_jsonl(sqlite_cli: Cli, dist: Path) -> None:
    first = _generate(sqlite_cli, output="a.intoto.jsonl").read_text()
    code, _, err = sqlite_cli(
        "provenance",
        "generate",
        "dist/CHECKSUMS",
        "--key",
        "provenance.key",
        "--builder-id",
        BUILDER,
        "-o",
        "b.intoto.jsonl",
    )
    assert code == 0, err
    second = (sqlite_cli.cwd / "b.intoto.jsonl").read_text()
    (sqlite_cli.cwd / "multiple.intoto.jsonl").write_text(first + second)
    code, verdict, err = _verify(sqlite_cli, provenance="multiple.intoto.jsonl")
    assert code == 0, err
    assert verdict["checks"][0]["detail"].startswith("line 1: 1 of 1 signatures")
    bad = json.loads(second)
    bad["payload"] = dsse.b64encode(b"{}")
    (sqlite_cli.cwd / "multiple.intoto.jsonl").write_text(first + json.dumps(bad) + "\n")
    code, verdict, err = _verify(sqlite_cli, provenance="multiple.intoto.jsonl")
    assert code == 1 and "line 2: 0 of 1 signatures" in verdict["checks"][0]["detail"]


def test_the_key_from_the_environment(sqlite_cli: Cli, dist: Path) -> None:
    sqlite_cli.env["PILOTHOUSE_PROVENANCE_KEY"] = (sqlite_cli.cwd / "provenance.key").read_text()
    code, out, err = sqlite_cli("provenance", "generate", "dist", "--builder-id", BUILDER)
    assert code == 0, err
    (sqlite_cli.cwd / "stdout.intoto.jsonl").write_text(out)
    code, verdict, err = _verify(sqlite_cli, provenance="stdout.intoto.jsonl")
    assert code == 0, err
    sqlite_cli.env["PILOTHOUSE_PROVENANCE_KEY"] = "not a key"
    code, _, err = sqlite_cli("provenance", "generate", "dist", "--builder-id", BUILDER)
    assert code == 1
    assert err == (
        "pilothouse: error: $PILOTHOUSE_PROVENANCE_KEY: not a PEM private key "
        "(ECDSA P-256 or Ed25519)\n"
    )


def test_inside_github_actions(sqlite_cli: Cli, dist: Path) -> None:
    sqlite_cli.env.update(TOO_LEGIT)
    code, _, err = sqlite_cli(
        "provenance", "generate", "dist", "--key", "provenance.key", "-o", "gh.jsonl"
    )
    assert code == 0, err
    assert "unknown: start time" in err
    body = json.loads(
        dsse.b64decode(json.loads((sqlite_cli.cwd / "gh.jsonl").read_text())["payload"])
    )
    definition = body["predicate"]["buildDefinition"]
    assert definition["buildType"] == "https://actions.github.io/buildtypes/workflow/v1"
    metadata = body["predicate"]["runDetails"]["metadata"]
    assert metadata["finishedOn"] == "2026-11-27T12:00:00Z"  # the clock
    code, verdict, err = _verify(
        sqlite_cli,
        "--builder-id",
        "https://github.com/too-legit/attest/.github/workflows/integration.yml",
        "--source-uri",
        "github.com/too-legit/attest",
        "--source-ref",
        "refs/heads/main",
        "--strict",
        provenance="gh.jsonl",
    )
    assert code == 0, err


def test_a_synced_run_fills_the_gaps(cli: Cli, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    started = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
    attempt = RunAttempt(
        run_key="9182555064",
        attempt=1,
        workflow="release",
        workflow_key="7",
        run_number=3,
        event="push",
        branch="main",
        commit=COMMIT,
        status="in_progress",
        conclusion=None,
        created_at=started,
        started_at=started,
        updated_at=started,
        html_url="https://github.com/acme/rocket/actions/runs/9182555064",
    )
    with Store.open(cli.db, create=True) as store:
        store.store_github_run("acme/rocket", [attempt], [])
    (tmp_path / "app.bin").write_bytes(b"\x7fELF" + bytes(range(256)))
    code, out, err = cli(
        "provenance",
        "generate",
        "app.bin",
        "--unsigned",
        "--builder-id",
        BUILDER,
        "--run-id",
        "9182555064",
    )
    assert code == 0, err
    predicate = json.loads(out)["predicate"]
    assert predicate["buildDefinition"]["resolvedDependencies"] == [
        {
            "uri": "git+https://github.com/acme/rocket@refs/heads/main",
            "digest": {"gitCommit": COMMIT},
        }
    ]
    metadata = predicate["runDetails"]["metadata"]
    assert metadata["startedOn"] == "2026-11-30T11:00:00Z"
    assert metadata["invocationId"].endswith("/acme/rocket/actions/runs/9182555064/attempts/1")
    assert predicate["buildDefinition"]["internalParameters"]["pilothouse"]["sources"] == [
        "store",
        "flags",
    ]


def test_generate_never_creates_a_store(sqlite_cli: Cli, dist: Path) -> None:
    code, _, err = sqlite_cli(
        "provenance", "generate", "dist", "--unsigned", "--builder-id", BUILDER, "--run-id", "1"
    )
    assert code == 0, err
    assert not (sqlite_cli.cwd / "store.db").exists()


def test_without_a_builder_or_key(sqlite_cli: Cli, dist: Path) -> None:
    code, _, err = sqlite_cli("provenance", "generate", "dist", "--key", "provenance.key")
    assert code == 1 and err == (
        "pilothouse: error: no builder id: pass --builder-id URI "
        "(set by itself in GitHub Actions)\n"
    )
    code, _, err = sqlite_cli("provenance", "generate", "dist", "--builder-id", BUILDER)
    assert code == 1 and "no signing key: pass --key FILE or set $PILOTHOUSE_PROVENANCE_KEY" in err


def test_sha256sum_listing_as_subjects(sqlite_cli: Cli, dist: Path) -> None:
    import base64
    import hashlib

    wheel = (dist / "demo-0.0.0-py3-none-any.whl").read_bytes()
    listing = f"{hashlib.sha256(wheel).hexdigest()}  demo-0.0.0-py3-none-any.whl\n"
    (sqlite_cli.cwd / "SHA256SUMS").write_text(listing)
    for flags in (
        ("--subjects", "SHA256SUMS"),
        ("--base64-subjects", base64.b64encode(listing.encode()).decode()),
    ):
        code, out, err = sqlite_cli(
            "provenance",
            "generate",
            *flags,
            "--key",
            "provenance.key",
            "--builder-id",
            BUILDER,
            "-o",
            "l.jsonl",
        )
        assert code == 0, err
        code, verdict, err = sqlite_cli(
            "provenance",
            "verify",
            "dist/demo-0.0.0-py3-none-any.whl",
            "--provenance",
            "l.jsonl",
            "--key",
            "provenance.pub",
        )
        assert code == 0, err


@pytest.mark.parametrize(
    "content, message",
    [
        (b"this is not json\nat all\n", "line 1: not JSON"),
        (b"<html><body>502 Bad Gateway</body></html>", "line 1: not JSON"),
        (b'{"hello": "world"}', "not a DSSE envelope, a Sigstore bundle or an in-toto statement"),
        (b"[1, 2, 3]", "not a JSON object"),
        (b"", "empty: no provenance"),
        (b"[" * 100000 + b"]" * 100000, "line 1: JSON nested too deep"),
        (
            b'{"_type": "x", "subject": []}\n' + b"[" * 100000 + b"\n",
            "line 2: JSON nested too deep",
        ),
        (b"\xff\xfe\x00garbage", "not JSON (not UTF-8 text)"),
        (
            b'{"payloadType": "application/vnd.in-toto+json", "payload": "!!!***", '
            b'"signatures": []}',
            "not a DSSE envelope: payload is not base64",
        ),
        (
            b'{"payloadType": "application/vnd.in-toto+json", "payload": "e30=", '
            b'"signatures": [{"sig": "%%%"}]}',
            "signatures[0].sig is not base64",
        ),
    ],
)
def test_bad_provenance_is_one_line(
    sqlite_cli: Cli, dist: Path, content: bytes, message: str
) -> None:
    (sqlite_cli.cwd / "bad.jsonl").write_bytes(content)
    code, out, err = _verify(sqlite_cli, provenance="bad.jsonl")
    assert code == 1 and out is None
    assert err.count("\n") == 1 and err.startswith("pilothouse: error: ")
    assert message in err


def test_a_huge_provenance_file_is_refused(sqlite_cli: Cli, dist: Path) -> None:
    huge = sqlite_cli.cwd / "huge.jsonl"
    with huge.open("wb") as handle:
        handle.truncate(16 * 1024 * 1024 + 1)
    code, _, err = _verify(sqlite_cli, provenance="huge.jsonl")
    assert code == 1 and err.count("\n") == 1
    assert "the provenance file is over 16 MiB: refused" in err


@pytest.mark.parametrize(
    "key, message",
    [
        (b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGnqOvHp user@host\n", "not a PEM public key"),
        (
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            "not a readable PEM public key",
        ),
        (None, "unsupported key type"),  # RSA
        (b"", "not a PEM public key"),
    ],
)
def test_unknown_key_formats_are_one_line(
    sqlite_cli: Cli, dist: Path, key: bytes | None, message: str
) -> None:
    if key is None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
        key = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    _generate(sqlite_cli)
    (sqlite_cli.cwd / "odd.pub").write_bytes(key)
    code, _, err = sqlite_cli(
        "provenance", "verify", "dist", "--provenance", "dist.intoto.jsonl", "--key", "odd.pub"
    )
    assert code == 1 and err.count("\n") == 1 and message in err
    assert err.startswith("pilothouse: error: ") and "odd.pub" in err


def test_a_private_key_given_as_trusted_key_says_so(sqlite_cli: Cli, dist: Path) -> None:
    _generate(sqlite_cli)
    code, _, err = sqlite_cli(
        "provenance",
        "verify",
        "dist",
        "--provenance",
        "dist.intoto.jsonl",
        "--key",
        "provenance.key",
    )
    assert code == 1 and "this is a private key: give its .pub" in err


def test_usage_errors(sqlite_cli: Cli, dist: Path) -> None:
    _generate(sqlite_cli)
    code, _, err = sqlite_cli(
        "provenance",
        "verify",
        "dist",
        "--provenance",
        "dist.intoto.jsonl",
        "--key",
        "provenance.pub",
        "--threshold",
        "2",
    )
    assert code == 2 and "2 distinct keys required but 1 given" in err
    code, _, err = sqlite_cli("provenance", "verify", "dist", "--provenance", "dist.intoto.jsonl")
    assert code == 1 and "pass --key PUBKEY" in err
    code, _, err = sqlite_cli(
        "provenance", "verify", "nowhere.bin", "--provenance", "dist.intoto.jsonl"
    )
    assert code == 1 and "nowhere.bin: no such file or directory" in err


def test_a_certificate_signed_envelope_needs_rekor(sqlite_cli: Cli, dist: Path) -> None:
    path = _generate(sqlite_cli)
    pem = "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n"
    _rewrite(path, lambda e: e["signatures"][0].update(cert=pem, keyid=""))
    code, _, err = sqlite_cli("provenance", "verify", "dist", "--provenance", "dist.intoto.jsonl")
    assert code == 1 and err.count("\n") == 1
    assert "needs an online Rekor look-up, which pilothouse does not do" in err


def test_slsa_github_generators_v02_predicate(sqlite_cli: Cli, dist: Path) -> None:
    """A real v0.2 predicate (slsa-github-generator generic, in a Statement v0.1)."""
    import hashlib

    predicate = json.loads((DATA / "slsa_predicate_v0_2.json").read_text())
    wheel = (dist / "demo-0.0.0-py3-none-any.whl").read_bytes()
    body = {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "subject": [{"name": "demo.whl", "digest": {"sha256": hashlib.sha256(wheel).hexdigest()}}],
        "predicate": predicate,
    }
    own = keys.load_private((sqlite_cli.cwd / "provenance.key").read_bytes())
    envelope = dsse.sign(PAYLOAD_TYPE, json.dumps(body).encode(), [own])
    (sqlite_cli.cwd / "v02.intoto.jsonl").write_text(json.dumps(dsse.envelope_to_json(envelope)))
    generator = (
        "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/"
        "generator_generic_slsa3.yml"
    )
    code, out, err = sqlite_cli(
        "provenance",
        "verify",
        "dist/demo-0.0.0-py3-none-any.whl",
        "--provenance",
        "v02.intoto.jsonl",
        "--key",
        "provenance.pub",
        "--source-uri",
        "github.com/sigstore/sigstore-python",
        "--source-tag",
        "v3.2.0",
        "--builder-id",
        generator,
        "--strict",
        "--json",
    )
    assert code == 0, err
    code, out, err = sqlite_cli(
        "provenance",
        "verify",
        "dist/demo-0.0.0-py3-none-any.whl",
        "--provenance",
        "v02.intoto.jsonl",
        "--key",
        "provenance.pub",
        "--source-uri",
        "github.com/sigstore/sigstore-python",
        "--source-tag",
        "v3.1.0",
        "--json",
    )
    assert code == 1 and [c["name"] for c in json.loads(out)["checks"] if not c["ok"]] == [
        "source-ref"
    ]


def test_an_unreadable_store_is_noted_not_fatal(sqlite_cli: Cli, dist: Path) -> None:
    (sqlite_cli.cwd / "store.db").write_text("not a database")
    code, out, err = sqlite_cli(
        "provenance",
        "generate",
        "dist",
        "--unsigned",
        "--builder-id",
        BUILDER,
        "--run-id",
        "1",
        "--started-on",
        "2026-11-30T10:00:00",
    )
    assert code == 0, err
    assert err.startswith("pilothouse: note: the store was not read (")
    metadata = json.loads(out)["predicate"]["runDetails"]["metadata"]
    assert metadata["startedOn"] == "2026-11-30T10:00:00Z"


def test_a_key_others_can_read_is_noted(sqlite_cli: Cli, dist: Path) -> None:
    (sqlite_cli.cwd / "provenance.key").chmod(0o644)
    code, _, err = sqlite_cli(
        "provenance",
        "generate",
        "dist",
        "--key",
        "provenance.key",
        "--builder-id",
        BUILDER,
        "-o",
        "x.jsonl",
    )
    assert code == 0
    assert "note: provenance.key is readable by others (chmod 600 provenance.key)" in err


@pytest.mark.parametrize("kind", ["encrypted", "openssh", "rsa", "p384", "garbage"])
def test_unusable_private_keys_are_one_line(sqlite_cli: Cli, dist: Path, kind: str) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    pkcs8 = serialization.PrivateFormat.PKCS8
    pem = serialization.Encoding.PEM
    made = {
        "encrypted": lambda: ed25519.Ed25519PrivateKey.generate().private_bytes(
            pem, pkcs8, serialization.BestAvailableEncryption(b"secret")
        ),
        "openssh": lambda: ed25519.Ed25519PrivateKey.generate().private_bytes(
            pem, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        ),
        "rsa": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            pem, pkcs8, serialization.NoEncryption()
        ),
        "p384": lambda: ec.generate_private_key(ec.SECP384R1()).private_bytes(
            pem, pkcs8, serialization.NoEncryption()
        ),
        "garbage": lambda: (
            b"-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n"
        ),
    }[kind]()
    (sqlite_cli.cwd / "odd.key").write_bytes(made)
    code, _, err = sqlite_cli(
        "provenance", "generate", "dist", "--key", "odd.key", "--builder-id", BUILDER
    )
    assert code == 1 and err.count("\n") == 1 and err.startswith("pilothouse: error: ")
    expected = {
        "encrypted": "is encrypted",
        "openssh": "not a readable PEM private key",
        "rsa": "unsupported key type",
        "p384": "unsupported curve secp384r1",
        "garbage": "not a readable PEM private key",
    }[kind]
    assert expected in err


def test_an_output_that_is_no_regular_file_is_written_through_not_replaced(
    sqlite_cli: Cli, dist: Path
) -> None:
    # `-o /dev/stdout` is written to, never swapped for a regular file (as root, the rename
    # would have replaced the device); links in tmp_path stand in for /dev's own names.
    (sqlite_cli.cwd / "null").symlink_to("/dev/null")
    _generate(sqlite_cli, output="null")
    assert (sqlite_cli.cwd / "null").is_symlink()
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    (sqlite_cli.cwd / "full").symlink_to("/dev/full")
    code, out, err = sqlite_cli(
        "provenance", "generate", "dist", "--unsigned", "--builder-id", BUILDER, "-o", "full"
    )
    assert (code, out) == (1, "")
    full = sqlite_cli.cwd / "full"
    assert err == f"pilothouse: error: {full}: cannot write: No space left on device\n"
    assert (sqlite_cli.cwd / "full").is_symlink()
