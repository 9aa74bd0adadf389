"""Settings: each declared once, as data, with its default, type and help.

Values come from ``pilothouse.toml`` (or ``--config FILE``), then the
environment, then command-line flags; a later source wins. Unknown keys in the
file are refused with a did-you-mean suggestion.
"""

from __future__ import annotations

import builtins
import difflib
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pilothouse.errors import ConfigError

DEFAULT_CONFIG_FILE = "pilothouse.toml"
DEFAULT_DB = "sqlite:///.pilothouse/pilothouse.db"
DEFAULT_GITHUB_API_URL = "https://api.github.com"


# A check returns what is wrong with a (typed) value, or None when it is fine.
Check = Callable[[Any], str | None]


def at_least(low: float) -> Check:
    return lambda value: None if value >= low else f"must be at least {low}"


MAX_WINDOW_DAYS = 36_500  # a century: further back, dates leave Python's calendar


def _window_days(value: int) -> str | None:
    if value < 1:
        return "must be at least 1"
    return None if value <= MAX_WINDOW_DAYS else f"must be at most {MAX_WINDOW_DAYS} (a century)"


def _positive(value: float) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _share(value: float) -> str | None:
    return None if 0 <= value <= 1 else "must be between 0 and 1"


def _fraction(value: float) -> str | None:
    return None if 0 < value <= 1 else "must be in (0, 1]"


def _thresholds(values: list[float]) -> str | None:
    # Shares, not percent: [80, 100] would never fire (AWS Budgets users write 80).
    wrong = next((v for v in values if not 0 < v <= 2), None)
    if wrong is None:
        return None
    return f"must hold shares of the budget (0.8 = 80 %) in (0, 2], got {wrong:g}"


def _percent(value: float) -> str | None:
    # Percent, not a share: 0.75 would be a target of 0.75 %, surely meant as 75.
    return None if 1 <= value <= 100 else "must be a percentage between 1 and 100 (75 = 75 %)"


def _workflow_names(values: list[str]) -> str | None:
    if not values:
        return "must name at least one workflow"
    return None if all(v.strip() for v in values) else "must not hold an empty workflow name"


def _patterns(values: list[str]) -> str | None:
    return None if all(v.strip() for v in values) else "must not hold an empty pattern"


def _currency(value: str) -> str | None:
    return None if re.fullmatch(r"[A-Za-z]{3}", value) else "must be an ISO 4217 code like USD"


def _each_at_least_zero(values: Mapping[str, float]) -> str | None:
    wrong = next((k for k, v in values.items() if v < 0), None)
    return None if wrong is None else f"has {wrong} = {values[wrong]:g}: must be at least 0"


def _webhooks(values: list[str]) -> str | None:
    wrong = next((v for v in values if not _is_http_url(v)), None)
    return None if wrong is None else f"must be http(s) URLs, got {mask_url(wrong)!r}"


def one_of(*choices: str) -> Check:
    return lambda value: None if value in choices else f"must be one of {', '.join(choices)}"


def _semver(value: str) -> str | None:
    from pilothouse.delivery.release.semver import Version

    try:
        Version.parse(value)
    except ValueError:
        return "must be a SemVer version like 0.1.0"
    return None


def _tag_pattern(value: str) -> str | None:
    return None if value.count("{version}") == 1 else "must hold {version} exactly once"


