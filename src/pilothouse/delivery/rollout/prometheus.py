"""The real analyzer: the canary judge over the series Prometheus serves."""

from __future__ import annotations

import dataclasses

import httpx

from pilothouse.delivery.canary import (
    CanaryConfig,
    Judgement,
    judge,
    load_config,
    query_prometheus,
)
from pilothouse.delivery.rollout.analysis import AnalysisRequest, Analyzer, Verdict
from pilothouse.errors import ConfigError

SHOWN_METRICS = 3  # metrics named in a verdict's detail, worst first


def prometheus_analyzer(client: httpx.Client) -> Analyzer:
    """An Analyzer querying Prometheus through *client* (its transport decides where)."""

    def analyze(request: AnalysisRequest) -> Verdict:
        config = with_thresholds(load_config(request.judge), request)
        series = query_prometheus(
            client,
            request.prometheus,
            config,
            start=request.start,
            end=request.end,
            step=request.step,
            scopes=request.scopes,
        )
        return verdict_of(judge(config, series))

    return analyze


def with_thresholds(config: CanaryConfig, request: AnalysisRequest) -> CanaryConfig:
    """*config* with the plan's pass and marginal scores, where it sets them."""
    passing = config.pass_score if request.pass_score is None else request.pass_score
    marginal = config.marginal_score if request.marginal_score is None else request.marginal_score
    if marginal > passing:
        raise ConfigError(
            f"{request.judge}: the plan's thresholds give marginal {marginal:g} above "
            f"pass {passing:g}"
        )
    return dataclasses.replace(config, pass_score=passing, marginal_score=marginal)


def verdict_of(judgement: Judgement) -> Verdict:
    """The classification, with the score and the metrics that did not pass."""
    off = [m for m in judgement.metrics if m.classification != "pass"]
    named = "; ".join(f"{m.name} {m.classification}: {m.reason}" for m in off[:SHOWN_METRICS])
    more = f" (+{len(off) - SHOWN_METRICS} more)" if len(off) > SHOWN_METRICS else ""
    head = f"score {judgement.score:g}"
    if judgement.reason:
        head += f" ({judgement.reason})"
    return Verdict(str(judgement.classification), f"{head}: {named}{more}" if off else head)
