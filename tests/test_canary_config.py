"""The canary judge's TOML configuration: defaults, validation, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pilothouse.delivery.canary import load_config, parse_config
from pilothouse.delivery.canary.config import CanaryConfig, MetricConfig
from pilothouse.errors import ConfigError

EXAMPLE = Path(__file__).parent.parent / "docs" / "examples" / "canary.toml"


def test_the_documented_example_loads() -> None:
    config = load_config(EXAMPLE)
    assert (config.pass_score, config.marginal_score, config.confidence) == (95.0, 75.0, 0.95)
    assert config.baseline_scope == 'app="checkout", track="baseline"'
    assert dict(config.groups) == {"errors": 50.0, "latency": 30.0, "saturation": 20.0}
    errors = config.metric("http_5xx")
    assert errors is not None and errors.kind == "count" and errors.critical
    latency = config.metric("latency_p99_ms")
    assert latency is not None and latency.max == 500 and latency.outliers == "remove"
    assert config.metric("nope") is None


def test_defaults_are_kayentas() -> None:
    config = parse_config('[[metric]]\nname = "m"\n', "c.toml")
    assert isinstance(config, CanaryConfig)
    assert (config.pass_score, config.marginal_score) == (95.0, 75.0)
    (metric,) = config.metrics
    assert metric == MetricConfig(name="m", group="m")
    assert metric.direction == "either" and metric.kind == "gauge"
    assert metric.nan_strategy == "remove" and metric.outliers == "none"
    assert (metric.allowed_increase, metric.allowed_decrease) == (1.0, 1.0)
    cles = parse_config('[[metric]]\nname = "m"\neffect_size = "cles"\n', "c").metrics[0]
    assert (cles.allowed_increase, cles.critical_decrease) == (0.5, 0.5)
    none = parse_config('[[metric]]\nname = "m"\nnan_strategy = "none"\n', "c").metrics[0]
    assert none.nan_strategy == "remove"  # Kayenta's "none" drops NaNs


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "c.toml: no [[metric]] table"),
        ("[judge\n", "c.toml: not valid TOML"),
        (
            '[jugde]\npass = 1\n[[metric]]\nname = "m"\n',
            "unknown key 'jugde' (did you mean 'judge'?)",
        ),
        (
            '[judge]\npas = 1\n[[metric]]\nname = "m"\n',
            "unknown key judge.'pas' (did you mean judge.'pass'?)",
        ),
        ('[scope]\ncanery = "x"\n[[metric]]\nname = "m"\n', "unknown key scope.'canery'"),
        (
            '[[metric]]\nname = "m"\nkind = "histogram"\n',
            "metric 'm': kind must be one of gauge, count",
        ),
        ('[[metric]]\nname = "m"\ndirection = "up"\n', "metric 'm': direction must be one of"),
        (
            '[[metric]]\nname = "m"\ncritical = "yes"\n',
            "metric 'm': critical must be true or false",
        ),
        ('[[metric]]\nname = "m"\nmax = "500"\n', "metric 'm': max must be a number"),
        ('[[metric]]\nname = "m"\nmin = 10\nmax = 5\n', "metric 'm': min (10) is above max (5)"),
        ('[[metric]]\nname = "m"\noutlier_factor = 0\n', "outlier_factor must be > 0"),
        (
            '[[metric]]\nname = "m"\nquery = "rate(x[1m])"\n',
            "metric 'm': query must hold {{ scope }}",
        ),
        ('[[metric]]\ngroup = "g"\n', "metric[0].name is required"),
        ('[[metric]]\nname = ""\n', "metric[0].name must be a non-empty string"),
        ('[[metric]]\nname = "m"\n[[metric]]\nname = "m"\n', "metric 'm' is configured twice"),
        ("metric = 3\n", "metric must be an array of tables"),
        ('judge = 3\n[[metric]]\nname = "m"\n', "judge must be a table"),
        (
            '[judge]\npass = 70\nmarginal = 80\n[[metric]]\nname = "m"\n',
            "must satisfy 0 <= marginal <= pass <= 100",
        ),
        (
            '[judge]\nconfidence = 1.0\n[[metric]]\nname = "m"\n',
            "judge.confidence must be in [0.5, 1)",
        ),
        ('[judge]\npass = true\n[[metric]]\nname = "m"\n', "judge.pass must be a number"),
        (
            '[groups]\na = 60\nb = 50\n[[metric]]\nname = "m"\ngroup = "a"\n'
            '[[metric]]\nname = "n"\ngroup = "b"\n',
            "weights add up to more than 100",
        ),
        (
            '[groups]\nlatency = 50\n[[metric]]\nname = "m"\n',
            "groups.latency: no metric is in this group",
        ),
        ('[groups]\nm = -1\n[[metric]]\nname = "m"\n', "groups.m must be a weight >= 0"),
    ],
)
def test_bad_configs_are_one_line_naming_file_and_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "c.toml")
    assert message in str(info.value)
    assert str(info.value).startswith("c.toml: ") and "\n" not in str(info.value)


def test_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing.toml: cannot read the canary config"):
        load_config(tmp_path / "missing.toml")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_garbage_is_a_config_error_or_a_config(text: str) -> None:
    try:
        parse_config(text, "fuzz.toml")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.toml: ")


def test_a_table_embedded_in_another_file() -> None:
    import tomllib

    from pilothouse.delivery.canary import config_from_table

    plan = tomllib.loads('[wave.judge.judge]\npass = 90\n[[wave.judge.metric]]\nname = "m"\n')
    config = config_from_table(plan["wave"]["judge"], "plan.toml [wave.judge]")
    assert config.pass_score == 90.0 and config.metrics[0].name == "m"
    with pytest.raises(ConfigError, match=r"plan.toml \[wave.judge\]: unknown key 'x'"):
        config_from_table({"x": 1}, "plan.toml [wave.judge]")