def _rule_ids(values: list[str]) -> str | None:
    from pilothouse.doctor.model import RULE_IDS

    wrong = next((v for v in values if v not in RULE_IDS), None)
    if wrong is None:
        return None
    close = difflib.get_close_matches(wrong, RULE_IDS, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else " (docs/doctor.md lists them)"
    return f"has {wrong!r}, not a doctor rule id{hint}, got {values!r}"


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def mask_url(url: str) -> str:
    """A URL whose path or credentials may be a secret (a webhook): its host only.

    >>> mask_url("https://hooks.slack.com/services/T000/B000/XXXX")
    'https://hooks.slack.com/…'
    """
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return f"{url.split('/', 1)[0].rpartition('@')[2]}/…"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/…"


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting: its dotted key in pilothouse.toml, default, type and help.

    For ``list`` and ``dict`` settings *item* is the type of the elements (or of
    the values); ``dict`` settings with ``item=dict`` hold tables (checked by the
    code that uses them). *check* validates the typed value, whatever its source;
    a *secret* setting is masked wherever it is shown.
    """

    key: str
    default: Any
    type: type
    help: str
    env: str | None = None
    item: builtins.type | None = None
    check: Check | None = None
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "db",
        DEFAULT_DB,
        str,
        "Store URL: sqlite:///PATH (embedded, the default) or postgresql+psycopg://USER@HOST/DB.",
        env="PILOTHOUSE_DB",
    ),
    Setting(
        "ingest.repository",
        "local",
        str,
        "Repository (OWNER/NAME) that reports ingested outside GitHub Actions belong to.",
        env="PILOTHOUSE_REPOSITORY",
    ),
    Setting(
        "flaky.window_days",
        30,
        int,
        "Days of history `flaky` reads.",
        env="PILOTHOUSE_FLAKY_WINDOW_DAYS",
        check=_window_days,
    ),
    Setting(
        "flaky.min_runs",
        5,
        int,
        "Results a test needs before it can be called flaky.",
        check=at_least(1),
    ),
    Setting(
        "flaky.score_threshold",
        0.5,
        float,
        "Score (0..1) from which a test with flaky evidence counts as flaky.",
        check=_share,
    ),
    Setting(
        "flaky.outage_fraction",
        0.5,
        float,
        "Share of a run attempt's tests failing at once that makes it an outage.",
        check=_fraction,
    ),
    Setting(
        "flaky.outage_min_tests",
        20,
        int,
        "Fewest failing tests in one run attempt for an outage.",
        check=at_least(1),
    ),
    Setting(
        "flaky.quarantine_clean_runs",
        20,
        int,
        "Clean passes in a row after which a test leaves quarantine.",
        check=at_least(1),
    ),
    Setting(
        "cost.currency", "USD", str, "Currency of budgets, targets and rates.", check=_currency
    ),
    Setting(
        "cost.daily_target",
        70.0,
        float,
        "Target mean daily spend in cost.currency (the scorecard's daily_cost, met below it).",
        check=_positive,
    ),
    Setting(
        "cost.actions_rates",
        {"linux": 0.008, "windows": 0.016, "macos": 0.08},
        dict,
        "GitHub Actions price per minute by runner label or OS (larger runners by label).",
        item=float,
        check=_each_at_least_zero,
    ),
    Setting(
        "cost.model_prices",
        {},
        dict,
        "Per-model LLM price overrides, USD per million tokens: "
        '{"model-id" = {input = 3.0, output = 15.0, cache_read = 0.3, cache_write = 3.75}}.',
        item=dict,
    ),
    Setting(
        "cost.batch_discount",
        0.5,
        float,
        "Share of the price saved by batch inference.",
        check=_share,
    ),
    Setting(
        "cost.instance_prices",
        {},
        dict,
        "Hourly price by instance type, for right-sizing what-ifs.",
        item=float,
        check=_each_at_least_zero,
    ),
    Setting(
        "budget.daily",
        70.0,
        float,
        "Daily budget amount.",
        env="PILOTHOUSE_BUDGET_DAILY",
        check=_positive,
    ),
    Setting(
        "budget.monthly",
        2100.0,
        float,
        "Monthly budget amount.",
        env="PILOTHOUSE_BUDGET_MONTHLY",
        check=_positive,
    ),
    Setting(
        "budget.thresholds",
        [0.8, 1.0],
        list,
        "Shares of a budget that raise an alert, on actual and forecast spend.",
        item=float,
        check=_thresholds,
    ),
    Setting(
        "budget.daily_limit",
        105.0,
        float,
        "Absolute daily spend that always alerts.",
        check=_positive,
    ),
    Setting(
        "budget.webhooks",
        [],
        list,
        "Slack-compatible webhook URLs that `cost alerts --notify` posts to.",
        env="PILOTHOUSE_BUDGET_WEBHOOKS",
        item=str,
        check=_webhooks,
        secret=True,
    ),
    Setting(
        "routine.webhooks",
        [],
        list,
        "Slack-compatible webhook URLs that `routine CADENCE --notify` posts its report to "
        "(empty: budget.webhooks).",
        env="PILOTHOUSE_ROUTINE_WEBHOOKS",
        item=str,
        check=_webhooks,
        secret=True,
    ),
    Setting(
        "rollout.webhooks",
        [],
        list,
        "Slack-compatible webhook URLs that `rollout` tells when a rollout pauses, is "
        "promoted or rolls back.",
        env="PILOTHOUSE_ROLLOUT_WEBHOOKS",
        item=str,
        check=_webhooks,
        secret=True,
    ),
    Setting(
        "routine.stale_hours",
        26.0,
        float,
        "The daily routine's watchdog: a repository not synced completely, or no new run "
        "stored, for longer than this many hours needs a human.",
        check=_positive,
    ),
    Setting(
        "whatif.scenarios",
        [],
        list,
        "Saved what-if scenarios: tables with name, kind and the kind's options.",
        item=dict,
    ),
    Setting(
        "targets.window_days",
        14,
        int,
        "Days the scorecard (`score`, `artifacts`) reads; the previous window of as many days "
        "is the trend.",
        env="PILOTHOUSE_TARGETS_WINDOW_DAYS",
        check=_window_days,
    ),
    Setting(
        "targets.branch",
        "",
        str,
        "Branch the scorecard reads runs of (empty: the repository's default branch when "
        "known, else main).",
        env="PILOTHOUSE_TARGETS_BRANCH",
    ),
    Setting(
        "targets.build_workflows",
        ["ci-build"],
        list,
        "Workflows whose runs are the build (build_time, artifact_size, cache_hit_rate).",
        item=str,
        check=_workflow_names,
    ),
    Setting(
        "targets.build_minutes",
        30.0,
        float,
        "Target p50 wall time of a build run, in minutes (met below it).",
        check=_positive,
    ),
    Setting(
        "targets.test_workflows",
        ["tests-all"],
        list,
        "Workflows whose runs are the tests (test_time, cache_hit_rate).",
        item=str,
        check=_workflow_names,
    ),
    Setting(
        "targets.test_minutes",
        45.0,
        float,
        "Target p50 wall time of a test run, in minutes (met below it).",
        check=_positive,
    ),
    Setting(
        "targets.test_stretch_minutes",
        40.0,
        float,
        "Stretch target for test runs, in minutes (shown beside test_time).",
        check=_positive,
    ),
    Setting(
        "targets.cache_hit_percent",
        75.0,
        float,
        "Target share of cache restores that hit the exact key, in percent (met above it).",
        check=_percent,
    ),
    Setting(
        "targets.artifact_mb",
        200.0,
        float,
        "Target total size of the artifacts of a build run, in MB of 1,000,000 bytes "
        "(met below it).",
        check=_positive,
    ),
    Setting(
        "targets.pass_rate_percent",
        100.0,
        float,
        "Target test pass rate without quarantined tests and outages, in percent "
        "(met at or above it).",
        check=_percent,
    ),
    Setting(
        "release.minor_types",
        ["feat"],
        list,
        "Commit types that bump the minor version (a breaking change always bumps major).",
        item=str,
    ),
    Setting(
        "release.patch_types",
        ["fix"],
        list,
        "Commit types that bump the patch version (other types bump nothing).",
        item=str,
    ),
    Setting(
        "release.breaking_on_zero",
        "major",
        str,
        "A breaking change below 1.0.0: major (0.4.2 -> 1.0.0) or minor (0.4.2 -> 0.5.0).",
        check=one_of("major", "minor"),
    ),
    Setting(
        "release.feat_on_zero",
        "minor",
        str,
        "A minor-type commit below 1.0.0: minor (0.4.2 -> 0.5.0) or patch (0.4.2 -> 0.4.3).",
        check=one_of("minor", "patch"),
    ),
    Setting(
        "release.initial_version",
        "0.1.0",
        str,
        "The first release's version, when no tag names one yet.",
        check=_semver,
    ),
    Setting(
        "release.tag_pattern",
        "v{version}",
        str,
        "Tags that name versions, {version} standing for one (a v before it is optional "
        "when reading): v{version}, or NAME-v{version} for one package of a monorepo.",
        check=_tag_pattern,
    ),
    Setting(
        "release.hide_other",
        False,
        bool,
        "Leave commits that are not Conventional Commits out of the notes (they never bump).",
    ),
    Setting(
        "release.include_merges",
        False,
        bool,
        "List merge commits too (skipped by default: their branches' commits are listed).",
    ),
    Setting(
        "release.changelog",
        "CHANGELOG.md",
        str,
        "The changelog `release changelog` writes, relative to the repository.",
    ),
    Setting(
        "infra.region",
        "",
        str,
        "AWS region `ingest cloudwatch` reads (empty: the standard AWS chain's, "
        "$AWS_REGION or the profile's).",
        env="PILOTHOUSE_INFRA_REGION",
    ),
    Setting(
        "infra.instances",
        [],
        list,
        "EC2 instance ids `ingest cloudwatch` reads (with infra.auto_scaling_groups; both "
        "empty: every instance tagged infra.watch_tag).",
        item=str,
    ),
    Setting(
        "infra.auto_scaling_groups",
        [],
        list,
        "Auto Scaling group names `ingest cloudwatch` reads, the group and its instances.",
        item=str,
    ),
    Setting(
        "infra.watch_tag",
        "pilothouse:watch",
        str,
        "Tag key that marks the instances to read when none are named.",
        check=lambda value: None if value.strip() else "must not be empty",
    ),
    Setting(
        "infra.period_seconds",
        300,
        int,
        "CloudWatch period of the stored points: 300 (5 minutes) or 3600 (hourly).",
        check=lambda value: None if value in (300, 3600) else "must be 300 or 3600",
    ),
    Setting(
        "infra.backfill_days",
        14,
        int,
        "Days of metrics the first `ingest cloudwatch` of an instance reads.",
        check=lambda value: None if 1 <= value <= 455 else "must be between 1 and 455",
    ),
    Setting(
        "infra.idle_cpu_percent",
        5.0,
        float,
        "CPU utilisation (percent) below which a period counts as idle.",
        check=_percent,
    ),
    Setting(
        "infra.target_cpu_percent",
        60.0,
        float,
        "Peak (p95) CPU a smaller instance size may reach when right-sizing.",
        check=_percent,
    ),
    Setting(
        "serve.token",
        "",
        str,
        "Bearer token that `serve` requires on every page, /api and /metrics route (empty: "
        "none; set it, from the environment, before binding beyond 127.0.0.1).",
        env="PILOTHOUSE_SERVE_TOKEN",
        secret=True,
    ),
    Setting(
        "doctor.ignore",
        [],
        list,
        "Rule ids `pilothouse doctor` does not report (docs/doctor.md lists them).",
        item=str,
        check=_rule_ids,
    ),
    Setting(
        "report.limit",
        20,
        int,
        "Rows shown by the human tables of `tests`, `runs` and `report`.",
        env="PILOTHOUSE_REPORT_LIMIT",
        check=at_least(1),
    ),
    Setting(
        "ci.junit_artifacts",
        ["junit*"],
        list,
        "Artifact names (shell patterns) whose XML files `ci run --ingest` stores as JUnit "
        "reports of the run.",
        item=str,
        check=_patterns,
    ),
)
_BY_KEY = {setting.key: setting for setting in SETTINGS}


@dataclass(frozen=True, slots=True)
class Config:
    """Resolved settings and where each value came from."""

    values: Mapping[str, Any]
    sources: Mapping[str, str]

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    @classmethod
    def defaults(cls) -> Config:
        return cls(
            values={s.key: s.default for s in SETTINGS},
            sources={s.key: "default" for s in SETTINGS},
        )


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and not any(s.key == dotted for s in SETTINGS):
            flat.update(_flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


# Names users reach for, mapped to the key that means it.
_ALIASES = {"database": "db", "database_url": "db", "db_url": "db", "store": "db", "url": "db"}


def _suggest(key: str) -> str:
    """A did-you-mean for an unknown key: close to a key, to a key's last part
    (a table left out) or to a common name for one (``database`` for ``db``)."""
    names = {k: k for k in _BY_KEY}
    for declared in _BY_KEY:  # a last part shared by tables suggests the first declared
        names.setdefault(declared.rpartition(".")[2], declared)
    names.update(_ALIASES)
    for candidate in (key, key.rpartition(".")[2]):
        close = difflib.get_close_matches(candidate, list(names), n=1, cutoff=0.6)
        if close:
            return f" (did you mean {names[close[0]]!r}?)"
    return ""


def _scalar(item: type, key: str) -> Setting:
    return Setting(key, item(), item, "")


def _coerce(setting: Setting, value: Any, origin: str) -> Any:
    """*value* as the setting's type, checked; ConfigError naming *origin* if not."""
    typed = _coerce_type(setting, value, origin)
    problem = _problem(setting, typed)
    if problem is not None:
        raise ConfigError(f"{origin}: {setting.key} {problem}")
    return typed


def check_value(key: str, value: Any) -> str | None:
    """What is wrong with the typed *value* of setting *key*, or None: the one
    validator of a setting, for the file, the environment and flags alike."""
    return _problem(_BY_KEY[key], value)


def _problem(setting: Setting, value: Any) -> str | None:
    problem = setting.check(value) if setting.check is not None else None
    if problem is None or ", got " in problem:
        return problem
    shown = format(value, "g") if isinstance(value, float) else repr(value)
    return f"{problem}, got {shown}"


def _coerce_type(setting: Setting, value: Any, origin: str) -> Any:
    if setting.type is float:
        return _coerce_float(setting, value, origin)
    if setting.type is list:
        return _coerce_list(setting, value, origin)
    if setting.type is dict:
        return _coerce_dict(setting, value, origin)
    if setting.type is bool:
        return _coerce_bool(setting, value, origin)
    if setting.type is int and isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise ConfigError(
                f"{origin}: {setting.key} must be an integer, got {value!r}"
            ) from None
    if setting.type is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{origin}: {setting.key} must be an integer, got {value!r}")
    if setting.type is str and not isinstance(value, str):
        raise ConfigError(f"{origin}: {setting.key} must be a string, got {value!r}")
    return value


_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _coerce_bool(setting: Setting, value: Any, origin: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _BOOLEANS:
        return _BOOLEANS[value.strip().lower()]
    raise ConfigError(f"{origin}: {setting.key} must be true or false, got {value!r}")


def _coerce_float(setting: Setting, value: Any, origin: str) -> float:
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise ConfigError(f"{origin}: {setting.key} must be a number, got {value!r}")


def _coerce_list(setting: Setting, value: Any, origin: str) -> list[Any]:
    if isinstance(value, str):  # from the environment: comma-separated
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list):
        raise ConfigError(f"{origin}: {setting.key} must be a list, got {value!r}")
    item: type = setting.item or str
    if item is dict:
        for element in value:
            if not isinstance(element, dict):
                raise ConfigError(f"{origin}: {setting.key} must hold tables, got {element!r}")
        return value
    return [_coerce(_scalar(item, setting.key), element, origin) for element in value]


def _coerce_dict(setting: Setting, value: Any, origin: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{origin}: {setting.key} must be a table, got {value!r}")
    item: type = setting.item or str
    if item is dict:
        for key, element in value.items():
            if not isinstance(element, dict):
                raise ConfigError(f"{origin}: {setting.key}.{key} must be a table")
        return value
    return {
        str(key): _coerce(_scalar(item, f"{setting.key}.{key}"), element, origin)
        for key, element in value.items()
    }


def read_file(path: Path) -> dict[str, Any]:
    """Read and check a pilothouse.toml, returning its values by dotted key."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    values: dict[str, Any] = {}
    for key, value in _flatten(raw).items():
        setting = _BY_KEY.get(key)
        if setting is None:
            raise ConfigError(f"{path}: unknown key {key!r}{_suggest(key)}")
        values[key] = _coerce(setting, value, str(path))
    return values


def store_url(value: str, cwd: Path) -> str:
    """The store URL with a relative SQLite path made relative to *cwd*.

    >>> store_url("sqlite:///.pilothouse/p.db", Path("/repo"))
    'sqlite:////repo/.pilothouse/p.db'
    """
    if value.startswith("sqlite:///") and not value.startswith("sqlite:////"):
        relative = value.removeprefix("sqlite:///")
        if relative and relative != ":memory:":
            return f"sqlite:///{cwd / relative}"
    return value


def load_config(
    *,
    path: Path | None,
    env: Mapping[str, str],
    flags: Mapping[str, Any],
    cwd: Path,
) -> Config:
    """Resolve every setting: default < file < environment < flag.

    *path* is an explicit ``--config`` (it must exist); without it
    ``pilothouse.toml`` in *cwd* is read when present.
    """
    values = {s.key: s.default for s in SETTINGS}
    sources = {s.key: "default" for s in SETTINGS}
    file = path if path is not None else cwd / DEFAULT_CONFIG_FILE
    if path is not None or file.is_file():
        for key, value in read_file(file).items():
            values[key], sources[key] = value, str(file)
    for setting in SETTINGS:
        if setting.env and env.get(setting.env, "") != "":
            origin = f"${setting.env}"
            values[setting.key] = _coerce(setting, env[setting.env], origin)
            sources[setting.key] = origin
    for key, value in flags.items():
        if value is not None:
            values[key], sources[key] = _coerce(_BY_KEY[key], value, "flag"), "flag"
    return Config(values=values, sources=sources)
