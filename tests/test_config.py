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
