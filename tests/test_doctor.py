"""`pilothouse doctor`: the local rules on snippets and on 20 real workflow files, and the
remote checks against the loopback fake GitHub."""

from __future__ import annotations

import json
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pilothouse.doctor.lint import find_actionlint, parse_output
from pilothouse.doctor.local import check_local, check_text
from pilothouse.doctor.model import RULE_IDS, Check
from pilothouse.doctor.remote import (
    ACTIONS,
    CLASSIC,
    FINE_GRAINED,
    INSTALLATION,
    UNKNOWN,
    judge_rate,
    judge_scopes,
    token_kind,
)
from pilothouse.doctor.workflow import WorkflowError, get, parse
from tests.doctor_corpus import GOLDEN, findings
from tests.github_fake import FakeGitHub, Grant

DOCS = Path(__file__).parent.parent / "docs"
REPO = "acme/rocket"
TOKEN = "ghp_doctortoken0123456789"
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def _checks(text: str, file: str = ".github/workflows/ci.yml") -> list[Check]:
    _doc, checks = check_text(file, textwrap.dedent(text))
    return checks


def _ids(text: str, file: str = ".github/workflows/ci.yml") -> list[str]:
    return [check.id for check in _checks(text, file)]


# A workflow that passes every local rule: each case below breaks one thing.
CLEAN = """\
name: CI
on:
  push:
permissions:
  contents: read
jobs:
  build:
    runs-on: ubuntu-latest
    timeout-minutes: 10
    steps:
      - uses: actions/checkout@v4
      - run: make test
"""


def test_a_clean_workflow_has_no_finding():
    assert _checks(CLEAN) == []


# -- YAML as GitHub reads it ------------------------------------------------------------


def test_yaml_1_2_on_is_a_key_and_yes_is_text():
    doc = parse("ci.yml", "on: push\nyes: no\nv: 010\nt: 1:30\n")
    keys = [k.value for k, _v in doc.root.value]
    assert keys == ["on", "yes", "v", "t"]
    assert get(doc.root, "yes").tag.endswith(":str")  # a YAML 1.1 loader: bool
    assert get(doc.root, "v").tag.endswith(":int")
    assert get(doc.root, "t").tag.endswith(":str")  # a YAML 1.1 loader: sexagesimal int


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        ("on: push\njobs:\n  a: [\n", 4, "not YAML"),
        ("- just\n- a list\n", 1, "not a mapping"),
        ("on: push\njobs:\n  a:\n    runs-on: x\n    runs-on: y\n", 5, "written twice"),
        (b"on: push\n\xff\xfe\n", 1, "not UTF-8"),
        ("x" * 1_000_001, 1, "larger than"),
        ("", 1, "not a mapping"),
    ],
)
def test_unreadable_files_fail_with_their_line(source, line, words):
    with pytest.raises(WorkflowError) as caught:
        parse("ci.yml", source)
    assert caught.value.line == line and words in str(caught.value)
    (check,) = check_text("ci.yml", source)[1]
    assert (check.id, check.status, check.line) == ("workflow-parse", "fail", line)


def test_an_alias_bomb_is_read_without_expanding():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    text = "\n".join(lines) + "\non: push\njobs:\n  j:\n    runs-on: *a8\n    steps: *a8\n"
    started = time.perf_counter()
    check_text("bomb.yml", text)
    assert time.perf_counter() - started < 5  # 10**9 nodes if expanded


# -- schema rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "rule", "words"),
    [
        ("on:\n  push:\n", "", "schema-required", "no `on:` key"),
        ("    steps:\n      - uses: actions/checkout@v4\n      - run: make test\n",
         "    env: {A: b}\n", "schema-required", "has no steps"),
        ("name: CI\n", "name: CI\nenvironment: prod\n", "schema-unknown-key",
         "unknown key 'environment' in the workflow"),
        ("    timeout-minutes: 10\n", "    timeout-minutes: 10\n    run-on: x\n",
         "schema-unknown-key", "unknown key 'run-on' in job 'build'"),
        ("      - run: make test\n", "      - run: make test\n        shel: bash\n",
         "schema-unknown-key", "unknown key 'shel' in a step of job 'build'"),
        ("    runs-on: ubuntu-latest\n", "", "schema-runs-on", "job 'build' has no `runs-on:`"),
        ("    timeout-minutes: 10\n", "    timeout-minutes: 10\n    needs: [lint]\n",
         "schema-needs", "needs 'lint', which is not a job"),
        ("    timeout-minutes: 10\n", "    timeout-minutes: 10\n    needs: build\n",
         "schema-needs", "cycle: build -> build"),
        ("    timeout-minutes: 10\n", "    timeout-minutes: 10\n    if: ${{ a }} && ${{ b }}\n",
         "schema-if", "always true"),
        ("    timeout-minutes: 10\n", "    timeout-minutes: 10\n    if: ${{ github.ref == 'x'\n",
         "schema-if", "an `${{` without its `}}`"),
        ("      - run: make test\n", "      - run: make test\n        if: success() }}\n",
         "schema-if", "a `}}` without its `${{`"),
    ],
)  # fmt: skip
def test_schema_rules_name_what_github_refuses(old, new, rule, words):
    assert old in CLEAN
    checks = _checks(CLEAN.replace(old, new, 1))
    assert [c.id for c in checks] == [rule], checks
    assert words in checks[0].summary and checks[0].status == "fail"


