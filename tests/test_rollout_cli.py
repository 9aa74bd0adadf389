"""`pilothouse rollout`: the commands, their exit codes and their errors."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

from .conftest import Cli
from .rollout_kit import PLAN, calls, hook_env, write_kit

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "rollout.toml"
V = "1.2.4"


def test_the_documented_example_dry_runs(sqlite_cli: Cli, tmp_path: Path) -> None:
    code, out, err = sqlite_cli("rollout", "start", str(EXAMPLE), "--version", "1.4.0", "--dry-run")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "rollout checkout 1.4.0: 3 waves, 5 targets, rollback_scope = all"
    assert "  set weight eu-west-1 at 5%: ./scripts/set-weight.sh eu-west-1 5" in lines
    assert "  gate: wait for `pilothouse rollout promote`" in lines
    assert (
        "  analyze eu-west-1 at 25%: judge canary.toml on http://127.0.0.1:9090, last 10m" in lines
    )
    assert (
        "  promote us-west-2: kubectl --context=us-west-2 -n shop set image deployment/checkout "
        "app=registry.example.com/checkout:1.4.0"
    ) in lines
    assert sum(line.startswith("  ") for line in lines) == 50
    assert "expected duration: 1h 12m of soak time (hooks and analysis add to it)" in lines
    assert not (tmp_path / "store.db").exists()  # a dry run touches no store
    readme = (ROOT / "README.md").read_text()
    docs = (ROOT / "docs" / "rollout.md").read_text()
    command = "pilothouse rollout start docs/examples/rollout.toml --version 1.4.0 --dry-run"
    assert command in readme and command in docs


def test_a_judge_config_is_read_before_anything_runs(sqlite_cli: Cli, tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(EXAMPLE.read_text())
    code, _, err = sqlite_cli("rollout", "start", str(plan), "--version", "1", "--dry-run")
    assert code == 1 and "canary.toml: cannot read the canary config" in err
    (tmp_path / "canary.toml").write_text(
        '[judge]\npass = 95\nmarginal = 75\n[[metric]]\nname = "x"\n'
    )
    code, _, err = sqlite_cli("rollout", "start", str(plan), "--version", "1")
    assert code == 1 and "metric 'x': no query for Prometheus" in err
    assert not (tmp_path / "store.db").exists()


def test_start_status_history_on_both_stores(cli: Cli, tmp_path: Path) -> None:
    plan = write_kit(tmp_path / "kit")
    cli.env.update(hook_env(tmp_path / "kit"))
    code, out, err = cli("rollout", "start", str(plan), "--version", V)
    assert code == 0, err
    assert out.splitlines()[0] == "rollout 1: shop 1.2.4" and out.endswith("rollout 1: promoted\n")
    assert len(calls(tmp_path / "kit")) == 14
    code, out, _ = cli("rollout", "status")
    assert code == 0 and out.startswith("rollout 1: shop 1.2.4: promoted\n")
    assert "   1  2026-11-27 12:00:00  deploy     staging 0%" not in out  # a deploy has no weight
    assert "   1  2026-11-27 12:00:00  deploy     staging\n" in out
    assert "  15  2026-11-27 12:00:00  finish       promoted\n" in out
    status = cli.json("rollout", "status", "--id", "1")
    assert status["status"] == "promoted" and len(status["transitions"]) == 16
    assert status["transitions"][2] == {
        "seq": 2,
        "kind": "set_weight",
        "wave": 0,
        "target": "staging",
        "weight": 50,
        "detail": "",
        "at": "2026-11-27T12:00:00+00:00",
    }
    cli.env["FAIL_ON"] = "deploy staging"
    code, out, err = cli("rollout", "start", str(plan), "--version", "1.2.5")
    assert code == 1
    assert err == (
        "pilothouse: error: rollout 2 rolled back: deploy staging: ./hook.sh: exit 3: "
        "deploy failed on staging\n"
    )
    history = cli.json("rollout", "history")["rollouts"]
    assert [(h["id"], h["version"], h["status"]) for h in history] == [
        (2, "1.2.5", "rolled back"),
        (1, V, "promoted"),
    ]
    code, out, _ = cli("rollout", "history", "--limit", "1")
    assert out == (
        "   2  2026-11-27T12:00:00  shop 1.2.5: rolled back  deploy staging: ./hook.sh: exit 3: "
        "deploy failed on staging\n"
    )


def test_pause_promote_and_abort_by_cli(sqlite_cli: Cli, tmp_path: Path) -> None:
    plan = write_kit(tmp_path / "kit", PLAN.replace("max_parallel = 1", "max_parallel = 0"))
    sqlite_cli.env.update(hook_env(tmp_path / "kit"))
    code, out, _ = sqlite_cli("rollout", "start", str(plan), "--version", V)
    assert code == 4 and out.endswith("paused: manual gate before wave prod\n")
    code, _, err = sqlite_cli("rollout", "start", str(plan), "--version", "1.2.5")
    assert code == 1 and "rollout 1 of shop has not finished" in err
    code, out, _ = sqlite_cli("rollout", "resume")
    assert code == 4 and len(calls(tmp_path / "kit")) == 6  # resume does not pass a gate
    status = sqlite_cli.json("rollout", "status")
    assert (status["status"], status["reason"]) == ("paused", "manual gate before wave prod")
    code, out, _ = sqlite_cli("rollout", "status")
    assert out.startswith("rollout 1: shop 1.2.4: paused (manual gate before wave prod)\n")
    code, out, err = sqlite_cli("rollout", "promote")
    assert code == 0 and out.endswith("rollout 1: promoted\n"), err
    code, _, err = sqlite_cli("rollout", "promote")
    assert code == 1 and "rollout 1 is promoted, not paused" in err, err
    code, _, err = sqlite_cli("rollout", "abort")
    assert code == 1 and "rollout 1 has finished (promoted)" in err
    code, out, _ = sqlite_cli("rollout", "start", str(plan), "--version", "1.2.5")
    assert code == 4
    code, out, err = sqlite_cli("rollout", "abort", "--reason", "latency on the dashboard")
    assert code == 1 and "aborted: latency on the dashboard" in out
    assert err == "pilothouse: error: rollout 2 rolled back: aborted: latency on the dashboard\n"
    assert calls(tmp_path / "kit")[-1] == "rollback staging 0 1.2.5"  # the last wave that ran


@pytest.mark.parametrize("command", ["status", "history", "resume", "promote", "abort"])
def test_without_a_store(sqlite_cli: Cli, tmp_path: Path, command: str) -> None:
    code, _, err = sqlite_cli("rollout", command)
    assert code == 1 and err.startswith("pilothouse: error:")
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "store.db").exists()  # nothing to read or drive: nothing created
    if command in ("resume", "promote", "abort"):
        assert err.endswith(" has no rollout: pilothouse rollout start PLAN --version V\n")


def test_an_endless_plan_is_refused(sqlite_cli: Cli, tmp_path: Path) -> None:
    code, _, err = sqlite_cli("rollout", "start", "/dev/zero", "--version", V)
    assert (code, err) == (
        1,
        "pilothouse: error: /dev/zero: over 1 MiB is not a rollout plan (at most 1 MiB)\n",
    )
    assert not (tmp_path / "store.db").exists()


def test_unknown_rollout_and_bad_plans(sqlite_cli: Cli, tmp_path: Path) -> None:
    assert sqlite_cli("db", "upgrade")[0] == 0
    code, _, err = sqlite_cli("rollout", "status", "--id", "7")
    assert code == 1 and "has no rollout 7" in err
    code, out, _ = sqlite_cli("rollout", "history")
    assert code == 0 and out == "no rollouts yet: pilothouse rollout start PLAN --version V\n"
    bad = tmp_path / "bad.toml"
    bad.write_text("<html>502 Bad Gateway</html>")
    code, _, err = sqlite_cli("rollout", "start", str(bad), "--version", V)
    assert code == 1 and err.startswith(f"pilothouse: error: {bad}: not valid TOML")
    code, _, err = sqlite_cli("rollout", "start", str(bad))
    assert code == 2 and "--version" in err


def test_a_hook_that_cannot_run(sqlite_cli: Cli, tmp_path: Path) -> None:
    plan = write_kit(tmp_path / "kit")
    shutil.copy(plan, tmp_path / "plan.toml")  # the hooks are relative to the plan: not here
    code, _, err = sqlite_cli("rollout", "start", str(tmp_path / "plan.toml"), "--version", V)
    assert code == 1
    assert "rollback incomplete: deploy staging: ./hook.sh: cannot run: No such file" in err


def test_the_readme_recipe_runs_as_pasted(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Staged rollouts") : readme.index("## Settings")]
    block = section[section.index("```console\n") : section.index("\n```\n")]
    commands = [line[2:] for line in block.splitlines() if line.startswith("$ ")]
    shutil.copytree(ROOT / "docs" / "examples", tmp_path / "docs" / "examples")
    cli = Cli(cwd=tmp_path, db=f"sqlite:///{tmp_path / 'store.db'}", env=hook_env(tmp_path))
    codes = []
    outputs = []
    for command in commands:
        assert command.startswith("pilothouse ")
        code, out, err = cli(*shlex.split(command)[1:])
        codes.append(code)
        outputs.append(out + err)
    assert codes == [0, 4, 0, 4, 1, 0, 0]
    for shown in ("rollout 1: promoted", "rollout 2: rolled back", "abort        aborted: p99"):
        assert any(shown in out for out in outputs), shown
    assert outputs[-1].splitlines()[1].endswith("echo 1.4.0: promoted")


def test_the_plan_reference_in_the_docs_is_a_valid_plan() -> None:
    from pilothouse.delivery.rollout.plan import parse_plan

    docs = (ROOT / "docs" / "rollout.md").read_text()
    section = docs[docs.index("## The plan") :]
    text = section[section.index("```toml\n") + 8 : section.index("\n```\n")]
    plan = parse_plan(text, source="docs/rollout.md", directory=ROOT)
    (wave,) = plan.waves
    assert plan.rollback_scope == "all" and wave.steps == (5, 25, 50, 100)
    assert wave.hooks["promote"].argv[-2] == "--staging" and wave.hooks["health"].timeout == 60
