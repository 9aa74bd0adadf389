"""`pilothouse policy`: Rego policies (regopy) over the `--json` documents and the
workflow files, as conftest evaluates them; the docs' example policies on the sample
history and the real workflow corpus, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pilothouse.policy.inputs import workflow_document, workflows_input
from pilothouse.policy.rego import Policy, findings, parse_error, policy_of, queries
from tests.conftest import Cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "examples" / "policies"
CORPUS = ROOT / "tests" / "data" / "doctor" / "workflows"

MISSED = """package gate.score

import rego.v1

deny contains msg if {
	some c in input.criteria
	c.status == "missed"
	msg := c.id
}
"""


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    where = tmp_path_factory.mktemp("policy-sample")
    cli = Cli(cwd=where, db=f"sqlite:///{where / 'store.db'}")
    assert cli("sample")[0] == 0
    return cli.db


@pytest.fixture
def sample(tmp_path: Path, sample_db: str) -> Cli:
    shutil.copy(sample_db.removeprefix("sqlite:///"), tmp_path / "store.db")
    return Cli(cwd=tmp_path, db=f"sqlite:///{tmp_path / 'store.db'}")


def test_a_policy_gates_the_sample_scorecard(sample: Cli, tmp_path: Path) -> None:
    missed = {c["id"] for c in sample.json("score")["criteria"] if c["status"] == "missed"}
    assert missed  # the sample misses some targets
    code, out, err = sample("policy", "check", _write(tmp_path, "gate.rego", MISSED))
    assert code == 1, err
    lines = out.strip().splitlines()
    assert {line.rsplit(": ", 1)[1] for line in lines[:-1]} == missed
    assert all(line.startswith("FAIL ") for line in lines[:-1])
    assert lines[-1] == f"{len(missed)} failures, 0 warnings from 1 policies (1 packages) " + (
        "over the score document"
    )


def test_the_same_gate_on_postgresql(cli: Cli, tmp_path: Path) -> None:
    assert cli("sample", "--days", "14")[0] == 0
    missed = sorted(c["id"] for c in cli.json("score")["criteria"] if c["status"] == "missed")
    code, out, _err = cli("policy", "check", _write(tmp_path, "gate.rego", MISSED), "--json")
    report = json.loads(out)
    assert code == (1 if missed else 0)
    assert sorted(f["message"] for f in report["findings"]) == missed


def test_the_docs_scorecard_example_runs_literally(sample: Cli) -> None:
    score = sample.json("score")
    code, out, err = sample(
        "policy", "check", str(EXAMPLES / "scorecard.rego"), "--input", "score", "--json"
    )
    assert code == 1, err
    report = json.loads(out)
    by_level = {(f["level"], f["message"].split(":")[0]) for f in report["findings"]}
    for criterion in score["criteria"]:
        if criterion["status"] != "missed":
            continue
        level = "warn" if criterion["id"] == "artifact_size" else "fail"
        title = criterion["title"] + (" missed (waived)" if level == "warn" else "")
        assert (level, title) in by_level
    assert report["input"] == "score" and report["policies"] == [str(EXAMPLES / "scorecard.rego")]


def test_warnings_alone_pass(sample: Cli, tmp_path: Path) -> None:
    policy = MISSED.replace("deny contains", "warn contains")
    code, out, _err = sample("policy", "check", _write(tmp_path, "warn.rego", policy))
    assert code == 0 and out.startswith("WARN ") and " 0 failures, " not in out
    assert "0 failures, " in out


def test_objects_booleans_and_violations(sample: Cli, tmp_path: Path) -> None:
    policy = """package odd