def test_needs_cycles_across_jobs_are_named():
    checks = _checks(
        """\
        on: push
        permissions: {}
        jobs:
          a: {runs-on: x, timeout-minutes: 1, needs: c, steps: [run: a]}
          b: {runs-on: x, timeout-minutes: 1, needs: a, steps: [run: b]}
          c: {runs-on: x, timeout-minutes: 1, needs: [b], steps: [run: c]}
        """
    )
    assert [(c.id, c.summary) for c in checks] == [
        ("schema-needs", "jobs need each other in a cycle: a -> c -> b -> a")
    ]


MATRIX = CLEAN.replace("    timeout-minutes: 10\n", "    timeout-minutes: 10\n    strategy:\n{}")


@pytest.mark.parametrize(
    ("matrix", "words"),
    [
        ("      matrix:\n        os: [a, b]\n        exclude:\n          - os: c\n",
         "exclude os: 'c' matches no value of the axis (a, b)"),
        ("      matrix:\n        os: [a, b]\n        exclude:\n          - python: '3.9'\n",
         "exclude names 'python', not an axis"),
        ("      matrix:\n        os: [a]\n        include: {os: b}\n",
         "matrix include must be a list of mappings"),
        ("      matrix:\n        exclude:\n          - os: a\n", "the matrix has no axis"),
        ("      matrix: [a, b]\n", "the matrix is not a mapping"),
    ],
)  # fmt: skip
def test_matrix_errors(matrix, words):
    checks = _checks(MATRIX.format(matrix))
    assert [c.id for c in checks] == ["schema-matrix"] * len(checks) and checks
    assert any(words in c.summary for c in checks)


@pytest.mark.parametrize(
    "matrix",
    [
        "      matrix:\n        os: [a, b]\n        exclude:\n          - os: a\n",
        "      matrix:\n        os: ${{ fromJSON(inputs.oses) }}\n        exclude:\n"
        "          - os: z\n",
        "      matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}\n",
        "      matrix:\n        include:\n          - os: a\n",
        "      matrix:\n        os: [a]\n        exclude:\n          - os: ${{ inputs.skip }}\n",
    ],
)
def test_matrices_that_can_work_pass(matrix):
    assert _checks(MATRIX.format(matrix)) == []


def test_composite_actions_need_a_shell_and_known_keys():
    checks = _checks(
        """\
        name: setup
        description: x
        runs:
          using: composite
          steps:
            - run: echo one
            - run: echo two
              shell: bash
              timeout-minutes: 3
        """,
        "action.yml",
    )
    assert [(c.id, c.line) for c in checks] == [("schema-unknown-key", 9), ("schema-shell", 6)]


def test_an_action_without_using_is_refused():
    assert _ids("name: x\nruns:\n  main: index.js\n", "action.yml") == ["schema-required"]


def test_a_reusable_workflow_call_needs_no_runs_on_or_timeout():
    text = CLEAN.replace(
        "jobs:\n", "jobs:\n  call:\n    uses: ./.github/workflows/other.yml\n    secrets: inherit\n"
    )
    assert _checks(text) == []


# -- hygiene rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uses", "loose"),
    [
        ("actions/checkout@v4", False),
        ("actions/checkout@v4.2.1", False),
        ("actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683", False),
        ("./.github/actions/setup", False),
        ("docker://alpine:3.20", False),
        ("actions/checkout@main", True),
        ("dtolnay/rust-toolchain@stable", True),
        ("actions/checkout", True),
        ("actions/checkout@11bd719", True),  # a short SHA can become ambiguous
        ("owner/repo/.github/workflows/x.yml@master", True),
    ],
)
def test_pins(uses, loose):
    checks = _checks(CLEAN.replace("actions/checkout@v4", uses))
    assert [c.id for c in checks] == (["pin-actions"] if loose else [])
    if loose:
        assert f"{uses} (line 11)" in checks[0].summary and checks[0].line == 11


def test_missing_permissions_names_the_jobs_without_their_own():
    text = CLEAN.replace("permissions:\n  contents: read\n", "")
    text += "  lint:\n    runs-on: x\n    timeout-minutes: 3\n    permissions: {}\n"
    text += "    steps:\n      - run: ruff\n"
    (check,) = _checks(text)
    assert check.id == "permissions" and "job(s) build:" in check.summary


