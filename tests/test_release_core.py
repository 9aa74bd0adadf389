"""Conventional Commits parsing, SemVer precedence and the bump policy (pure core)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pilothouse.delivery.release.commits import parse_message
from pilothouse.delivery.release.policy import Policy, commit_level, next_version
from pilothouse.delivery.release.semver import Version, check_label, compare
from pilothouse.delivery.release.tags import TagPattern, previous_of, versions

# -- Conventional Commits 1.0.0 ------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "kind", "scope", "breaking", "breaking_description"),
    [
        ("feat: a", "feat", None, False, None),
        ("FEAT: a", "feat", None, False, None),  # rule 15: case-insensitive
        ("Fix(API): a", "fix", "api", False, None),
        ("feat(api)!: drop v1", "feat", "api", True, "drop v1"),  # rule 13
        ("chore!: a", "chore", None, True, "a"),
        ("refactor: a\n\nBREAKING CHANGE: keys renamed", "refactor", None, True, "keys renamed"),
        ("refactor: a\n\nBREAKING-CHANGE: keys renamed", "refactor", None, True, "keys renamed"),
        ("fix: a\n\nbreaking change: lower case", "fix", None, False, None),  # rule 12/15
        ("fix: a\n\nBreaking-Change: mixed case", "fix", None, False, None),
        ("feat!: a\n\nBREAKING CHANGE: the footer says more", "feat", None, True,
         "the footer says more"),
    ],
)  # fmt: skip
def test_header_and_breaking(message, kind, scope, breaking, breaking_description):
    parsed = parse_message(message)
    assert parsed.conventional
    assert (parsed.type, parsed.scope) == (kind, scope)
    assert (parsed.breaking, parsed.breaking_description) == (breaking, breaking_description)


@pytest.mark.parametrize(
    "header",
    [
        "update stuff",
        "feat:no space",  # rule 1: colon AND space
        "feat !: space before bang",
        "feat(): empty scope is not a scope",
        'Revert "feat: a"',
        "Merge pull request #12 from a/b",
        "feat: ",
        " docs: a leading space",  # rule 1: prefixed with a type (git-cliff agrees)
    ],
)
def test_not_conventional(header):
    parsed = parse_message(header)
    assert not parsed.conventional
    assert parsed.description == header.strip()
    assert not parsed.breaking


def test_a_breaking_footer_needs_colon_space_and_a_description():
    # rules 8 and 12: "BREAKING CHANGE, followed by a colon, space, and description";
    # commitizen 4d36bdf "BREAKING CHANGE:" with the text two lines down is not one
    # (git-cliff calls it breaking).
    parsed = parse_message("refactor(config): drop files\n\nBREAKING CHANGE:\n\n#82")
    assert not parsed.breaking and parsed.footers == ()


def test_footers_span_lines_until_the_next_token():
    message = (
        "fix(store): keep rows\n\nThe body.\n\nSecond paragraph.\n\n"
        "BREAKING CHANGE: the key\n  `db` is now `store`\nReviewed-by: Z\nRefs #133"
    )
    parsed = parse_message(message)
    assert parsed.body == "The body.\n\nSecond paragraph."
    assert [(f.token, f.value) for f in parsed.footers] == [
        ("BREAKING CHANGE", "the key\n  `db` is now `store`"),
        ("Reviewed-by", "Z"),
        ("Refs", "133"),
    ]
    assert parsed.breaking_description == "the key\n  `db` is now `store`"


def test_release_as_and_reverts():
    assert parse_message("chore: release\n\nRelease-As: 2.0.0").release_as == "2.0.0"
    git_revert = parse_message('Revert "feat: a"\n\nThis reverts commit abcdef1234567.')
    assert git_revert.reverted() == (("abcdef1234567",), "feat: a")
    cc_revert = parse_message("revert: feat: a\n\nRefs: 1234567, 89abcde")
    assert cc_revert.reverted() == (("1234567", "89abcde"), "feat: a")
    assert parse_message("fix: a").reverted() == ((), None)


# -- SemVer 2.0.0 --------------------------------------------------------------------------

# The spec's own example (§11.4), lowest first.
SPEC_ORDER = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "2.0.0",
    "2.1.0",
    "2.1.1",
]


def test_spec_precedence_example():
    parsed = [Version.parse(v) for v in SPEC_ORDER]
    assert sorted(reversed(parsed), key=Version.precedence) == parsed
    assert all(a < b for a, b in zip(parsed, parsed[1:], strict=False))


def test_build_metadata_is_ignored_for_precedence():
    a, b = Version.parse("1.0.0+20130313144700"), Version.parse("1.0.0+exp.sha.5114f85")
    assert compare(a, b) == 0 and a != b
    assert Version.parse("1.0.0-beta+exp.sha.5114f85") < a


@pytest.mark.parametrize("bad", ["1.2", "01.2.3", "1.2.3-01", "1.2.3-", "v1.2.3", "1.2.3+", "a"])
def test_not_semver(bad):
    with pytest.raises(ValueError, match="not a SemVer"):
        Version.parse(bad)


identifier = st.one_of(
    st.integers(min_value=0, max_value=10**6).map(str),
    st.from_regex(r"[0-9A-Za-z-]*[A-Za-z-][0-9A-Za-z-]*", fullmatch=True).filter(bool),
)
versions_st = st.builds(
    lambda ma, mi, pa, pre, build: Version.parse(
        f"{ma}.{mi}.{pa}"
        + (f"-{'.'.join(pre)}" if pre else "")
        + (f"+{'.'.join(build)}" if build else "")
    ),
    st.integers(0, 50),
    st.integers(0, 50),
    st.integers(0, 50),
    st.lists(identifier, max_size=3),
    st.lists(st.from_regex(r"[0-9A-Za-z-]+", fullmatch=True), max_size=2),
)


@given(versions_st)
def test_parse_format_round_trip(version):
    assert Version.parse(str(version)) == version


@given(versions_st, versions_st, versions_st)
def test_precedence_is_a_total_order(a, b, c):
    assert compare(a, b) == -compare(b, a)  # antisymmetric
    assert (compare(a, b) == 0) == (a.core == b.core and a.pre == b.pre)
    if compare(a, b) <= 0 and compare(b, c) <= 0:
        assert compare(a, c) <= 0  # transitive
    if a.pre and not b.pre and a.core == b.core:
        assert a < b  # a pre-release is below its release


@given(versions_st, st.sampled_from(["major", "minor", "patch"]))
def test_a_bump_always_goes_up(version, level):
    assert version.bump(level) > version
    assert not version.bump(level).pre


# -- The differential conformance table (research/delivery.md §1.4), base v1.2.3 -----------

CONFORMANCE = [
    ("fix: a", "1.2.4"),
    ("feat: a", "1.3.0"),
    ("feat(api)!: a", "2.0.0"),
    ("chore!: a", "2.0.0"),
    ("chore: a\n\nBREAKING CHANGE: a", "2.0.0"),
    ("chore: a\n\nBREAKING-CHANGE: a", "2.0.0"),
    ("fix: a\n\nbreaking change: a", "1.2.4"),  # lowercase footer: not breaking
    ("FEAT: a", "1.3.0"),  # case-insensitive (commitizen and PSR give no bump)
    ("refactor: a", None),  # no implicit effect (git-cliff and cz give 1.2.4)
    ("docs: a", None),  # no implicit effect (git-cliff gives 1.2.4)
    ("update stuff", None),
]


@pytest.mark.parametrize(("message", "expected"), CONFORMANCE)
def test_conformance_table(message, expected):
    policy = Policy()
    level = commit_level(parse_message(message), policy)
    result = next_version(Version(1, 2, 3), [level], policy).version
    assert (str(result) if result else None) == expected


def test_patch_and_minor_types_are_configurable():
    policy = Policy(patch_types=("fix", "perf", "refactor"), minor_types=("feat", "docs"))
    assert commit_level(parse_message("perf: a"), policy) == "patch"
    assert commit_level(parse_message("DOCS: a"), policy) == "minor"
    assert commit_level(parse_message("just words"), policy) == "none"


@pytest.mark.parametrize(
    ("breaking_on_zero", "feat_on_zero", "message", "expected"),
    [
        ("major", "minor", "feat!: a", "1.0.0"),  # git-cliff, release-please, cz defaults
        ("minor", "minor", "feat!: a", "0.5.0"),  # cz major_version_zero, PSR major_on_zero=false
        ("major", "minor", "feat: a", "0.5.0"),
        ("major", "patch", "feat: a", "0.4.3"),  # release-please bump-patch-for-minor-pre-major
        ("minor", "patch", "fix: a", "0.4.3"),
    ],
)
def test_zero_version_policy(breaking_on_zero, feat_on_zero, message, expected):
    policy = Policy(breaking_on_zero=breaking_on_zero, feat_on_zero=feat_on_zero)
    level = commit_level(parse_message(message), policy)
    assert str(next_version(Version(0, 4, 2), [level], policy).version) == expected


def test_first_release_release_as_and_pre_releases():
    policy = Policy(initial_version=Version(0, 1, 0))
    assert str(next_version(None, ["none"], policy).version) == "0.1.0"
    assert str(next_version(None, ["major"], policy, pre="rc").version) == "0.1.0-rc.1"
    forced = next_version(Version(1, 2, 3), ["patch"], policy, release_as="v3.0.0")
    assert (str(forced.version), forced.forced) == ("3.0.0", True)
    rc1 = next_version(Version(1, 2, 3), ["minor"], policy, pre="rc").version
    assert str(rc1) == "1.3.0-rc.1"
    assert str(next_version(rc1, ["patch"], policy, pre="rc").version) == "1.3.0-rc.2"
    assert str(next_version(rc1, ["minor"], policy, pre="beta").version) == "1.3.0-beta.1"
    assert str(next_version(rc1, ["patch"], policy).version) == "1.3.0"
    assert str(next_version(rc1, ["none"], policy).version) == "1.3.0"  # graduates
    assert str(next_version(rc1, ["major"], policy).version) == "2.0.0"
    assert next_version(Version(1, 2, 3), ["none"], policy).version is None
    with pytest.raises(ValueError):
        check_label("rc.1")


# -- Tags ----------------------------------------------------------------------------------


def test_tag_patterns():
    plain = TagPattern("v{version}")
    assert str(plain.version_of("v1.2.3")) == "1.2.3"
    assert str(plain.version_of("1.2.3-rc.1")) == "1.2.3-rc.1"
    assert plain.version_of("v4") is None and plain.version_of("crate-v1.0.0") is None
    crate = TagPattern("pilothouse-core-v{version}")
    assert str(crate.version_of("pilothouse-core-v0.3.0")) == "0.3.0"
    assert crate.version_of("pilothouse-cli-v0.3.0") is None
    assert crate.tag_for(Version(0, 4, 0)) == "pilothouse-core-v0.4.0"
    assert plain.tag_for(Version(2, 0, 0), previous="1.9.0") == "2.0.0"
    assert plain.tag_for(Version(2, 0, 0), previous="v1.9.0") == "v2.0.0"
    with pytest.raises(ValueError, match="exactly once"):
        TagPattern("v1")


def test_versions_sorted_by_precedence_and_previous():
    tags = [("v1.10.0", "c"), ("v1.9.0", "b"), ("v1.10.0-rc.1", "d"), ("v2", "e"), ("x", "f")]
    found = versions(tags, TagPattern("v{version}"))
    assert [t.tag for t in found] == ["v1.9.0", "v1.10.0-rc.1", "v1.10.0"]
    assert previous_of(found, Version(1, 10, 0)).tag == "v1.10.0-rc.1"
    assert previous_of(found, Version(1, 10, 0), stable=True).tag == "v1.9.0"
    assert previous_of(found, None).tag == "v1.10.0"
    assert previous_of(found, Version(1, 0, 0)) is None


# -- Remotes and links ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("https://github.com/acme/rocket.git", "https://github.com/acme/rocket"),
        ("https://github.com/acme/rocket", "https://github.com/acme/rocket"),
        ("git@github.com:acme/rocket.git", "https://github.com/acme/rocket"),
        ("ssh://git@GHE.corp.example:2222/acme/rocket.git", "https://ghe.corp.example/acme/rocket"),
        (
            "https://user:secret@ghe.corp.example/acme/rocket",
            "https://ghe.corp.example/acme/rocket",
        ),
        ("/srv/git/rocket.git", None),
        ("https://github.com/acme", None),
    ],
)
def test_remote_forms(url, base):
    from pilothouse.delivery.release.links import Remote

    remote = Remote.from_url(url)
    assert (remote.base if remote else None) == base


def test_issue_refs_and_pull_numbers():
    from pilothouse.delivery.release.links import issue_refs, pull_numbers

    text = "Closes #12, fixes acme/other#3\nResolved: #12\nsee #99\nFIXES #4"
    assert issue_refs(text) == [(None, 12), ("acme/other", 3), (None, 4)]
    assert pull_numbers("feat: a (#5) (#6)") == [5, 6]


def test_markdown_escapes_commit_text():
    from pilothouse.delivery.release.render import markdown

    commit = {
        "sha": "a" * 40, "scope": None, "breaking": False, "breaking_description": None,
        "description": "use <script>[x](javascript:1) *now*", "group": "Features", "prs": [],
        "issues": [], "url": None,
    }  # fmt: skip
    text = markdown({"version": None, "commits": [commit], "contributors": []})
    assert "- use \\<script\\>\\[x\\](javascript:1) \\*now\\* (aaaaaaa)" in text