import rego.v1
violation contains {"msg": "too slow", "limit": 30} if { input.window_days > 1 }
deny if { count(input.criteria) > 3 }
warn contains {"no": "message"} if { true }
"""
    code, out, _err = sample("policy", "check", _write(tmp_path, "odd.rego", policy), "--json")
    report = json.loads(out)
    assert code == 1 and (report["fail"], report["warn"]) == (2, 1)
    found = {(f["rule"], f["message"]): f["details"] for f in report["findings"]}
    assert found[("violation", "too slow")] == {"limit": 30, "msg": "too slow"}
    assert found[("deny", "odd.deny")] is None
    assert found[("warn", '{"no": "message"}')] == {"no": "message"}


def test_a_directory_of_policies_with_two_packages(sample: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    (folder / "nested").mkdir(parents=True)
    (folder / "a.rego").write_text(MISSED)
    (folder / "nested" / "b.rego").write_text(
        'package gate.other\nimport rego.v1\nwarn contains "b" if { true }\n'
    )
    (folder / "a_test.rego").write_text("package gate.score_test\n")  # tests are not policies
    report = json.loads(sample("policy", "check", str(folder), "--json")[1])
    assert report["policies"] == [str(folder / "a.rego"), str(folder / "nested" / "b.rego")]
    assert {f["package"] for f in report["findings"]} == {"gate.score", "gate.other"}


def test_an_input_file_or_stdin(tmp_path: Path, sqlite_cli: Cli) -> None:
    document = tmp_path / "score.json"
    document.write_text(json.dumps({"criteria": [{"id": "x", "status": "missed"}]}))
    policy = _write(tmp_path, "gate.rego", MISSED)
    code, out, _err = sqlite_cli("policy", "check", policy, "--input-file", str(document))
    assert code == 1 and "FAIL" in out and "over the input file document" in out
    assert not (tmp_path / "store.db").exists()  # a file input never touches the store
    document.write_text("{not json")
    code, _out, err = sqlite_cli("policy", "check", policy, "--input-file", str(document))
    assert code == 1 and err.startswith(f"pilothouse: error: {document}: not JSON")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("package x\n deny contains msg if { ", "bad.rego:2:23: this is unclosed"),
        ("deny contains 1 if { true }\n", "bad.rego: no `package` declaration"),
        (
            "package x\nimport rego.v1\ndeny contains m if { m := undefined_fn(1) }\n",
            "bad.rego: Function not found: undefined_fn",
        ),
    ],
)
def test_bad_policies_are_one_line_errors(
    sample: Cli, tmp_path: Path, text: str, message: str
) -> None:
    code, out, err = sample("policy", "check", _write(tmp_path, "bad.rego", text))
    assert code == 1 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_missing_policy_file_and_no_store(sqlite_cli: Cli, tmp_path: Path) -> None:
    code, _out, err = sqlite_cli("policy", "check", str(tmp_path / "none.rego"))
    assert code == 1 and "none.rego: cannot read" in err
    code, _out, err = sqlite_cli("policy", "check", _write(tmp_path, "g.rego", MISSED))
    assert code == 1 and "no pilothouse store here" in err
    assert not (tmp_path / "store.db").exists()


def test_every_input_kind_is_the_json_output(sample: Cli) -> None:
    def document(*args: str) -> object:
        code, out, err = sample("policy", "input", *args)
        assert code == 0, err
        return json.loads(out)

    for kind in ("cost", "tests", "flaky"):
        assert document("--input", kind) == sample.json(kind)
    assert document() == sample.json("score")


# -- the workflows document ------------------------------------------------------------


def test_the_real_workflow_corpus_reads_as_github_reads_it(tmp_path: Path) -> None:
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    files = sorted(p for p in CORPUS.iterdir() if p.suffix in (".yml", ".yaml"))
    assert len(files) == 20
    for file in files:
        shutil.copy(file, folder / file.name)
    document = workflows_input(tmp_path)
    assert len(document["workflows"]) == len(files)
    workflows = [w["workflow"] for w in document["workflows"] if "jobs" in w["workflow"]]
    assert workflows and all("on" in w and True not in w for w in workflows)


def test_the_docs_workflow_example_finds_unpinned_actions(tmp_path: Path) -> None:
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / "ci.yml").write_text(
        "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - uses: actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065\n"
        "  release:\n    runs-on: ubuntu-latest\n    timeout-minutes: 5\n    steps:\n"
        "      - uses: ./local-action\n"
    )
    cli = Cli(cwd=tmp_path, db=f"sqlite:///{tmp_path / 'store.db'}")
    code, out, _err = cli(
        "policy", "check", str(EXAMPLES / "workflows.rego"), "--input", "workflows", "--json"
    )
    report = json.loads(out)
    assert code == 1
    assert [(f["level"], f["message"]) for f in report["findings"]] == [
        ("fail", '.github/workflows/ci.yml: job "test" has no timeout-minutes'),
        ("warn", '.github/workflows/ci.yml: job "test" uses actions/checkout@v4, '
                 "not pinned to a commit"),
    ]  # fmt: skip


def test_yaml_12_booleans_and_bad_yaml() -> None:
    assert workflow_document("w.yml", b"on: push\nyes: no\nflag: true\n") == {
        "on": "push",
        "yes": "no",
        "flag": True,
    }
    with pytest.raises(Exception, match=r"^w\.yml:4: .*node content"):
        workflow_document("w.yml", b"on: push\njobs:\n  - a: [\n")


def test_pure_parts() -> None:
    policy = policy_of("p.rego", b"# c\npackage a.b  # note\n")
    assert policy == Policy("p.rego", "# c\npackage a.b  # note\n", "a.b")
    assert queries([policy]) == ["data.a.b.deny", "data.a.b.violation", "data.a.b.warn"]
    results = {"data.a.b.deny": '{"expressions":[["x", "y"]]}', "data.a.b.warn": "undefined"}
    assert [f.message for f in findings([policy], results)] == ["x", "y"]
    assert parse_error("Errors:\nboom\n-- p.rego:3:1\n x\n", "raw") == "p.rego:3:1: boom"
    assert parse_error("", "(error\n  raw)") == "(error raw)"


# A new user's hostile inputs: each a one-line error, exit 1, never a hang or a traceback.


def test_deeply_nested_input_is_a_one_line_error(sqlite_cli: Cli, tmp_path: Path) -> None:
    document = tmp_path / "deep.json"
    document.write_text("[" * 100_000 + "]" * 100_000)
    policy = _write(tmp_path, "gate.rego", MISSED)
    code, _out, err = sqlite_cli("policy", "check", policy, "--input-file", str(document))
    assert (code, err) == (1, f"pilothouse: error: {document}: JSON nested too deeply\n")


@pytest.mark.parametrize("flag", ["--input-file", None])
def test_an_endless_file_is_refused_not_read_forever(
    sqlite_cli: Cli, tmp_path: Path, flag: str | None
) -> None:
    policy = _write(tmp_path, "gate.rego", MISSED)
    args = [policy, flag, "/dev/zero"] if flag else ["/dev/zero"]
    code, _out, err = sqlite_cli("policy", "check", *args)
    assert code == 1 and err.startswith("pilothouse: error: /dev/zero: over ")
    assert len(err.splitlines()) == 1


def test_a_missing_checkout_is_an_error_not_an_empty_document(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-checkout"
    for command in ("input", "check"):
        args = [] if command == "input" else [str(EXAMPLES / "workflows.rego")]
        code, out, err = sqlite_cli(
            "policy", command, *args, "--input", "workflows", "--path", str(missing)
        )
        assert (code, out) == (1, "")
        assert err == f"pilothouse: error: {missing}: not a directory (--path is the checkout)\n"


def test_the_docs_scorecard_example_passes_a_store_without_data(sqlite_cli: Cli) -> None:
    assert sqlite_cli("db", "upgrade")[0] == 0
    code, out, err = sqlite_cli("policy", "check", str(EXAMPLES / "scorecard.rego"))
    assert code == 0, out + err  # no test time is not a test time over 40 minutes
    assert out.startswith("0 failures, 0 warnings")