@pytest.mark.parametrize(
    ("uses", "key", "flagged"),
    [
        ("actions/cache@v4", "deps-${{ github.sha }}", "github.sha"),
        ("actions/cache/restore@v4", "deps-${{ github.run_id }}-x", "github.run_id"),
        ("actions/cache@v4", "deps-${{ hashFiles('uv.lock') }}", None),
        ("actions/cache/save@v4", "deps-${{ github.run_id }}", None),  # saving is fine
    ],
)
def test_cache_keys_that_never_hit(uses, key, flagged):
    step = f"      - uses: {uses}\n        with:\n          path: x\n          key: {key}\n"
    checks = _checks(CLEAN + step)
    assert [c.id for c in checks] == (["cache-key"] if flagged else [])
    if flagged:
        assert f"`{flagged}`" in checks[0].summary and checks[0].line == 16


def test_a_cache_passed_between_jobs_of_one_run_is_not_flagged():
    save = "      - uses: actions/cache@v4\n        with:\n          path: x\n"
    text = CLEAN + save + "          key: out-${{ github.run_id }}-${{ matrix.os }}\n"
    text += "  use:\n    runs-on: x\n    timeout-minutes: 3\n    needs: build\n    steps:\n"
    text += save + "          key: out-${{ github.run_id }}-linux\n"
    assert _checks(text) == []


def test_jobs_without_timeout_are_listed():
    text = CLEAN.replace("    timeout-minutes: 10\n", "")
    (check,) = _checks(text)
    assert (check.id, check.line) == ("timeout", 7)
    assert "build (line 7)" in check.summary


PR_TARGET = """\
on: pull_request_target
permissions: {}
jobs:
  build:
    runs-on: x
    timeout-minutes: 5
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{ github.event.pull_request.head.sha }}
"""


def test_pull_request_target_checking_out_the_head_fails():
    (check,) = _checks(PR_TARGET)
    assert (check.id, check.status, check.line) == ("pr-target-checkout", "fail", 10)
    assert _checks(PR_TARGET.replace("on: pull_request_target", "on: pull_request")) == []
    assert _checks(PR_TARGET.replace("github.event.pull_request.head.sha", "main")) == []


@pytest.mark.parametrize(
    ("script", "line", "expression"),
    [
        ('echo "${{ github.event.issue.title }}"', 12, "github.event.issue.title"),
        ("|\n          echo ok\n          echo ${{ github.event.pull_request.body }}", 14,
         "github.event.pull_request.body"),
        ("git checkout ${{ github.head_ref }}", 12, "github.head_ref"),
        ("echo ${{ github.event.comment.body }}", 12, "github.event.comment.body"),
        ("echo ${{ github.event.head_commit.message }}", 12, "github.event.head_commit.message"),
    ],
)  # fmt: skip
def test_untrusted_text_in_scripts_fails(script, line, expression):
    (check,) = _checks(CLEAN.replace("make test", script))
    assert (check.id, check.status, check.line) == ("script-injection", "fail", line)
    assert f"`{expression}`" in check.summary


def test_untrusted_text_through_env_passes():
    text = CLEAN.replace(
        "      - run: make test\n",
        '      - run: echo "$TITLE"\n        env:\n'
        "          TITLE: ${{ github.event.issue.title }}\n",
    )
    assert _checks(text) == []


def test_github_script_is_a_script_too():
    step = (
        "      - uses: actions/github-script@v7\n        with:\n          script: |\n"
        "            console.log('${{ github.event.pull_request.title }}')\n"
    )
    assert _ids(CLEAN + step) == ["script-injection"]


def test_every_rule_is_documented():
    text = (DOCS / "doctor.md").read_text(encoding="utf-8")
    for rule_id in RULE_IDS:
        assert f"`{rule_id}`" in text, rule_id


# -- the real corpus ----------------------------------------------------------------------------


@pytest.mark.skipif(find_actionlint() is None, reason="actionlint is a dev dependency")
def test_the_real_workflows_match_the_reviewed_golden_file(tmp_path):
    found = findings(tmp_path)
    assert len(found) == 20  # every file read, and each laid out at its own path
    assert found == json.loads(GOLDEN.read_text(encoding="utf-8"))


def test_actionlint_output_becomes_checks(tmp_path):
    output = json.dumps(
        [
            {"message": "x is\nundefined", "filepath": str(tmp_path / "w/a.yml"), "line": 3,
             "column": 1, "kind": "expression", "snippet": "", "end_column": 2},
            {"message": "too old", "filepath": "w/b.yml", "line": 9, "column": 1,
             "kind": "action", "snippet": "", "end_column": 2},
        ]
    )  # fmt: skip
    checks = parse_output(output, tmp_path)
    assert [(c.status, c.where, c.summary) for c in checks] == [
        ("fail", "w/a.yml:3", "[expression] x is undefined"),
        ("warn", "w/b.yml:9", "[action] too old"),
    ]
    assert parse_output("<html>", tmp_path)[0].status == "warn"


