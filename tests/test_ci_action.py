"""The GitHub Action (action.yml, action/run.sh) and the example workflows under
docs/workflows: actionlint passes on them in the layout docs/ci.md tells users to make,
they follow the hygiene `doctor` checks, and the action's command step, run by bash
with the real `pilothouse` CLI, writes a `matrix` that fits `strategy.matrix` and
shard test lists that cover every test once."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"
RUN_SH = ROOT / "action" / "run.sh"
WORKFLOWS = sorted((ROOT / "docs" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def _actionlint() -> str:
    found = shutil.which("actionlint", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    assert found, "actionlint is missing: it comes with the dev extra (make .venv/.dev)"
    return found


def _layout(tmp_path: Path) -> Path:
    """A repository as docs/ci.md lays it out: the workflows, and pilothouse's action at
    .github/actions/pilothouse (a submodule there)."""
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    action = repo / ".github" / "actions" / "pilothouse"
    action.mkdir(parents=True)
    shutil.copy(ACTION, action / "action.yml")
    shutil.copytree(RUN_SH.parent, action / "action")
    for workflow in WORKFLOWS:
        shutil.copy(workflow, repo / ".github" / "workflows" / workflow.name)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


def _lint(repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_actionlint(), "-no-color"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )


def test_there_are_rust_and_python_examples() -> None:
    assert [w.name for w in WORKFLOWS] == ["python.yml", "rust.yml"]


def test_actionlint_passes_on_the_examples_and_the_action_inputs(tmp_path: Path) -> None:
    repo = _layout(tmp_path)
    result = _lint(repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_actionlint_would_catch_a_wrong_action_input(tmp_path: Path) -> None:
    """The check is live: a misspelt input of the action fails it, naming file and line."""
    repo = _layout(tmp_path)
    rust = repo / ".github" / "workflows" / "rust.yml"
    rust.write_text(rust.read_text().replace("shard-format:", "shard-fromat:"))
    result = _lint(repo)
    assert result.returncode == 1
    assert re.search(r"rust\.yml:\d+:\d+: input \"shard-fromat\" is not defined", result.stdout)


# -- hygiene (what `doctor --offline` checks) ---------------------------------------------------


def _load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def _steps(data: dict[Any, Any]) -> list[dict[str, Any]]:
    if "runs" in data:
        return list(data["runs"]["steps"])
    return [step for job in data["jobs"].values() for step in job.get("steps", [])]


def _uses_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if re.match(r"\s*(- )?uses: ", line)]


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda p: p.name)
def test_remote_actions_are_pinned_to_a_commit_with_its_version(path: Path) -> None:
    lines = _uses_lines(path)
    assert lines
    for line in lines:
        ref = line.split("uses:", 1)[1].split("#", 1)[0].strip()
        if ref.startswith("./"):
            continue  # a local action: the checkout's own files
        assert PINNED.match(ref), line
        assert re.search(r"# v\d+\.\d+\.\d+$", line), f"no version comment: {line}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_declare_permissions_and_timeouts(path: Path) -> None:
    data = _load(path)
    assert data["permissions"] == {"contents": "read"}
    for name, job in data["jobs"].items():
        assert isinstance(job.get("timeout-minutes"), int), name
        assert job.get("permissions", {}).get("contents", "read") == "read", name


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda p: p.name)
def test_no_cache_key_that_can_never_hit_a_restore(path: Path) -> None:
    for step in _steps(_load(path)):
        if "actions/cache" in str(step.get("uses", "")):
            key = str(step["with"]["key"])
            assert "github.sha" not in key
            if "run_id" in key:  # a store saved anew each run: restored by its prefix
                assert step["with"].get("restore-keys") or "save" in step["uses"]


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda p: p.name)
def test_no_expression_is_pasted_into_a_script(path: Path) -> None:
    """Values reach `run:` scripts through env, never as `${{ }}` text (script injection)."""
    for step in _steps(_load(path)):
        assert "${{" not in str(step.get("run", "")), step


def test_the_action_is_composite_and_says_its_inputs_and_outputs() -> None:
    data = _load(ACTION)
    assert data["runs"]["using"] == "composite"
    assert set(data["outputs"]) == {"matrix", "tests", "output"}
    assert data["inputs"]["command"]["required"] is True
    used = set(re.findall(r"inputs\.([\w-]+)", ACTION.read_text()))
    assert used == set(data["inputs"]), "every input is used, and only declared ones"
    for step in data["runs"]["steps"]:
        if "run" in step:
            assert step["shell"] == "bash"


# -- the command step, run by bash with the real CLI ----------------------------------------------

TESTS = [f"tests/test_{m}.py::test_{n}" for m in "abc" for n in range(4)]
DURATIONS = {test: float(1 + (i * 7) % 11) for i, test in enumerate(TESTS)}


def _step(
    tmp_path: Path, command: str, **env: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run action/run.sh as the action's `run` step does; its outputs as a dict."""
    outputs = tmp_path / f"output-{len(list(tmp_path.glob('output-*')))}"
    outputs.touch()
    full = {
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_ACTION": "pilothouse",
        "RUNNER_TEMP": str(tmp_path / "runner-temp"),
        "PILOTHOUSE_DB": f"sqlite:///{tmp_path / 'store.db'}",
        "PILOTHOUSE_COMMAND": command,
        **env,
    }
    (tmp_path / "runner-temp").mkdir(exist_ok=True)
    result = subprocess.run(
        ["bash", str(RUN_SH)], cwd=tmp_path, env=full, capture_output=True, text=True, check=False
    )
    written = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    return result, written


