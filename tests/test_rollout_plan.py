"""Rollout plans: parsing, validation, and the errors a user sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from pilothouse.delivery.rollout.plan import Hook, load_plan, parse_plan
from pilothouse.errors import ConfigError

HEAD = """
[rollout]
name = "checkout"
[hooks]
deploy = ["./hooks/deploy", "{target}", "{version}"]
set_weight = ["./hooks/weight", "{target}", "{weight}"]
promote = ["./hooks/promote", "{target}"]
rollback = ["./hooks/rollback", "{target}"]
"""
WAVE = """
[[wave]]
name = "staging"
targets = ["staging"]
"""


def parse(text: str) -> object:
    return parse_plan(text, source="plan.toml", directory=Path("/plans"))


def test_a_full_plan() -> None:
    plan = parse_plan(
        HEAD.replace(
            'name = "checkout"', 'name = "checkout"\nrollback_scope = "all"\nhook_timeout = 30'
        )
        + """
health = { argv = ["./hooks/health", "{target}"], timeout = 5 }
[analysis]
prometheus = "http://127.0.0.1:9090"
judge = "canary.toml"
step = 15
baseline = 'track="stable",region="{target}"'
canary = 'track="canary",region="{target}"'
[[wave]]
name = "staging"
targets = ["staging"]
steps = [50, 100]
soak = 60
analysis = false
[[wave]]
name = "prod"
targets = ["eu-west-1", "us-east-1", "ap-south-1"]
max_parallel = 2
steps = [5, 25, 100]
soak = 600
analysis = { lookback = 300, pass = 90, marginal = 60 }
[wave.hooks]
promote = ["./hooks/promote-prod", "{target}", "{version}"]
""",
        source="plan.toml",
        directory=Path("/plans"),
    )
    assert plan.name == "checkout" and plan.rollback_scope == "all"
    staging, prod = plan.waves
    assert staging.analysis is None and staging.steps == (50, 100) and staging.soak == 60
    assert staging.hooks["deploy"] == Hook(("./hooks/deploy", "{target}", "{version}"), 30.0)
    assert staging.hooks["health"].timeout == 5
    assert prod.batches() == [("eu-west-1", "us-east-1"), ("ap-south-1",)]
    assert prod.hooks["promote"].argv[0] == "./hooks/promote-prod"
    assert prod.analysis is not None
    assert prod.analysis.judge == Path("/plans/canary.toml") and prod.analysis.lookback == 300
    assert prod.analysis.step == 15
    assert (prod.analysis.pass_score, prod.analysis.marginal_score) == (90.0, 60.0)
    assert prod.analysis.scopes("eu-west-1") == {
        "baseline": 'track="stable",region="eu-west-1"',
        "canary": 'track="canary",region="eu-west-1"',
    }
    assert plan.wave_of("ap-south-1") == 1


def test_defaults_and_placeholders() -> None:
    plan = parse_plan(HEAD + WAVE, source="p", directory=Path("."))
    (wave,) = plan.waves
    assert plan.rollback_scope == "wave" and wave.steps == (100,) and wave.max_parallel == 1
    assert wave.analysis is None and not wave.gated
    hook = Hook(("x", "--to={target}@{version}", "{weight}%", '{"json": 1}'), 1)
    assert hook.command(target="eu", version="1.0", weight=5) == [
        "x",
        "--to=eu@1.0",
        "5%",
        '{"json": 1}',
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[rollout\n", "plan.toml: not valid TOML"),
        (WAVE, "plan.toml: needs a [rollout] table"),
        (HEAD, "plan.toml: needs at least one [[wave]] table"),
        (HEAD + WAVE + "[extra]\n", "plan.toml: unknown key 'extra'"),
        (HEAD.replace("[hooks]", "[hook]") + WAVE, "unknown key 'hook' (did you mean 'hooks'?)"),
        (HEAD + WAVE.replace("targets", "target"), "(did you mean 'targets'?)"),
        (
            HEAD.replace('"checkout"', '"checkout"\nrollback_scope = "region"') + WAVE,
            "[rollout]: rollback_scope must be wave or all, not 'region'",
        ),  # fmt: skip
        (HEAD + WAVE + "steps = [50, 25]\n", "(staging): steps must be rising traffic weights"),
        (HEAD + WAVE + "steps = [0, 100]\n", "steps must be rising"),
        (HEAD + WAVE + "steps = [150]\n", "steps must be rising"),
        (HEAD + WAVE + "max_parallel = -1\n", "max_parallel must be a whole number"),
        (HEAD + WAVE + "soak = -5\n", "soak must be 0 or more seconds"),
        (HEAD + WAVE + 'soak = "10m"\n', "soak must be a number of seconds"),
        (HEAD + WAVE.replace('["staging"]', "[]"), "targets must be a list of target names"),
        (HEAD + WAVE.replace('["staging"]', '["a b"]'), "targets must be a list"),
        (
            HEAD + WAVE + WAVE.replace('"staging"\n', '"again"\n', 1),
            "target 'staging' is in waves 'staging' and 'again'",
        ),  # fmt: skip
        (
            HEAD.replace('rollback = ["./hooks/rollback", "{target}"]\n', "") + WAVE,
            "no rollback hook",
        ),  # fmt: skip
        (HEAD.replace('"{version}"]', '"{versoin}"]') + WAVE, "unknown placeholder {versoin}"),
        (
            HEAD.replace('["./hooks/promote", "{target}"]', '"./hooks/promote {target}"') + WAVE,
            "[hooks]: promote must be an argv list of strings",
        ),  # fmt: skip
        (HEAD.replace('["./hooks/promote", "{target}"]', '[""]') + WAVE, "the program"),
        (HEAD + '[analysis]\njudge = "c.toml"\n' + WAVE, "needs judge"),
        (
            HEAD + '[analysis]\njudge = "c.toml"\nprometheus = "localhost:9090"\n' + WAVE,
            "prometheus must be an http(s) URL",
        ),  # fmt: skip
        (
            HEAD + '[analysis]\njudge = "c.toml"\nprometheus = "http://p:9090"\n' + WAVE,
            "the analysis needs a window",
        ),  # fmt: skip
        (HEAD + WAVE + 'analysis = "yes"\n', "analysis must be true, false or a table"),
        (
            HEAD
            + '[analysis]\njudge = "c.toml"\nprometheus = "http://p"\nlookback = 9\npass = 101\n'
            + WAVE,
            "[analysis]: pass must be a score from 0 to 100, not 101",
        ),  # fmt: skip
        (
            HEAD
            + '[analysis]\njudge = "c.toml"\nprometheus = "http://p"\nlookback = 9\npass = 50\n'
            + WAVE
            + "analysis = { marginal = 60 }\n",
            "(staging) analysis: marginal (60) must not be above pass (50)",
        ),  # fmt: skip
        (
            HEAD
            + WAVE.replace('["staging"]', str([f"t{i}" for i in range(1001)]).replace("'", '"')),
            "1001 targets: at most 1000 in one plan",
        ),  # fmt: skip
    ],
)
def test_errors_name_the_file_and_the_fault(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse(text)
    assert message in str(raised.value)
    assert str(raised.value).startswith("plan.toml: ")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\x00garbage", "not UTF-8 text"),
        (b"<html><body>Not Found</body></html>", "not valid TOML"),
        (b"#" * (2 << 20), "is not a rollout plan (at most 1 MiB)"),
    ],
)
def test_hostile_files_are_refused_in_one_line(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "plan.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match="plan.toml") as raised:
        load_plan(path)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the rollout plan"):
        load_plan(tmp_path / "nope.toml")
