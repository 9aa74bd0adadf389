"""Statements, predicates, the GitHub Actions mapping and the policy checks (pure)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pilothouse.delivery.provenance import checks, github, statement
from pilothouse.delivery.provenance.model import (
    GITHUB_BUILD_TYPE,
    SLSA_V02,
    SLSA_V1,
    Artifact,
    BuildContext,
    Expectations,
    Subject,
)
from pilothouse.model import AttemptSummary, RunSummary

DATA = Path(__file__).parent / "data" / "provenance"


def _github_predicate(name: str) -> dict:
    bundle = json.loads((DATA / name).read_text())
    return json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))["predicate"]


# The environment of the run that made custom-issuer.sigstore.json (its certificate and
# predicate name these values): GitHub's generator read them from the OIDC token.
TOO_LEGIT = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "too-legit/attest",
    "GITHUB_WORKFLOW_REF": "too-legit/attest/.github/workflows/integration.yml@refs/heads/main",
    "GITHUB_REF": "refs/heads/main",
    "GITHUB_SHA": "283bf967fa3c591925dd25e6a6e8e781542117bf",
    "GITHUB_EVENT_NAME": "workflow_dispatch",
    "GITHUB_REPOSITORY_ID": "851894824",
    "GITHUB_REPOSITORY_OWNER_ID": "180348046",
    "RUNNER_ENVIRONMENT": "github-hosted",
    "GITHUB_RUN_ID": "10818226125",
    "GITHUB_RUN_ATTEMPT": "1",
}


def test_github_fields_match_githubs_own_generator() -> None:
    ours = statement.provenance_v1(github.context_from_env(TOO_LEGIT))
    theirs = _github_predicate("custom-issuer.sigstore.json")
    ours["buildDefinition"]["internalParameters"].pop("pilothouse")
    assert ours == theirs
    assert theirs["buildDefinition"]["buildType"] == GITHUB_BUILD_TYPE


def test_a_tag_with_at_sign_keeps_its_ref() -> None:
    env = {
        **TOO_LEGIT,
        "GITHUB_WORKFLOW_REF": "too-legit/attest/.github/workflows/r.yml@refs/tags/pkg@1.0",
    }
    context = github.context_from_env(env)
    assert (context.workflow_path, context.workflow_ref) == (
        ".github/workflows/r.yml",
        "refs/tags/pkg@1.0",
    )


def test_outside_actions_nothing_is_guessed() -> None:
    context = github.note_unknown(github.context_from_env({"GITHUB_SHA": "abc"}))
    assert context.repository is None and context.commit is None
    assert context.unknown == (
        "builder id",
        "source repository",
        "source ref",
        "source commit",
        "invocation id",
        "start time",
    )
    with pytest.raises(ValueError, match="--builder-id"):
        statement.provenance_v1(context)
    local = github.note_unknown(github.with_flags(context, builder_id="https://ci.example.com/b"))
    predicate = statement.provenance_v1(local)
    assert predicate["buildDefinition"]["internalParameters"]["pilothouse"]["unknown"][0] == (
        "source repository"
    )
    assert "resolvedDependencies" not in predicate["buildDefinition"]


def _run(**changes) -> RunSummary:
    values = dict(
        id="9182555064",
        provider="github",
        repository="acme/rocket",
        workflow="release",
        commit="8304c42402aa3a569882687e0642c359e5a74ac2",
        branch="main",
        attempt=2,
        status="completed",
        conclusion="success",
        created_at=datetime(2026, 11, 30, 11, 58, tzinfo=UTC),
        started_at=datetime(2026, 11, 30, 11, 59, tzinfo=UTC),
        attempts=(
            AttemptSummary(
                1, "completed", "failure", datetime(2026, 11, 30, 11, 59, tzinfo=UTC), None
            ),
            AttemptSummary(
                2, "completed", "success", datetime(2026, 11, 30, 12, 30, tzinfo=UTC), None
            ),
        ),
    )
    return RunSummary(**{**values, **changes})


def test_a_stored_run_fills_what_the_environment_lacks() -> None:
    context = github.with_run(BuildContext(run_id="9182555064"), [_run()])
    assert context.repository == "acme/rocket"
    assert context.commit == "8304c42402aa3a569882687e0642c359e5a74ac2"
    assert context.ref == "refs/heads/main"
    assert context.started_on == datetime(2026, 11, 30, 12, 30, tzinfo=UTC)
    assert (
        context.invocation_id == "https://github.com/acme/rocket/actions/runs/9182555064/attempts/2"
    )
    assert context.sources == ("store",)


def test_the_jobs_own_start_is_the_builds_start() -> None:
    from pilothouse.model import JobSummary

    job = JobSummary("build", "success", 2, started_at=datetime(2026, 11, 30, 12, 31, tzinfo=UTC))
    context = BuildContext(run_id="9182555064", job="build")
    filled = github.with_run(context, [_run(jobs=(job,))])
    assert filled.started_on == datetime(2026, 11, 30, 12, 31, tzinfo=UTC)


def test_the_environment_wins_over_the_store_and_flags_over_both() -> None:
    env = github.context_from_env({**TOO_LEGIT, "GITHUB_REPOSITORY": "acme/rocket"})
    filled = github.with_run(env, [_run(), _run(repository="other/repo", commit="f" * 40)])
    assert filled.commit == TOO_LEGIT["GITHUB_SHA"]
    assert filled.started_on == datetime(2026, 11, 30, 11, 59, tzinfo=UTC)  # attempt 1
    flagged = github.with_flags(filled, commit="e" * 40)
    assert flagged.commit == "e" * 40 and flagged.sources == ("environment", "store", "flags")


def test_a_run_of_another_repository_is_not_used() -> None:
    context = BuildContext(repository="acme/rocket", run_id="1")
    assert github.with_run(context, [_run(repository="other/repo")]) == context


def test_v02_predicate_has_the_generic_generator_shape() -> None:
    context = github.context_from_env(TOO_LEGIT)
    predicate = statement.provenance_v02(context)
    assert predicate["invocation"]["configSource"] == {
        "uri": "git+https://github.com/too-legit/attest@refs/heads/main",
        "digest": {"sha1": TOO_LEGIT["GITHUB_SHA"]},
        "entryPoint": ".github/workflows/integration.yml",
    }
    assert predicate["builder"]["id"].endswith("integration.yml@refs/heads/main")
    view = checks.ProvenanceView.of(statement.Statement("v1", (), SLSA_V02, predicate))
    assert checks.normalize_repository(view.sources[0]) == "github.com/too-legit/attest"


@pytest.mark.parametrize(
    "listing, names",
    [
        ("a" * 64 + "  dist/x.tar.gz\n" + "b" * 64 + " *y.whl\n\n", ["dist/x.tar.gz", "y.whl"]),
        ("A" * 64 + "  name with spaces\r\n", ["name with spaces"]),
    ],
)
def test_sha256sum_listings(listing: str, names: list[str]) -> None:
    parsed = statement.parse_listing(listing)
    assert [s.name for s in parsed] == names
    assert all(s.digest["sha256"].islower() for s in parsed)


@pytest.mark.parametrize("listing", ["", "zz  x\n", "a" * 63 + "  x\n", "<html>oops</html>"])
def test_bad_listings(listing: str) -> None:
    with pytest.raises(ValueError):
        statement.parse_listing(listing)


@given(
    st.lists(
        st.tuples(
            st.binary(min_size=32, max_size=32),
            st.text(min_size=1).filter(
                lambda t: t.strip() == t and "\n" not in t and "\r" not in t and t.isprintable()
            ),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_listing_round_trip(items) -> None:
    text = "".join(f"{digest.hex()}  {name}\n" for digest, name in items)
    parsed = statement.parse_listing(text)
    assert [(s.digest["sha256"], s.name) for s in parsed] == [(d.hex(), n) for d, n in items]


def test_one_name_with_two_digests_is_refused() -> None:
    with pytest.raises(ValueError, match="x is given twice"):
        statement.merge_subjects(
            [Subject("x", {"sha256": "a" * 64}), Subject("x", {"sha256": "b" * 64})]
        )
    merged = statement.merge_subjects(
        [
            Subject("x", {"sha256": "a" * 64}),
            Subject("x", {"sha256": "a" * 64, "sha512": "c" * 128}),
        ]
    )
    assert merged == [Subject("x", {"sha256": "a" * 64, "sha512": "c" * 128})]


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"not json", "not JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"_type":"x"}', "not an in-toto Statement"),
        (b'{"_type":"https://in-toto.io/Statement/v1","subject":[]}', "predicateType"),
        (
            b'{"_type":"https://in-toto.io/Statement/v1","predicateType":"p","subject":[]}',
            "subject",
        ),
        (
            b'{"_type":"https://in-toto.io/Statement/v1","predicateType":"p","subject":[{"name":"a"}]}',
            "no digest",
        ),
        (
            b'{"_type":"https://in-toto.io/Statement/v1","predicateType":"p",'
            b'"subject":[{"digest":{"sha256":"xyz"}}]}',
            "not hex",
        ),
    ],
)
def test_bad_statements(payload: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        statement.parse_statement(payload)


def _statement(**predicate_changes) -> statement.Statement:
    context = github.context_from_env(TOO_LEGIT)
    predicate = statement.provenance_v1(context)
    predicate.update(predicate_changes)
    return statement.Statement("v1", (Subject("a", {"sha256": "a" * 64}),), SLSA_V1, predicate)


@pytest.mark.parametrize(
    "expectations, failed",
    [
        (Expectations(source_uri="github.com/too-legit/attest"), []),
        (Expectations(source_uri="https://GitHub.com/too-legit/attest.git"), []),
        (Expectations(source_uri="github.com/evil/attest"), ["source-uri"]),
        (Expectations(source_ref="refs/heads/main"), []),
        (Expectations(source_ref="main"), []),
        (Expectations(source_ref="refs/tags/v1"), ["source-ref"]),
        (
            Expectations(
                builder_id="https://github.com/too-legit/attest/.github/workflows/integration.yml"
            ),
            [],
        ),
        (
            Expectations(
                builder_id="https://github.com/too-legit/attest/.github/workflows/other.yml"
            ),
            ["builder-id"],
        ),
        (
            Expectations(
                builder_id="https://github.com/too-legit/attest/.github/workflows/integration.yml@refs/heads/dev"
            ),
            ["builder-id"],
        ),
        (Expectations(predicate_type=SLSA_V02), ["predicate-type"]),
        (Expectations(strict=True), []),
    ],
)
def test_statement_checks(expectations: Expectations, failed: list[str]) -> None:
    result = checks.statement_checks(_statement(), expectations)
    assert [c.name for c in result if not c.ok] == failed


def test_strict_refuses_unknown_external_parameters() -> None:
    parsed = _statement()
    parsed.predicate["buildDefinition"]["externalParameters"]["script"] = "curl | sh"
    parsed.predicate["buildDefinition"]["externalParameters"]["workflow"]["extra"] = 1
    (check,) = [c for c in checks.statement_checks(parsed, Expectations(strict=True)) if not c.ok]
    assert check.name == "external-parameters"
    assert check.detail == "unknown: script, workflow.extra"
    parsed.predicate["buildDefinition"]["buildType"] = "https://example.com/unknown"
    (check,) = [c for c in checks.statement_checks(parsed, Expectations(strict=True)) if not c.ok]
    assert "is not one --strict knows" in check.detail


def test_subjects_match_by_digest_not_name() -> None:
    parsed = _statement()
    verdict_match = checks._matched(Artifact("renamed", {"sha256": "a" * 64}), [parsed])
    verdict_other = checks._matched(Artifact("a", {"sha256": "b" * 64}), [parsed])
    assert verdict_match and not verdict_other
