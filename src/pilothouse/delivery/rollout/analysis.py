"""The seam between the conductor and the canary judge.

The conductor asks an `Analyzer` for a verdict on one target over one window; the
real one queries Prometheus and runs `pilothouse.delivery.canary.judge`, tests hand
in their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

CLASSIFICATIONS = ("pass", "marginal", "fail")


class AnalysisRequest(NamedTuple):
    """Judge *target*'s canary against its baseline over [start, end]."""

    judge: Path  # the canary judge config (TOML)
    prometheus: str
    start: datetime
    end: datetime
    step: float
    target: str
    scopes: Mapping[str, str] | None  # baseline / canary selectors, {target} filled in
    pass_score: float | None = None  # the plan's thresholds over the judge config's
    marginal_score: float | None = None


class Verdict(NamedTuple):
    classification: str  # pass | marginal | fail
    detail: str  # the score and the metrics at fault, one line


Analyzer = Callable[[AnalysisRequest], Verdict]
