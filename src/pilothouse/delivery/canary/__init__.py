"""Canary analysis: is the canary worse than the baseline it runs beside?

The pure core (`config` parses the TOML, `stats` holds the tests, `judge` classifies
each metric and scores the canary as Kayenta's NetflixACAJudge does, with the checks
Kayenta lacks) takes records and returns records; `sources` reads data files and
queries Prometheus over an injected `httpx.Client`. `pilothouse.cli.canary` only
parses flags, calls these and prints. The rollout conductor calls `judge` in-process.
"""

from __future__ import annotations

from pilothouse.delivery.canary.config import (
    CanaryConfig,
    MetricConfig,
    config_from_table,
    load_config,
    parse_config,
)
from pilothouse.delivery.canary.judge import Judgement, MetricResult, Series, judge
from pilothouse.delivery.canary.sources import query_prometheus, read_data_file

__all__ = [
    "CanaryConfig",
    "Judgement",
    "MetricConfig",
    "MetricResult",
    "Series",
    "config_from_table",
    "judge",
    "load_config",
    "parse_config",
    "query_prometheus",
    "read_data_file",
]