# -- token judgments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "env", "kind"),
    [
        ("ghp_abc", {}, CLASSIC),
        ("github_pat_11ABC", {}, FINE_GRAINED),
        ("ghs_abc", {}, INSTALLATION),
        ("ghs_abc", {"GITHUB_ACTIONS": "true"}, ACTIONS),
        ("0123456789abcdef0123456789abcdef01234567", {}, CLASSIC),
        ("nonsense", {}, UNKNOWN),
    ],
)
def test_token_kinds(value, env, kind):
    assert token_kind(value, env) == kind


@pytest.mark.parametrize(
    ("scopes", "private", "status", "words"),
    [
        (["repo", "workflow"], True, "ok", "scopes: repo, workflow"),
        (["repo"], False, "fail", "lacks the `workflow` scope"),
        (["workflow"], True, "fail", "lacks the `repo` scope"),
        (["public_repo", "workflow"], False, "ok", "scopes: public_repo, workflow"),
        ([], True, "fail", "lacks the `workflow` and `repo` scope"),
        (None, False, "warn", "no X-OAuth-Scopes header"),
    ],
)
def test_scopes(scopes, private, status, words):
    check = judge_scopes(scopes, private=private)
    assert check.status == status and words in check.summary


@pytest.mark.parametrize(
    ("left", "status"), [("4999", "ok"), ("400", "warn"), ("0", "fail"), (None, None)]
)
def test_rate_limit_headroom(left, status):
    headers = {"x-ratelimit-limit": "5000", "x-ratelimit-reset": str(int(NOW.timestamp()))}
    if left is not None:
        headers["x-ratelimit-remaining"] = left
    check = judge_rate(headers)
    assert (check.status if check else None) == status
    if check:
        assert "until 12:00 UTC" in check.summary


# -- the command, against the loopback fake --------------------------------------------------


@pytest.fixture
def fake() -> FakeGitHub:
    return FakeGitHub(REPO, TOKEN, clock_start=NOW)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "ci.yml").write_text(CLEAN, encoding="utf-8")
    return root


def _doctor(cli, root: Path, url: str | None, *args: str, token: str | None = TOKEN):
    cli.cwd = root
    cli.env.pop("GITHUB_TOKEN", None)
    if token is not None:
        cli.env["GITHUB_TOKEN"] = token
    remote = ["--repo", REPO, "--api-url", url] if url else ["--offline"]
    code, out, err = cli("doctor", "--json", *remote, *args)
    assert token is None or token not in out + err
    return code, json.loads(out), err


def _by_id(report) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for check in report["checks"]:
        found.setdefault(check["id"], []).append(check)
    return found


def test_one_run_explains_a_missing_scope_a_disabled_workflow_and_a_broken_file(
    sqlite_cli, fake, checkout
):
    fake.grants[TOKEN] = Grant(scopes=("repo",))
    workflows = checkout / ".github" / "workflows"
    (workflows / "nightly.yml").write_text("on: schedule\njobs:\n  a: [\n", encoding="utf-8")
    (workflows / "release.yml").write_text(CLEAN.replace("CI", "Release"), encoding="utf-8")
    fake.add_workflow("CI", ".github/workflows/ci.yml")
    fake.add_workflow("nightly", ".github/workflows/nightly.yml")
    fake.add_workflow("Release", ".github/workflows/release.yml")
    fake.set_workflow_state("Release", "disabled_manually")
    fake.add_run(workflow="CI", created_at=NOW - timedelta(hours=3))
    with fake.serve() as url:
        code, report, _err = _doctor(sqlite_cli, checkout, url)
    assert code == 1
    by_id = _by_id(report)
    (scopes,) = by_id["token-scopes"]
    assert scopes["status"] == "fail" and "lacks the `workflow` scope" in scopes["summary"]
    assert "gh auth refresh -s workflow" in scopes["fix"]
    broken = [c for c in by_id["workflow-parse"] if c["file"] == ".github/workflows/nightly.yml"]
    assert broken[0]["status"] == "fail" and broken[0]["line"] == 4
    states = {c["file"]: (c["status"], c["summary"]) for c in by_id["workflow-state"]}
    assert states[".github/workflows/release.yml"][0] == "fail"
    assert "disabled_manually" in states[".github/workflows/release.yml"][1]
    assert states[".github/workflows/ci.yml"][0] == "ok"
    (latest,) = [c for c in by_id["workflow-latest-run"] if c["file"].endswith("ci.yml")]
    assert latest["status"] == "ok" and "succeeded" in latest["summary"]
    assert report["fail"] == 3 and report["skipped"] == {}
    assert (
        by_id["token-kind"][0]["summary"] == "$GITHUB_TOKEN holds a classic personal access token"
    )


