"""`pilothouse canary judge` end to end: the README's example files, Prometheus on
loopback, exit codes, JSON, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pilothouse.delivery.canary.sources import render_query
from tests.conftest import Cli
from tests.prometheus_fake import FakePrometheus

EXAMPLES = Path(__file__).parent.parent / "docs" / "examples"


@pytest.fixture
def canary_cli(tmp_path: Path) -> Cli:
    shutil.copytree(EXAMPLES, tmp_path / "docs" / "examples")
    return Cli(cwd=tmp_path, db=f"sqlite:///{tmp_path / 'store.db'}")


def test_the_readme_example_passes(canary_cli: Cli) -> None:
    code, out, err = canary_cli(
        "canary",
        "judge",
        "--config",
        "docs/examples/canary.toml",
        "--data",
        "docs/examples/canary-good.csv",
    )
    assert code == 0, err
    assert "score 100.00: PASS" in out
    for metric in ("http_5xx", "success_rate", "latency_p99_ms", "cpu_seconds"):
        assert metric in out
    assert not (canary_cli.cwd / "store.db").exists()  # the judge never opens a store


def test_the_bad_example_fails_with_exit_5_and_says_why(canary_cli: Cli) -> None:
    code, out, _ = canary_cli(
        "canary",
        "judge",
        "--config",
        "docs/examples/canary.toml",
        "--data",
        "docs/examples/canary-bad.csv",
        "--json",
    )
    assert code == 5
    doc = json.loads(out)
    assert doc["classification"] == "fail" and doc["score"] == 0.0
    errors = next(m for m in doc["metrics"] if m["name"] == "http_5xx")
    assert errors["classification"] == "high" and errors["critical"]
    assert errors["p_value"] < 0.001 and "Poisson" in errors["reason"]
    assert set(doc["groups"]) == {"errors", "latency", "saturation"}


def test_kayenta_alone_misses_the_error_burst(canary_cli: Cli) -> None:
    code, out, _ = canary_cli(
        "canary",
        "judge",
        "--config",
        "docs/examples/canary.toml",
        "--data",
        "docs/examples/canary-bad.csv",
        "--kayenta-only",
        "--json",
    )
    doc = json.loads(out)
    errors = next(m for m in doc["metrics"] if m["name"] == "http_5xx")
    assert errors["classification"] == "pass" and errors["test"] == "mann-whitney"
    assert doc["score"] == 70.0 and code == 5


def _config(tmp_path: Path, body: str) -> str:
    (tmp_path / "c.toml").write_text(body)
    return "c.toml"


def _data(tmp_path: Path, rows: list[tuple[str, str, int, float]]) -> str:
    lines = ["metric,scope,timestamp,value"] + [f"{m},{s},{t},{v}" for m, s, t, v in rows]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    return "d.csv"


def test_a_marginal_score_exits_4(tmp_path: Path) -> None:
    cli = Cli(cwd=tmp_path, db="sqlite:///unused.db")
    config = _config(
        tmp_path,
        "[judge]\npass = 90\nmarginal = 70\n"
        + "".join(f'[[metric]]\nname = "m{i}"\n' for i in range(4)),
    )
    rows = []
    for i in range(4):
        for t in range(10):
            rows.append((f"m{i}", "baseline", t, 1.0 + t))
            rows.append((f"m{i}", "canary", t, (1.0 + t) * (10 if i == 0 else 1)))
    code, out, err = cli("canary", "judge", "--config", config, "--data", _data(tmp_path, rows))
    assert code == 4, err
    assert "score 75.00: MARGINAL" in out


def test_metrics_the_config_does_not_name_are_noted(tmp_path: Path) -> None:
    cli = Cli(cwd=tmp_path, db="sqlite:///unused.db")
    config = _config(tmp_path, '[[metric]]\nname = "latency_ms"\n')
    data = _data(tmp_path, [("latency", "baseline", 1, 1.0), ("latency", "canary", 1, 1.0)])
    code, out, err = cli("canary", "judge", "--config", config, "--data", data)
    assert code == 5 and "no data for the canary and baseline" in out
    assert err == "pilothouse: note: not in the configuration, ignored: latency\n"


def test_the_judge_over_prometheus(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        """
        [scope]
        baseline = 'track="baseline"'
        canary = 'track="canary"'
        [[metric]]
        name = "errors"
        kind = "count"
        direction = "increase"
        query = 'sum(increase(errors_total{ {{ scope }} }[1m]))'
        """,
    )
    fake = FakePrometheus()
    query = "sum(increase(errors_total{ {{ scope }} }[1m]))"
    fake.add(render_query(query, 'track="baseline"'), ["0"] * 6)
    fake.add(render_query(query, 'track="canary"'), ["0", "1", "2", "1", "0", "0"])
    cli = Cli(cwd=tmp_path, db="sqlite:///unused.db")
    with fake.serve() as url:
        code, out, err = cli(
            "canary",
            "judge",
            "--config",
            config,
            "--prometheus",
            url,
            "--start",
            "2026-11-30T12:00:00Z",
            "--end",
            "2026-11-30T12:05:00Z",
            "--step",
            "1m",
            "--json",
        )
    assert code == 5, err
    (metric,) = json.loads(out)["metrics"]
    assert metric["classification"] == "high" and metric["test"] == "poisson-rate"
    assert fake.requests[0]["step"] == "60"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["--data", "d.csv", "--prometheus", "http://p"],
            2,
            "give one of --data FILE or --prometheus",
        ),
        ([], 2, "give one of --data FILE or --prometheus"),
        (["--prometheus", "http://p", "--start", "1"], 2, "needs --start, --end and --step"),
        (
            ["--prometheus", "ftp://p", "--start", "1", "--end", "2", "--step", "1"],
            2,
            "http(s) URL",
        ),
        (
            ["--prometheus", "http://p", "--start", "x", "--end", "2", "--step", "1"],
            2,
            "not an ISO 8601",
        ),
        (["--data", "d.csv", "--step", "1m"], 2, "go with --prometheus"),
        (["--data", "missing.csv"], 1, "missing.csv: cannot read the data file"),
    ],
)
def test_usage_and_input_errors(tmp_path: Path, args: list[str], code: int, message: str) -> None:
    cli = Cli(cwd=tmp_path, db="sqlite:///unused.db")
    config = _config(tmp_path, '[[metric]]\nname = "m"\n')
    _data(tmp_path, [("m", "baseline", 1, 1.0), ("m", "canary", 1, 1.0)])
    got, _, err = cli("canary", "judge", "--config", config, *args)
    assert got == code
    assert message in err


def test_a_bad_config_names_file_and_key(tmp_path: Path) -> None:
    cli = Cli(cwd=tmp_path, db="sqlite:///unused.db")
    config = _config(tmp_path, '[[metric]]\nname = "m"\ndirectoin = "increase"\n')
    code, _, err = cli("canary", "judge", "--config", config, "--data", "d.csv")
    assert code == 1
    assert err.strip() == (
        "pilothouse: error: c.toml: unknown key metric[0].'directoin' "
        "(did you mean metric[0].'direction'?)"
    ).replace("c.toml", str(tmp_path / "c.toml"))


def test_help_lists_the_judge() -> None:
    from pilothouse.cli.main import COMMANDS

    assert "canary" in COMMANDS


def test_the_readme_transcript_is_what_the_command_prints(canary_cli: Cli) -> None:
    readme = (EXAMPLES.parent.parent / "README.md").read_text()
    section = readme[readme.index("## Canary analysis") :]
    command = "$ pilothouse canary judge --config docs/examples/canary.toml --data docs/examples/"
    bad = section[section.index(command + "canary-bad.csv") :].split("\n")[1:]
    shown = "\n".join(bad[: bad.index("$ echo $?")])
    canary_cli.env["COLUMNS"] = "118"
    code, out, _ = canary_cli(
        "canary",
        "judge",
        "--config",
        "docs/examples/canary.toml",
        "--data",
        "docs/examples/canary-bad.csv",
    )
    assert code == 5
    assert out.rstrip("\n") == shown
    good = section[section.index(command + "canary-good.csv | tail -1") :].split("\n")[1]
    _, out, _ = canary_cli(
        "canary",
        "judge",
        "--config",
        "docs/examples/canary.toml",
        "--data",
        "docs/examples/canary-good.csv",
    )
    assert out.rstrip("\n").split("\n")[-1] == good


def test_the_example_data_is_what_its_script_writes(tmp_path: Path) -> None:
    import runpy

    script = runpy.run_path(str(EXAMPLES / "canary_data.py"))
    script["write"](tmp_path / "good.csv", 20261130, bad=False)
    script["write"](tmp_path / "bad.csv", 20261201, bad=True)
    assert (tmp_path / "good.csv").read_bytes() == (EXAMPLES / "canary-good.csv").read_bytes()
    assert (tmp_path / "bad.csv").read_bytes() == (EXAMPLES / "canary-bad.csv").read_bytes()


def test_names_that_look_like_rich_markup_are_printed_as_they_are(canary_cli: Cli) -> None:
    folder = canary_cli.cwd / "docs" / "examples"
    name = "[/]<b>5xx[bold]"
    config = (folder / "canary.toml").read_text().replace('"http_5xx"', f'"{name}"')
    (folder / "markup.toml").write_text(config)
    data = (folder / "canary-bad.csv").read_text().replace("\nhttp_5xx,", f"\n{name},")
    (folder / "markup.csv").write_text(data)
    code, out, err = canary_cli(
        "canary",
        "judge",
        "--config",
        str(folder / "markup.toml"),
        "--data",
        str(folder / "markup.csv"),
    )
    assert code == 5, err
    assert out.splitlines()[1].startswith(name)
    assert out.splitlines()[-1] == f"score 0.00: FAIL (critical metric {name} is high)"
