"""Settings: declared once, unknown keys refused with a suggestion, file < env < flag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pilothouse.config import DEFAULT_DB, SETTINGS, load_config
from pilothouse.errors import ConfigError

from .conftest import Cli


def _load(
    tmp_path: Path,
    text: str | None = None,
    env: dict[str, str] | None = None,
    flags: dict[str, object] | None = None,
    path: Path | None = None,
):
    if text is not None:
        (tmp_path / "pilothouse.toml").write_text(text)
    return load_config(path=path, env=env or {}, flags=flags or {}, cwd=tmp_path)


def test_defaults_without_a_file(tmp_path: Path) -> None:
    config = _load(tmp_path)
    assert config["db"] == DEFAULT_DB
    assert config["report.limit"] == 20
    assert set(config.sources.values()) == {"default"}


def test_every_setting_has_help_and_a_typed_default() -> None:
    for setting in SETTINGS:
        assert setting.help.endswith(".")
        assert isinstance(setting.default, setting.type)


@pytest.mark.parametrize(
    ("file", "env", "flag", "expected", "source"),
    [
        ("sqlite:///file.db", None, None, "sqlite:///file.db", "pilothouse.toml"),
        ("sqlite:///file.db", "sqlite:///env.db", None, "sqlite:///env.db", "$PILOTHOUSE_DB"),
        ("sqlite:///file.db", "sqlite:///env.db", "sqlite:///flag.db", "sqlite:///flag.db", "flag"),
        (None, None, "sqlite:///flag.db", "sqlite:///flag.db", "flag"),
        (None, "sqlite:///env.db", None, "sqlite:///env.db", "$PILOTHOUSE_DB"),
    ],
)
def test_precedence_file_env_flag(tmp_path: Path, file, env, flag, expected, source) -> None:
    config = _load(
        tmp_path,
        text=f'db = "{file}"\n' if file else "",
        env={"PILOTHOUSE_DB": env} if env else {},
        flags={"db": flag},
    )
    assert config["db"] == expected
    assert config.sources["db"].endswith(source)


def test_nested_tables_and_env_integers(tmp_path: Path) -> None:
    config = _load(tmp_path, text="[report]\nlimit = 5\n[ingest]\nrepository = 'a/b'\n")
    assert (config["report.limit"], config["ingest.repository"]) == (5, "a/b")
    config = _load(tmp_path, env={"PILOTHOUSE_REPORT_LIMIT": "7"})
    assert config["report.limit"] == 7


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[reprot]\nlimit = 5\n", r"unknown key 'reprot.limit' \(did you mean 'report.limit'\?\)"),
        ("dbb = 'x'\n", r"unknown key 'dbb' \(did you mean 'db'\?\)"),
        ("zzz = 1\n", r"unknown key 'zzz'$"),
        ("[report]\nlimit = 'many'\n", "report.limit must be an integer, got 'many'"),
        ("[report]\nlimit = true\n", "report.limit must be an integer"),
        ("db = 3\n", "db must be a string"),
        ("db = \n", "invalid TOML"),
    ],
)
def test_bad_files_are_refused_naming_the_file(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as caught:
        _load(tmp_path, text=text)
    assert str(caught.value).startswith(str(tmp_path / "pilothouse.toml"))


def test_bad_environment_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\$PILOTHOUSE_REPORT_LIMIT: report.limit must be an"):
        _load(tmp_path, env={"PILOTHOUSE_REPORT_LIMIT": "ten"})


def test_explicit_config_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        _load(tmp_path, path=tmp_path / "nope.toml")


def test_cli_reads_the_file_and_flag_wins(tmp_path: Path) -> None:
    cli = Cli(cwd=tmp_path, db="")
    (tmp_path / "pilothouse.toml").write_text(
        f'db = "sqlite:///{tmp_path / "from-file.db"}"\n[report]\nlimit = 3\n'
    )
    settings = {s["key"]: s for s in cli.json("config")["settings"]}
    assert settings["db"]["value"].endswith("from-file.db")
    assert settings["report.limit"] == {**settings["report.limit"], "value": 3}
    code, out, err = cli("--db", "sqlite:///flag.db", "config", "--json")
    assert code == 0, err
    (db,) = (s for s in json.loads(out)["settings"] if s["key"] == "db")
    assert (db["value"], db["source"]) == ("sqlite:///flag.db", "flag")
    code, out, _ = cli("--db", "sqlite:///flag.db", "config")
    assert code == 0 and "sqlite:///flag.db" in out


def test_cli_bad_config_exits_1_with_one_line(tmp_path: Path) -> None:
    cli = Cli(cwd=tmp_path, db="")
    (tmp_path / "pilothouse.toml").write_text("[reprot]\nlimit = 5\n")
    code, out, err = cli("runs")
    assert code == 1 and out == ""
    assert err == (
        f"pilothouse: error: {tmp_path / 'pilothouse.toml'}: unknown key 'reprot.limit' "
        "(did you mean 'report.limit'?)\n"
    )


def test_config_never_shows_a_password(tmp_path: Path) -> None:
    cli = Cli(cwd=tmp_path, db="postgresql://u:hunter2@127.0.0.1/test")
    code, out, _ = cli("config", "--json")
    assert code == 0 and "hunter2" not in out and "***" in out


@pytest.mark.parametrize(
    ("text", "env", "match"),
    [
        (
            "[budget]\nthresholds = [80, 100]\n",
            {},
            r"pilothouse.toml: budget.thresholds must hold shares of the budget "
            r"\(0.8 = 80 %\) in \(0, 2\], got 80",
        ),
        ("[budget]\ndaily = -5\n", {}, r"toml: budget.daily must be greater than 0, got -5"),
        ("", {"PILOTHOUSE_BUDGET_MONTHLY": "0"}, r"MONTHLY: budget.monthly must be greater than 0"),
        (
            "",
            {"PILOTHOUSE_FLAKY_WINDOW_DAYS": "0"},
            r"^\$PILOTHOUSE_FLAKY_WINDOW_DAYS: flaky.window_days must be at least 1, got 0$",
        ),
        ("[flaky]\nscore_threshold = 1.5\n", {}, r"score_threshold must be between 0 and 1"),
        ("[flaky]\noutage_fraction = 0\n", {}, r"outage_fraction must be in \(0, 1\]"),
        ("[report]\nlimit = 0\n", {}, r"report.limit must be at least 1, got 0"),
        ("[cost]\ncurrency = 'dollars'\n", {}, r"cost.currency must be an ISO 4217 code"),
        ("[cost]\nbatch_discount = 50\n", {}, r"cost.batch_discount must be between 0 and 1"),
        (
            "[cost.actions_rates]\nlinux = -1\n",
            {},
            r"actions_rates has linux = -1: must be at least 0",
        ),
        (
            "",
            {"PILOTHOUSE_BUDGET_WEBHOOKS": "hooks.slack.com/x"},
            r"budget.webhooks must be http\(s\) URLs, got 'hooks.slack.com/…'",
        ),
    ],
)
def test_values_are_validated_in_file_and_environment(
    tmp_path: Path, text: str, env: dict[str, str], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        _load(tmp_path, text=text, env=env)


def test_a_flag_meets_the_same_validator_as_file_and_environment(tmp_path: Path) -> None:
    cli = Cli(cwd=tmp_path, db=f"sqlite:///{tmp_path / 'x.db'}")
    cli.env["PILOTHOUSE_FLAKY_WINDOW_DAYS"] = "0"
    code, _out, env_err = cli("flaky")
    assert code == 1 and "flaky.window_days must be at least 1, got 0" in env_err
    del cli.env["PILOTHOUSE_FLAKY_WINDOW_DAYS"]
    code, _out, flag_err = cli("flaky", "--window", "0")
    assert code == 2 and "Invalid value for '--window': must be at least 1, got 0" in flag_err
    code, _out, flag_err = cli("tests", "--limit", "0")
    assert code == 2 and "Invalid value for '--limit': must be at least 1, got 0" in flag_err


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("databse = 'sqlite:///x.db'\n", "db"),
        ("database = 'sqlite:///x.db'\n", "db"),
        ("window_days = 3\n", "flaky.window_days"),
        ("[budget]\nthreshold = [0.5]\n", "budget.thresholds"),
    ],
)
def test_top_level_typos_get_a_suggestion(tmp_path: Path, text: str, suggestion: str) -> None:
    with pytest.raises(ConfigError, match=rf"\(did you mean '{suggestion}'\?\)$"):
        _load(tmp_path, text=text)


SLACK = "https://hooks.slack.com/services/T000/B000/s3cr3tToken"


@pytest.mark.parametrize("as_json", [True, False])
def test_config_masks_webhooks_and_credentials_in_every_output(
    tmp_path: Path, as_json: bool
) -> None:
    cli = Cli(cwd=tmp_path, db="postgresql://u:hunter2@127.0.0.1/test")
    (tmp_path / "pilothouse.toml").write_text(
        f'[budget]\nwebhooks = ["{SLACK}", "https://bot:pa55@chat.example/hook?k=v"]\n'
    )
    cli.env["PILOTHOUSE_BUDGET_WEBHOOKS"] = "https://hooks.example/env-s3cr3t"
    code, out, _ = cli("config", "--json") if as_json else cli("config")
    assert code == 0
    for secret in ("hunter2", "s3cr3t", "pa55", "T000"):
        assert secret not in out
    assert ("https://hooks.example/…" if as_json else "hooks.example/…") in out
    cli.env.pop("PILOTHOUSE_BUDGET_WEBHOOKS")
    code, out, _ = cli("config", "--json")
    (hooks,) = (s["value"] for s in json.loads(out)["settings"] if s["key"] == "budget.webhooks")
    assert hooks == ["https://hooks.slack.com/…", "https://chat.example/…"]