def test_the_human_report_says_the_same(sqlite_cli, fake, checkout):
    fake.grants[TOKEN] = Grant(scopes=("repo",))
    fake.add_workflow("CI", ".github/workflows/ci.yml")
    with fake.serve() as url:
        sqlite_cli.cwd = checkout
        sqlite_cli.env["GITHUB_TOKEN"] = TOKEN
        code, out, err = sqlite_cli("doctor", "--repo", REPO, "--api-url", url)
    assert code == 1 and TOKEN not in out + err
    assert "FAIL token-scopes: the token lacks the `workflow` scope" in out
    assert "WARN workflow-latest-run .github/workflows/ci.yml: 'CI' has never run" in out
    assert "1 workflow file(s):" in out.splitlines()[-1]


def test_a_clean_setup_passes(sqlite_cli, fake, checkout):
    fake.add_workflow("CI", ".github/workflows/ci.yml")
    fake.add_run(workflow="CI", created_at=NOW - timedelta(hours=1))
    with fake.serve() as url:
        code, report, _err = _doctor(sqlite_cli, checkout, url)
    assert code == 0 and report["fail"] == 0 and report["warn"] == 0, report
    assert {c["id"] for c in report["checks"]} >= {
        "token-present", "token-valid", "token-kind", "token-scopes", "rate-limit",
        "repo-reachable", "actions-enabled", "default-branch", "workflow-state",
        "workflow-latest-run",
    }  # fmt: skip


def test_a_bad_token_is_refused_and_the_rest_skipped(sqlite_cli, fake, checkout):
    with fake.serve() as url:
        code, report, _err = _doctor(sqlite_cli, checkout, url, token="ghp_wrong")
    assert code == 1
    (valid,) = _by_id(report)["token-valid"]
    assert valid["status"] == "fail" and "401 Bad credentials" in valid["summary"]
    assert set(report["skipped"]) >= {"repo-reachable", "workflow-state", "token-scopes"}


def test_no_token(sqlite_cli, checkout):
    code, report, _err = _doctor(sqlite_cli, checkout, "http://127.0.0.1:9", token=None)
    assert code == 1
    (present,) = _by_id(report)["token-present"]
    assert present["status"] == "fail" and "--offline" in present["fix"]
    assert report["skipped"]["repo-reachable"] == "no token"


def test_a_token_without_access_gets_the_404(sqlite_cli, fake, checkout):
    other = "github_pat_11NOACCESS"
    fake.add_token(other, Grant(kind="fine-grained", repos=frozenset({"acme/other"})))
    with fake.serve() as url:
        code, report, _err = _doctor(sqlite_cli, checkout, url, token=other)
    assert code == 1
    (reach,) = _by_id(report)["repo-reachable"]
    assert reach["status"] == "fail" and "not found (404)" in reach["summary"]
    assert "Repository access" in reach["fix"]
    assert "workflow-state" in report["skipped"]


def test_a_private_repository_needs_the_repo_scope(sqlite_cli, fake, checkout):
    fake.private = True
    fake.grants[TOKEN] = Grant(scopes=("workflow",))
    with fake.serve() as url:
        code, report, _err = _doctor(sqlite_cli, checkout, url)
    by_id = _by_id(report)
    assert code == 1 and by_id["repo-reachable"][0]["status"] == "fail"
    assert "lacks the `repo` scope" in by_id["token-scopes"][0]["summary"]


def test_a_fine_grained_token_without_actions_read(sqlite_cli, fake, checkout):
    token = "github_pat_11NOACTIONS"
    fake.add_token(token, Grant(kind="fine-grained", permissions={"administration": "read"}))
    fake.add_workflow("CI", ".github/workflows/ci.yml")
    with fake.serve() as url:
        code, report, _err = _doctor(sqlite_cli, checkout, url, token=token)
    by_id = _by_id(report)
    assert code == 1
    (scopes,) = by_id["token-scopes"]
    assert scopes["status"] == "fail" and "actions: read" in scopes["summary"]
    (listing,) = by_id["workflow-registered"]
    assert listing["status"] == "fail" and "actions: read" in listing["fix"]


def test_a_fine_grained_token_that_reads_says_what_it_cannot_tell(sqlite_cli, fake, checkout):
    token = "github_pat_11READS"
    grant = Grant(
        kind="fine-grained",
        permissions={"actions": "read", "administration": "read", "contents": "read"},
    )
    fake.add_token(token, grant)
    fake.add_workflow("CI", ".github/workflows/ci.yml")
    fake.add_run(workflow="CI", created_at=NOW - timedelta(hours=1))
    with fake.serve() as url:
        code, report, _err = _doctor(sqlite_cli, checkout, url, token=token)
    (scopes,) = _by_id(report)["token-scopes"]
    assert code == 0 and scopes["status"] == "ok"
    assert "Workflows: write" in scopes["summary"] and "cannot be checked" in scopes["summary"]