def _fits_strategy_matrix(matrix: Any) -> int:
    """The jobs a strategy.matrix value makes, after checking GitHub's rules for it: a
    mapping; `include`/`exclude` lists of mappings of scalars; any other key a non-empty
    list; at most 256 jobs."""
    assert isinstance(matrix, dict) and matrix
    jobs = 1
    for key, value in matrix.items():
        assert isinstance(value, list), key
        if key in ("include", "exclude"):
            assert all(isinstance(entry, dict) and entry for entry in value)
            assert all(isinstance(v, str | int | float | bool) for e in value for v in e.values())
        else:
            assert value, f"{key}: an empty list makes no job"
            jobs *= len(value)
    if set(matrix) <= {"include", "exclude"}:
        jobs = len(matrix.get("include", []))
    assert 0 < jobs <= 256
    return jobs


@pytest.fixture
def planned(tmp_path: Path) -> Path:
    (tmp_path / "tests.txt").write_text("\n".join(TESTS) + "\n")
    (tmp_path / "durations.json").write_text(json.dumps(DURATIONS))
    return tmp_path


def test_shard_writes_a_matrix_and_each_shard_its_tests(planned: Path) -> None:
    command = "shard --tests tests.txt --durations durations.json --shards 3"
    result, outputs = _step(planned, command)
    assert result.returncode == 0, result.stderr
    matrix = json.loads(outputs["matrix"])
    assert _fits_strategy_matrix(matrix) == 3
    assert Path(outputs["output"]).read_text().strip() == outputs["matrix"]

    seen: list[str] = []
    for entry in matrix["include"]:
        shard = f"{entry['shard']}/{entry['shards']}"
        result, shard_outputs = _step(planned, command.replace("3", str(entry["shards"])),
                                      PILOTHOUSE_SHARD=shard)  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "matrix" not in shard_outputs
        seen += Path(shard_outputs["tests"]).read_text().split()
    assert sorted(seen) == sorted(TESTS)  # every test in exactly one shard

    # balanced by the durations: no shard over the lower bound plus the longest test
    loads = []
    for index in (1, 2, 3):
        listed = Path(_step(planned, command, PILOTHOUSE_SHARD=f"{index}/3")[1]["tests"])
        loads.append(sum(DURATIONS[test] for test in listed.read_text().split()))
    assert max(loads) <= sum(DURATIONS.values()) / 3 + max(DURATIONS.values())


def test_a_nextest_shard_is_a_filterset(planned: Path) -> None:
    result, outputs = _step(planned, "shard --tests tests.txt --shards 2",
                            PILOTHOUSE_SHARD="1/2", PILOTHOUSE_SHARD_FORMAT="nextest")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert Path(outputs["tests"]).read_text().startswith("test(=tests/test_")


def test_a_shard_command_with_its_own_format_passes_through(planned: Path) -> None:
    result, outputs = _step(planned, "shard --tests tests.txt --durations durations.json "
                            "--format test-durations")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "matrix" not in outputs
    assert set(json.loads(Path(outputs["output"]).read_text())) == set(TESTS)


def test_score_summary_goes_to_the_step_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    result, outputs = _step(tmp_path, "score --check --summary",
                            GITHUB_STEP_SUMMARY=str(summary))  # fmt: skip
    assert result.returncode == 0, result.stderr  # a new store: no data, nothing missed
    assert summary.read_text().startswith("### Scorecard, last 14 days")
    assert "Scorecard, last 14 days" in Path(outputs["output"]).read_text()


def test_flaky_quarantine_on_a_first_run_is_empty_not_an_error(tmp_path: Path) -> None:
    result, outputs = _step(tmp_path, "flaky quarantine --format pytest")
    assert result.returncode == 0, result.stderr
    assert Path(outputs["output"]).read_text() == ""


def test_the_command_exit_code_is_the_step_s(tmp_path: Path) -> None:
    result, _outputs = _step(tmp_path, "tests --window 0")
    assert result.returncode == 2 and "--window" in result.stderr
    result, _outputs = _step(tmp_path, "   ")
    assert result.returncode == 2 and "command input is empty" in result.stderr


def test_words_are_not_globbed_or_evaluated(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_text("<testsuite/>")
    marker = tmp_path / "pwned"
    result, _outputs = _step(tmp_path, f"ingest junit *.nothing $(touch {marker})")
    assert result.returncode != 0
    assert not marker.exists()
