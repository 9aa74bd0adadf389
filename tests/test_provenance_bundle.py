"""GitHub's own attestations (Sigstore bundles from actions/attest-build-provenance),
verified offline against a trusted root file, with the signer's identity checked."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

from .conftest import Cli

DATA = Path(__file__).parent / "data" / "provenance"
BUNDLE = "reusable-workflow-attestation.sigstore.json"
ARTIFACT = "reusable-workflow-artifact"
SIGNER = "github/artifact-attestations-workflows/.github/workflows/attest.yml"


@pytest.fixture
def here(sqlite_cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Cli:
    for name in (
        BUNDLE,
        ARTIFACT,
        "trusted_root.json",
        "custom-issuer.sigstore.json",
        "custom-issuer-artifact",
        "sigstore-js-2.1.0-bundle.json",
    ):
        shutil.copy(DATA / name, sqlite_cli.cwd / name)

    def no_network(*args, **kwargs):
        raise AssertionError("offline verification opened a connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    return sqlite_cli


def _verify(
    cli: Cli,
    *flags: str,
    artifact: str = ARTIFACT,
    bundle: str = BUNDLE,
    root: str = "trusted_root.json",
):
    code, out, err = cli(
        "provenance",
        "verify",
        artifact,
        "--provenance",
        bundle,
        "--trusted-root",
        root,
        *flags,
        "--json",
    )
    return code, json.loads(out) if out else None, err


def _failed(verdict: dict) -> list[str]:
    return [c["name"] for c in verdict["checks"] if not c["ok"]]


def test_githubs_bundle_verifies_offline_at_l2(here: Cli) -> None:
    code, verdict, err = _verify(
        here, "--source-uri", "github.com/malancas/attest-demo", "--source-ref", "refs/heads/main"
    )
    assert code == 0, err
    assert verdict["verified"] and verdict["level"] == "L2"
    assert verdict["artifacts"] == [
        {
            "name": ARTIFACT,
            "sha256": "49a3aa6075e0f49f82843e74b5baa614ad2a588e6675612bf108a0a008c5ac25",
            "matched": True,
        }
    ]
    names = [c["name"] for c in verdict["checks"]]
    assert names[:2] == ["bundle", "identity"] and "subject" in names


def test_a_pinned_reusable_signer_workflow_is_l3(here: Cli) -> None:
    code, verdict, err = _verify(
        here,
        "--source-uri",
        "github.com/malancas/attest-demo",
        "--signer-workflow",
        SIGNER,
        "--deny-self-hosted-runners",
    )
    assert code == 0, err
    assert verdict["level"] == "L3"


@pytest.mark.parametrize(
    "flags, detail",
    [
        (
            ("--source-uri", "github.com/evil/attest-demo"),
            "source repository https://github.com/malancas/attest-demo is not",
        ),
        (
            (
                "--source-uri",
                "github.com/malancas/attest-demo",
                "--signer-workflow",
                "evil/wf/.github/workflows/a.yml",
            ),
            "signer workflow https://github.com/github/artifact-attestations-workflows",
        ),
        (
            ("--source-uri", "github.com/malancas/attest-demo", "--source-ref", "refs/heads/dev"),
            "source ref refs/heads/main is not refs/heads/dev",
        ),
        ((), "no expected identity: pass --source-uri github.com/OWNER/REPO"),
        (
            (
                "--source-uri",
                "github.com/malancas/attest-demo",
                "--cert-oidc-issuer",
                "https://accounts.google.com",
            ),
            "issuer https://token.actions.githubusercontent.com is not https://accounts.google.com",
        ),
    ],
)
def test_the_wrong_identity_fails_the_identity_check(here: Cli, flags, detail: str) -> None:
    code, verdict, err = _verify(here, *flags)
    assert code == 1 and _failed(verdict) == ["identity"]
    assert detail in verdict["checks"][1]["detail"]
    assert verdict["level"] == "L0"


def test_another_artifact_is_not_a_subject(here: Cli) -> None:
    code, verdict, _ = _verify(
        here, "--source-uri", "github.com/malancas/attest-demo", artifact="trusted_root.json"
    )
    assert code == 1 and _failed(verdict) == ["subject"]


def _tampered(here: Cli, change) -> str:
    bundle = json.loads((here.cwd / BUNDLE).read_text())
    change(bundle)
    (here.cwd / "tampered.sigstore.json").write_text(json.dumps(bundle))
    return "tampered.sigstore.json"


def test_a_tampered_payload_fails_the_bundle_check(here: Cli) -> None:
    import base64

    def change(bundle: dict) -> None:
        body = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
        body["subject"][0]["digest"]["sha256"] = "0" * 64
        bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(body).encode()).decode()

    code, verdict, _ = _verify(
        here, "--source-uri", "github.com/malancas/attest-demo", bundle=_tampered(here, change)
    )
    assert code == 1 and _failed(verdict) == ["bundle"]
    assert "statement" not in [c["name"] for c in verdict["checks"]]


def test_a_replaced_signature_fails_the_bundle_check(here: Cli) -> None:
    other = json.loads((here.cwd / "custom-issuer.sigstore.json").read_text())

    def change(bundle: dict) -> None:
        bundle["dsseEnvelope"]["signatures"] = other["dsseEnvelope"]["signatures"]

    code, verdict, _ = _verify(
        here, "--source-uri", "github.com/malancas/attest-demo", bundle=_tampered(here, change)
    )
    assert code == 1 and _failed(verdict) == ["bundle"]


def test_a_root_without_the_ca_fails_the_bundle_check(here: Cli) -> None:
    root = json.loads((here.cwd / "trusted_root.json").read_text())
    root["certificateAuthorities"] = root["certificateAuthorities"][:1]  # the 2021-2022 CA only
    (here.cwd / "old_root.json").write_text(json.dumps(root))
    code, verdict, _ = _verify(
        here, "--source-uri", "github.com/malancas/attest-demo", root="old_root.json"
    )
    assert code == 1 and _failed(verdict) == ["bundle"]


def test_roots_as_json_lines_like_gh_writes_them(here: Cli) -> None:
    line = json.dumps(json.loads((here.cwd / "trusted_root.json").read_text()))
    (here.cwd / "roots.jsonl").write_text(line + "\n" + line + "\n")
    code, verdict, err = _verify(
        here, "--source-uri", "github.com/malancas/attest-demo", root="roots.jsonl"
    )
    assert code == 0, err


def test_an_enterprise_issuer(here: Cli) -> None:
    flags = ("--source-uri", "github.com/too-legit/attest")
    bundle = {"bundle": "custom-issuer.sigstore.json", "artifact": "custom-issuer-artifact"}
    code, verdict, _ = _verify(here, *flags, **bundle)
    assert code == 1 and _failed(verdict) == ["identity"]
    issuer = "https://token.actions.githubusercontent.com/hammer-time"
    code, verdict, err = _verify(here, *flags, "--cert-oidc-issuer", issuer, "--strict", **bundle)
    assert code == 0, err
    assert verdict["level"] == "L2"


def test_what_sigstore_cannot_verify_offline_fails_clearly(here: Cli) -> None:
    code, verdict, err = _verify(
        here,
        "--source-uri",
        "github.com/sigstore/sigstore-js",
        bundle="sigstore-js-2.1.0-bundle.json",
    )
    assert code == 1 and _failed(verdict) == ["bundle"]
    assert (
        "the sigstore package cannot verify this bundle offline" in verdict["checks"][0]["detail"]
    )


@pytest.mark.parametrize(
    "root, message",
    [
        (None, "pass --trusted-root FILE"),
        ("bad_root.json", "is not a Sigstore trusted root"),
    ],
)
def test_trusted_root_problems_are_one_line(here: Cli, root: str | None, message: str) -> None:
    (here.cwd / "bad_root.json").write_text('{"mediaType": "text/plain"}')
    args = [
        "provenance",
        "verify",
        ARTIFACT,
        "--provenance",
        BUNDLE,
        "--source-uri",
        "github.com/a/b",
    ]
    code, _, err = here(*args, *(("--trusted-root", root) if root else ()))
    assert code == 1 and err.count("\n") == 1 and message in err


def test_a_garbage_bundle_fails_the_bundle_check(here: Cli) -> None:
    (here.cwd / "junk.sigstore.json").write_text(
        json.dumps({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "x": 1})
    )
    code, verdict, _ = _verify(here, "--source-uri", "github.com/a/b", bundle="junk.sigstore.json")
    assert code == 1 and _failed(verdict) == ["bundle"]
    assert verdict["checks"][0]["detail"].startswith("not a Sigstore bundle")


def _leaves(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path


def test_every_field_of_the_bundle_is_load_bearing() -> None:
    """Change, drop or retype any one field of GitHub's bundle: it never verifies, and the
    verifier never crashes (hostile bundles fail closed)."""
    import copy

    from pilothouse.delivery.provenance import bundle

    path = DATA / "trusted_root.json"
    roots = bundle.load_trusted_roots(path, path.read_bytes())
    original = json.loads((DATA / BUNDLE).read_text())
    identity = bundle.Identity(source_uri="github.com/malancas/attest-demo")
    assert bundle.authenticate_bundle("", json.dumps(original).encode(), roots, identity).payload
    for leaf in _leaves(original):
        for mode in ("flip", "drop", "retype"):
            changed = copy.deepcopy(original)
            parent = changed
            for key in leaf[:-1]:
                parent = parent[key]
            value = parent[leaf[-1]]
            if mode == "drop":
                del parent[leaf[-1]]
            elif mode == "retype":
                parent[leaf[-1]] = 12345
            elif isinstance(value, str) and value:
                middle = len(value) // 2
                swapped = "A" if value[middle] != "A" else "B"
                parent[leaf[-1]] = value[:middle] + swapped + value[middle + 1 :]
            else:
                continue
            result = bundle.authenticate_bundle("", json.dumps(changed).encode(), roots, identity)
            if leaf[-1] == "envelope" and mode == "flip":
                # the middle of the checkpoint falls in its signature line's key name, which
                # a signed note does not sign (the key is found by its hash): still valid
                assert value.index("\n\n") < len(value) // 2 < value.index(" wNI9")
                assert result.payload is not None
                continue
            assert result.payload is None, (leaf, mode)
            assert not result.checks[0].ok, (leaf, mode)


def test_bundles_as_githubs_api_returns_them(here: Cli) -> None:
    bundle = json.loads((here.cwd / BUNDLE).read_text())
    (here.cwd / "api.json").write_text(
        json.dumps({"attestations": [{"bundle": bundle, "repository_id": 804070735}]})
    )
    (here.cwd / "one.jsonl").write_text(json.dumps({"bundle": bundle}) + "\n")
    for name in ("api.json", "one.jsonl"):
        code, verdict, err = _verify(
            here, "--source-uri", "github.com/malancas/attest-demo", bundle=name
        )
        assert code == 0, err