def test_the_actions_token_is_an_installation_token(sqlite_cli, fake, checkout):
    token = "ghs_actionstoken"
    fake.add_token(
        token, Grant(kind="installation", permissions={"actions": "read", "contents": "read"})
    )
    fake.add_workflow("CI", ".github/workflows/ci.yml")
    fake.add_run(workflow="CI", created_at=NOW - timedelta(hours=1))
    sqlite_cli.env["GITHUB_ACTIONS"] = "true"
    with fake.serve() as url:
        _code, report, _err = _doctor(sqlite_cli, checkout, url, token=token)
    by_id = _by_id(report)
    assert by_id["token-kind"][0]["summary"].endswith("GitHub Actions GITHUB_TOKEN")
    assert by_id["token-valid"][0]["status"] == "ok"  # /user refuses it; /installation not
    (actions,) = by_id["actions-enabled"]
    assert actions["status"] == "warn" and "administration: read" in actions["fix"]
    assert "can never push" in by_id["token-scopes"][0]["summary"]


def test_actions_disabled_and_no_admin(sqlite_cli, fake, checkout):
    fake.actions_enabled = False
    with fake.serve() as url:
        _code, report, _err = _doctor(sqlite_cli, checkout, url)
    assert _by_id(report)["actions-enabled"][0]["status"] == "fail"
    fake.grants[TOKEN] = Grant(admin=False)
    with fake.serve() as url:
        _code, report, _err = _doctor(sqlite_cli, checkout, url)
    (actions,) = _by_id(report)["actions-enabled"]
    assert actions["status"] == "warn" and "Must have admin rights" in actions["summary"]


def test_local_and_remote_differences(sqlite_cli, fake, checkout):
    fake.per_page_max = 2  # the workflow listing takes two pages
    fake.add_workflow("Gone", ".github/workflows/gone.yml")
    fake.add_workflow("Deleted", ".github/workflows/deleted.yml", state="deleted")
    fake.add_workflow("CodeQL", "dynamic/github-code-scanning/codeql")
    with fake.serve() as url:
        _code, report, _err = _doctor(sqlite_cli, checkout, url)
    by_id = _by_id(report)
    assert [c["file"] for c in by_id["workflow-registered"]] == [".github/workflows/ci.yml"]
    assert [c["file"] for c in by_id["workflow-remote-only"]] == [".github/workflows/gone.yml"]


def test_a_startup_failure_fails(sqlite_cli, fake, checkout):
    fake.add_workflow("CI", ".github/workflows/ci.yml")
    fake.add_run(workflow="CI", created_at=NOW - timedelta(hours=2))
    fake.add_run(workflow="CI", created_at=NOW - timedelta(hours=1), conclusion="startup_failure")
    with fake.serve() as url:
        code, report, _err = _doctor(sqlite_cli, checkout, url)
    (latest,) = _by_id(report)["workflow-latest-run"]
    assert code == 1 and latest["status"] == "fail" and "startup_failure" in latest["summary"]


def test_offline_names_the_remote_checks_it_skipped(sqlite_cli, checkout):
    code, report, _err = _doctor(sqlite_cli, checkout, None)
    assert code == 0 and report["checks"] == []
    assert report["skipped"]["token-scopes"] == "--offline"
    assert report["skipped"]["workflow-state"] == "--offline"
    sqlite_cli.cwd = checkout
    _code, out, _err = sqlite_cli("doctor", "--offline")
    assert "skipped (--offline): token-present, token-valid" in out


def test_rules_are_silenced_in_pilothouse_toml(sqlite_cli, checkout):
    text = CLEAN.replace("    timeout-minutes: 10\n", "").replace("@v4", "@main")
    (checkout / ".github" / "workflows" / "ci.yml").write_text(text, encoding="utf-8")
    code, report, _err = _doctor(sqlite_cli, checkout, None)
    assert {c["id"] for c in report["checks"]} == {"timeout", "pin-actions"}
    (checkout / "pilothouse.toml").write_text('[doctor]\nignore = ["timeout"]\n', "utf-8")
    code, report, _err = _doctor(sqlite_cli, checkout, None)
    assert code == 0 and [c["id"] for c in report["checks"]] == ["pin-actions"]


def test_an_unknown_rule_id_in_the_settings_is_refused(sqlite_cli, checkout):
    (checkout / "pilothouse.toml").write_text('[doctor]\nignore = ["timeouts"]\n', "utf-8")
    sqlite_cli.cwd = checkout
    code, _out, err = sqlite_cli("doctor", "--offline")
    assert code == 1 and "did you mean 'timeout'?" in err


def test_a_bad_repo_flag_is_a_usage_error(sqlite_cli, checkout):
    sqlite_cli.cwd = checkout
    code, _out, err = sqlite_cli("doctor", "--repo", "rocket")
    assert code == 2 and "expected OWNER/NAME" in err


