"""The README's GitHub Actions sharding recipe, parsed as YAML and run as written.

A small runner plays GitHub's part: each job starts in an empty directory, the
actions the recipe uses (checkout, cache, artifacts) copy files, every `run:`
step runs its commands literally under bash with the expressions filled in.
The workflow runs twice on a generated package: the first run on no history
(split by count), the second from the history the first one stored.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .consumers import check_github_matrix
from .test_shard_pytest import QUIET, make_suite, ran

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BIN = Path(sys.executable).parent


def recipe() -> dict[str, Any]:
    section = README[README.index("Sharding a pytest suite in GitHub Actions") :]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block, "the sharding section has a YAML workflow"
    workflow = yaml.safe_load(block.group(1))
    assert isinstance(workflow, dict)
    return workflow


@dataclass
class Runner:
    """Just enough of GitHub Actions for the recipe: jobs, matrix, outputs, cache, artifacts."""

    checkout: Path
    work: Path
    secrets: dict[str, str]
    run_id: int = 0
    caches: dict[str, Path] = field(default_factory=dict)
    artifacts: dict[str, Path] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def context(self, extra: dict[str, str]) -> dict[str, str]:
        return {
            "github.ref_name": "feature",
            "github.event.repository.default_branch": "main",
            "github.run_id": str(self.run_id),
            "github.run_attempt": "1",
            **{f"secrets.{k}": v for k, v in self.secrets.items()},
            **extra,
        }

    def expand(self, text: str, context: dict[str, str]) -> str:
        def value(match: re.Match[str]) -> str:
            expression = match.group(1).strip()
            if expression in ("!cancelled()", "always()"):
                return "true"
            assert expression in context, f"the recipe uses {expression!r}"
            return context[expression]

        return re.sub(r"\$\{\{(.*?)\}\}", value, text)

    def workflow(self, workflow: dict[str, Any]) -> None:
        self.run_id += 1
        self.artifacts = {}
        env = workflow.get("env", {})
        plan = self.job("plan", workflow["jobs"]["plan"], env, {})
        matrix_expression = workflow["jobs"]["test"]["strategy"]["matrix"]
        assert matrix_expression == "${{ fromJSON(needs.plan.outputs.matrix) }}"
        jobs = check_github_matrix(json.loads(plan["matrix"]))
        for entry in jobs:
            matrix = {f"matrix.{k}": str(v) for k, v in entry.items()}
            self.job(f"test-{entry['shard']}", workflow["jobs"]["test"], env, matrix)
        self.job("store", workflow["jobs"]["store"], env, {})

    def job(
        self, name: str, job: dict[str, Any], env: dict[str, str], extra: dict[str, str]
    ) -> dict[str, str]:
        where = self.work / f"run{self.run_id}-{name}"
        where.mkdir()
        context = self.context(extra)
        outputs: dict[str, str] = {}
        for step in job["steps"]:
            if "if" in step:
                assert self.expand(str(step["if"]), context) == "true"
            if "uses" in step:
                self.action(step["uses"], step.get("with", {}), where, context)
                continue
            command = step["run"]
            if command.startswith("pip install"):
                continue  # pilothouse and pytest are installed here already
            found = self.shell(self.expand(command, context), where, env, context)
            for key, value in found.items():
                context[f"steps.{step.get('id')}.outputs.{key}"] = value
        for key, expression in job.get("outputs", {}).items():
            outputs[key] = self.expand(expression, context)
        return outputs

    def shell(
        self, command: str, where: Path, env: dict[str, str], context: dict[str, str]
    ) -> dict[str, str]:
        output = where / ".github_output"
        output.write_text("")
        environment = {
            **os.environ,
            **{k: self.expand(str(v), context) for k, v in env.items()},
            "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            "GITHUB_OUTPUT": str(output),
            "PYTEST_ADDOPTS": " ".join(QUIET),
        }
        done = subprocess.run(
            ["bash", "-e", "-c", command], cwd=where, env=environment,
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        self.log.append(done.stderr)
        return dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)

    def action(
        self, uses: str, options: dict[str, Any], where: Path, context: dict[str, str]
    ) -> None:
        action = uses.split("@")[0]
        options = {k: self.expand(str(v), context) for k, v in options.items()}
        if action == "actions/checkout":
            shutil.copytree(self.checkout, where, dirs_exist_ok=True)
        elif action == "actions/cache/restore":
            keys = [options["key"], *options.get("restore-keys", "").splitlines()]
            for key in keys:  # exact key, then the newest cache whose key starts with a prefix
                hits = sorted(k for k in self.caches if k == key or k.startswith(key))
                if hits:
                    shutil.copytree(self.caches[hits[-1]], where / options["path"])
                    break
        elif action == "actions/cache/save":
            if (where / options["path"]).exists():
                assert options["key"] not in self.caches, "a cache key is written once"
                saved = self.work / f"cache-{len(self.caches)}"
                shutil.copytree(where / options["path"], saved)
                self.caches[options["key"]] = saved
        elif action == "actions/upload-artifact":
            store = self.work / f"artifact-{self.run_id}-{options['name']}"
            store.mkdir()
            for path in options["path"].split():
                shutil.copy(where / path, store / path)
            self.artifacts[options["name"]] = store
        elif action == "actions/download-artifact":
            target = where / options.get("path", ".")
            for name, store in self.artifacts.items():
                if name == options.get("name") or fnmatch.fnmatch(name, options.get("pattern", "")):
                    shutil.copytree(store, target, dirs_exist_ok=True)
        else:
            assert action == "actions/setup-python", f"the runner does not know {uses}"


def test_the_recipe_has_the_shape_github_expects() -> None:
    workflow = recipe()
    assert set(workflow["jobs"]) == {"plan", "test", "store"}
    assert workflow["jobs"]["test"]["needs"] == "plan"
    assert workflow["env"]["PILOTHOUSE_DB"] == "${{ secrets.PILOTHOUSE_DB }}"
    caches = [s for job in workflow["jobs"].values() for s in job["steps"]
              if s.get("uses", "").startswith("actions/cache")]  # fmt: skip
    restore = [s["with"] for s in caches if "restore" in s["uses"]]
    save = [s["with"] for s in caches if "save" in s["uses"]]
    assert len(save) == 1 and all(r["key"] == save[0]["key"] for r in restore)
    assert "${{ github.ref_name }}" in save[0]["key"]
    for options in restore:
        prefixes = options["restore-keys"].splitlines()
        assert prefixes == [
            "pilothouse-${{ github.ref_name }}-",
            "pilothouse-${{ github.event.repository.default_branch }}-",
        ]


def test_the_recipe_runs_as_written(tmp_path: Path, store_url: str) -> None:
    checkout = tmp_path / "repo"
    make_suite(checkout)
    work = tmp_path / "runner"
    work.mkdir()
    secret = "" if store_url.startswith("sqlite") else store_url
    runner = Runner(checkout=checkout, work=work, secrets={"PILOTHOUSE_DB": secret})
    for run in (1, 2):
        runner.workflow(recipe())
        reports = sorted(work.glob(f"run{run}-test-*/report-*.xml"))
        executed = [test for report in reports for test in ran(report)]
        assert len(reports) == 4
        assert len(executed) == len(set(executed)) == 19, f"run {run}"
    first, second = "".join(runner.log[:3]), "".join(runner.log[-8:])
    assert "no timing history: 19 tests split by count" in first
    assert "no timing history" not in second
    if secret:
        assert not runner.caches  # PostgreSQL keeps the history; nothing to cache
    else:
        assert len(runner.caches) == 2  # one per run, keyed by branch and run