def test_the_repository_comes_from_the_origin_remote(sqlite_cli, fake, checkout):
    import subprocess

    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    subprocess.run(
        ["git", "-C", str(checkout), "remote", "add", "origin", f"git@github.com:{REPO}.git"],
        check=True,
    )
    with fake.serve() as url:
        sqlite_cli.cwd = checkout
        sqlite_cli.env["GITHUB_TOKEN"] = TOKEN
        _code, out, _err = sqlite_cli("doctor", "--json", "--api-url", url)
    (reach,) = _by_id(json.loads(out))["repo-reachable"]
    assert reach["summary"] == f"{REPO} (public)"


@pytest.mark.skipif(find_actionlint() is None, reason="actionlint is a dev dependency")
def test_actionlint_findings_come_with_file_and_line(checkout):
    bad = CLEAN.replace("make test", "echo ${{ matrix.nothing }}")
    (checkout / ".github" / "workflows" / "ci.yml").write_text(bad, encoding="utf-8")
    result = check_local(checkout, actionlint=find_actionlint())
    lint = [c for c in result.checks if c.id == "actionlint"]
    assert [(c.status, c.where) for c in lint] == [("fail", ".github/workflows/ci.yml:12")]
    assert '"nothing"' in lint[0].summary


# -- the example workflows of docs/workflows/ and the repository's action.yml must pass -------

EXAMPLES = sorted((DOCS / "workflows").glob("*.yml")) if (DOCS / "workflows").is_dir() else []
ACTION = DOCS.parent / "action.yml"


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_the_documented_workflows_pass_the_doctor(sqlite_cli, tmp_path, example):
    root = tmp_path / "repo"
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / example.name).write_bytes(example.read_bytes())
    if ACTION.is_file():  # the examples may use the repository's own action (`uses: ./`)
        (root / "action.yml").write_bytes(ACTION.read_bytes())
    sqlite_cli.cwd = tmp_path
    code, out, _err = sqlite_cli("doctor", "--offline", "--json", "--path", str(root))
    report = json.loads(out)
    assert code == 0 and report["fail"] == 0, [c for c in report["checks"] if c["status"] == "fail"]


@pytest.mark.skipif(not ACTION.is_file(), reason="no action.yml at the repository's root yet")
def test_the_repositorys_action_passes_the_doctor(sqlite_cli, tmp_path):
    (tmp_path / "action.yml").write_bytes(ACTION.read_bytes())
    sqlite_cli.cwd = tmp_path
    code, out, _err = sqlite_cli("doctor", "--offline", "--json")
    report = json.loads(out)
    assert code == 0 and report["fail"] == 0, report["checks"]


def test_a_missing_path_is_one_line(sqlite_cli, tmp_path):
    code, _out, err = sqlite_cli("doctor", "--offline", "--path", str(tmp_path / "nope"))
    assert code == 1 and err.count("\n") == 1 and "not a directory" in err


def test_github_out_of_reach_is_a_failed_check(sqlite_cli, fake, checkout):
    fake.fail("/user", status=502, times=20)
    sqlite_cli.cwd = checkout
    sqlite_cli.env["GITHUB_TOKEN"] = TOKEN
    with fake.serve() as url:
        code, out, _err = sqlite_cli(
            "doctor", "--json", "--repo", REPO, "--api-url", url, "--max-wait", "0"
        )
    report = json.loads(out)
    (reach,) = _by_id(report)["repo-reachable"]
    assert code == 1 and "cannot reach GitHub" in reach["summary"] and "502" in reach["summary"]
    assert report["skipped"]["workflow-state"] == "GitHub is out of reach"


def test_garbage_listings_are_skipped_not_fatal(sqlite_cli, fake, checkout):
    fake.add_workflow("CI", ".github/workflows/ci.yml")
    fake.fail("/repos/acme/rocket/actions/workflows", status=200, body={
        "total_count": 3, "workflows": [None, {"name": "x"}, "junk"]})  # fmt: skip
    with fake.serve() as url:
        _code, report, _err = _doctor(sqlite_cli, checkout, url)
    (missing,) = _by_id(report)["workflow-registered"]
    assert missing["file"] == ".github/workflows/ci.yml"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_any_text_gives_checks_not_exceptions(text):
    _doc, checks = check_text("w.yml", text)
    assert all(c.status in ("ok", "warn", "fail") and c.line and c.line >= 1 for c in checks)


_SCALARS = st.sampled_from(["", "x", "on", "${{", "}}", "[", "1", "true", "null", "- a"])
_YAMLISH = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_SCALARS, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["on", "jobs", "permissions", "name"]), _YAMLISH))
def test_any_shape_of_workflow_gives_checks(data):
    import yaml

    _doc, checks = check_text("w.yml", yaml.safe_dump(data))
    assert all(isinstance(c, Check) for c in checks)


def test_a_reusable_workflow_takes_its_callers_permissions():
    text = CLEAN.replace("permissions:\n  contents: read\n", "").replace("push:", "workflow_call:")
    assert _checks(text) == []
    assert _ids(text.replace("workflow_call:", "workflow_call:\n  push:")) == ["permissions"]


def _flat(node, seen=None):
    import yaml

    if isinstance(node, yaml.ScalarNode):
        return [(node.tag, node.value, node.start_mark.line)]
    children = node.value if isinstance(node, yaml.SequenceNode) else [
        part for pair in node.value for part in pair
    ]  # fmt: skip
    return [(node.tag, node.start_mark.line)] + [x for c in children for x in _flat(c)]


def test_libyaml_and_the_python_parser_read_the_corpus_alike():
    import yaml

    from pilothouse.doctor.workflow import Yaml12CLoader, Yaml12Loader
    from tests.doctor_corpus import CORPUS

    for path in sorted(CORPUS.iterdir()):
        text = path.read_text(encoding="utf-8")
        fast = yaml.compose(text, Loader=Yaml12CLoader)
        slow = yaml.compose(text, Loader=Yaml12Loader)
        assert _flat(fast) == _flat(slow), path.name


def test_pull_request_target_checking_out_the_fork_repository_fails():
    text = PR_TARGET.replace(
        "ref: ${{ github.event.pull_request.head.sha }}",
        "repository: ${{ github.event.pull_request.head.repo.full_name }}",
    )
    assert _ids(text) == ["pr-target-checkout"]


@pytest.mark.parametrize("text", ["[" * 100_000, "{a: " * 50_000, "a: " + "[" * 5000 + "]" * 5000])
def test_deep_nesting_is_refused_not_a_crash(text):
    (check,) = check_text("deep.yml", text)[1]
    assert (check.id, check.status) == ("workflow-parse", "fail")


def test_a_local_file_that_differs_from_the_default_branch(sqlite_cli, fake, checkout):
    fake.add_workflow("CI", ".github/workflows/ci.yml")
    fake.add_workflow("Docs", ".github/workflows/docs.yml")
    fake.add_run(workflow="CI", created_at=NOW - timedelta(hours=1))
    fake.files[".github/workflows/ci.yml"] = CLEAN.replace("make test", "make").encode()
    fake.files[".github/workflows/docs.yml"] = CLEAN.encode()
    fake.files[".github/workflows/scripts/x.sh"] = b"echo\n"
    (checkout / ".github" / "workflows" / "docs.yml").write_text(CLEAN, encoding="utf-8")
    with fake.serve() as url:
        _code, report, _err = _doctor(sqlite_cli, checkout, url)
    (differs,) = _by_id(report)["workflow-differs"]
    assert differs["file"] == ".github/workflows/ci.yml" and differs["status"] == "warn"
    assert "differs from main's version" in differs["summary"]


def test_git_blob_shas_are_gits(tmp_path):
    import subprocess

    from pilothouse.doctor.local import git_blob_sha

    path = tmp_path / "ci.yml"
    path.write_text(CLEAN, encoding="utf-8")
    done = subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True)
    assert git_blob_sha(CLEAN.encode()) == done.stdout.strip()


def test_the_readme_recipe_prints_what_the_readme_shows(sqlite_cli, tmp_path, monkeypatch):
    """The README's doctor recipe, pasted: its printf line and the transcript after it."""
    import re
    import subprocess

    import pilothouse.cli.doctor

    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## CI doctor") :]
    printf = re.search(r"^\$ (printf .*)$", section, re.MULTILINE)[1]
    shown = section.split("$ pilothouse doctor --offline\n", 1)[1].split("```", 1)[0]
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    subprocess.run(printf, shell=True, cwd=tmp_path, check=True)
    monkeypatch.setattr(pilothouse.cli.doctor, "find_actionlint", lambda path=None: None)
    monkeypatch.setenv("COLUMNS", "400")
    sqlite_cli.cwd = tmp_path
    sqlite_cli.env["COLUMNS"] = "400"
    code, out, _err = sqlite_cli("doctor", "--offline")
    assert code == 1 and out == shown


@pytest.mark.parametrize("data", [None, ["a", "list"], {"message": "hello"}])
def test_an_http_200_that_is_not_githubs_answer_fails(data: object) -> None:
    from pilothouse.doctor.remote import judge_repo, judge_user
    from pilothouse.sources.github import Answer

    answer = Answer(200, {}, data, "https://proxy.example/user")
    user = judge_user(answer, "classic token", "GITHUB_TOKEN")
    assert (user.id, user.status) == ("token-valid", "fail")
    assert user.summary == "GET /user: HTTP 200 without a user: not GitHub's API answering"
    repo = judge_repo(answer, "a/b", "classic token")
    assert (repo.id, repo.status) == ("repo-reachable", "fail")
    assert "(HTTP 200)" not in repo.summary and "--api-url" in (repo.fix or "")
