"""`/metrics`: the store in the Prometheus text format, read at scrape time.

Every number comes from the code that owns it, as `score`, `flaky`, `cost` and
`artifacts` compute it: the scorecard (`cli.score.build_scorecard`), the flaky
analysis' read of the same window, the cost ledger (`cli.cost.load_ledger`), and store
reads that count and bucket in SQL (`store.metrics`), so a scrape costs the same on a
store of 2 million results as on one of 2 thousand. Labels are low-cardinality only
(workflow, conclusion, runner labels, service, currency, criterion, repository): never
a run id, a commit or a test name.

Windowed metrics read the scorecard's window (`targets.window_days`, up to the scrape):
its histograms are gauge histograms (counts may fall as runs leave the window), read
with `histogram_quantile` on `_bucket` without `rate()`.

>>> body, content_type = metrics_payload(state, store)  # doctest: +SKIP
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
)
from prometheus_client.registry import Collector

from pilothouse.analysis import costs as ledger
from pilothouse.analysis import flaky as flaky_analysis
from pilothouse.analysis import scorecard as card
from pilothouse.cli import cost as cost_cli
from pilothouse.cli import flaky as flaky_cli
from pilothouse.cli import score as score_cli
from pilothouse.cli.state import State
from pilothouse.store import Store
from pilothouse.store.metrics import Buckets
from pilothouse.store.scorecard import Span

Metric = GaugeMetricFamily | CounterMetricFamily | GaugeHistogramMetricFamily

# Bucket bounds in seconds: runs take minutes to hours, queues seconds to an hour.
RUN_BOUNDS = (60.0, 120.0, 300.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0, 5400.0,
              7200.0, 10800.0)  # fmt: skip
QUEUE_BOUNDS = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
PREFIX = "pilothouse_"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one scrape reads from the store, before it becomes metric families."""

    window_days: int
    scorecard: card.Scorecard
    flaky: int
    quarantined: int
    run_durations: Sequence[Buckets]
    job_queues: Sequence[Buckets]
    run_totals: Sequence[tuple[str, str, int]]
    outcome_totals: dict[str, int]
    artifact_bytes: dict[str, int]
    cost_daily: Sequence[tuple[str, str, Decimal]]
    cost_limit: tuple[str, float]
    workflows: dict[str, int]
    sync_times: Sequence[tuple[str, datetime]]


# -- reading (I/O) ----------------------------------------------------------------------


def read_snapshot(state: State, store: Store) -> Snapshot:
    """Everything a scrape exports, read now: the scorecard's window ends at the clock."""
    targets = score_cli.resolve_targets(state, None)
    windows = score_cli.Windows.ending(state.now(), targets.window_days)
    reads = score_cli.gate_reads(store, state, windows)
    report = reads[0].detection.report
    since = windows.current.since
    cost_day = state.now().date() - timedelta(days=1)
    return Snapshot(
        window_days=targets.window_days,
        scorecard=score_cli.build_scorecard(store, state, targets, windows, state.cwd, reads=reads),
        flaky=len(report.flaky),
        quarantined=len(flaky_analysis.quarantined(report, flaky_cli.thresholds_of(state))),
        run_durations=store.run_duration_buckets(since, RUN_BOUNDS),
        job_queues=store.job_queue_buckets(since, QUEUE_BOUNDS),
        run_totals=store.run_totals(),
        outcome_totals=store.outcome_totals(),
        artifact_bytes=_newest_artifacts(store, targets.branch, windows.current),
        cost_daily=_cost_of_day(store, state, cost_day),
        cost_limit=(
            str(state.config["cost.currency"]).upper(),
            float(state.config["budget.daily_limit"]),
        ),
        workflows=dict(Counter(w.state for w in store.workflow_activity(windows.current))),
        sync_times=store.sync_times(),
    )


def _newest_artifacts(store: Store, branch: str, span: Span) -> dict[str, int]:
    """Per workflow, the bytes its newest run on *branch* in the window uploaded (what
    `artifacts` shows as newest)."""
    return {run.workflow: run.total_bytes for run in store.run_artifacts(span, None, branch)}


def _cost_of_day(store: Store, state: State, day: date) -> list[tuple[str, str, Decimal]]:
    """(service, currency, spend) of *day*, read as `cost --by service` reads it."""
    sums = cost_cli.load_ledger(store, state, day, day, ("service",))
    found = []
    for currency, lines in sorted(ledger.split_by_currency(s.line for s in sums).items()):
        grid = ledger.daily_by_group(lines, [day], "service")
        found += [(service, currency, row[day]) for service, row in sorted(grid.items())]
    return found


# -- metric families (pure) -----------------------------------------------------------


def families(snapshot: Snapshot) -> list[Metric]:
    """The metric families of one scrape, in a stable order."""
    return [
        *_window_families(snapshot),
        *_pipeline_families(snapshot),
        *_test_families(snapshot),
        *_build_families(snapshot),
        *_cost_families(snapshot),
        *_target_families(snapshot.scorecard),
        *_infrastructure_families(snapshot),
    ]


def _gauge(name: str, help_text: str, labels: Sequence[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, help_text, labels=list(labels))


def _window_families(snapshot: Snapshot) -> list[Metric]:
    window = _gauge(
        "window_seconds",
        "The window the windowed metrics read, up to the scrape (targets.window_days).",
    )
    window.add_metric([], snapshot.window_days * 86400.0)
    return [window]


def histogram(
    name: str, help_text: str, labels: Sequence[str], items: Sequence[Buckets],
    bounds: Sequence[float],
) -> GaugeHistogramMetricFamily:  # fmt: skip
    """A gauge histogram of *items*: cumulative buckets, +Inf last."""
    family = GaugeHistogramMetricFamily(PREFIX + name, help_text, labels=list(labels))
    edges = [_le(bound) for bound in bounds] + ["+Inf"]
    for item in items:
        running, cumulative = 0, []
        for edge, count in zip(edges, item.counts, strict=True):
            running += count
            cumulative.append((edge, float(running)))
        family.add_metric(list(item.labels), cumulative, item.total)
    return family


def _le(bound: float) -> str:
    return f"{bound:g}" if bound != int(bound) else f"{bound:.1f}"


def _pipeline_families(snapshot: Snapshot) -> list[Metric]:
    durations = histogram(
        "workflow_run_duration_seconds",
        "Wall time of the completed runs created in the window (latest attempt of each), "
        "per workflow and conclusion.",
        ("workflow", "conclusion"),
        snapshot.run_durations,
        RUN_BOUNDS,
    )
    queues = histogram(
        "job_queue_seconds",
        "Queue time (created to started) of the jobs of the window's runs, per runner "
        "labels (joined by commas); jobs known only from test reports are left out.",
        ("runner",),
        snapshot.job_queues,
        QUEUE_BOUNDS,
    )
    runs = CounterMetricFamily(
        PREFIX + "workflow_runs",
        "Run attempts stored, per workflow and conclusion (status while unfinished).",
        labels=["workflow", "conclusion"],
    )
    for workflow, conclusion, count in snapshot.run_totals:
        runs.add_metric([workflow, conclusion], count)
    return [durations, queues, runs]


def _test_families(snapshot: Snapshot) -> list[Metric]:
    results = CounterMetricFamily(
        PREFIX + "test_results",
        "Test results stored, per outcome (failed counts errors).",
        labels=["outcome"],
    )
    if any(snapshot.outcome_totals.values()):  # an empty store exports no zeros
        for outcome, count in sorted(snapshot.outcome_totals.items()):
            results.add_metric([outcome], count)
    ratio = _gauge(
        "test_pass_ratio",
        "Passed over executed results in the window, quarantined tests and outage "
        "attempts left out (the scorecard's test_pass_rate / 100).",
    )
    pass_rate = _criterion(snapshot.scorecard, "test_pass_rate")
    _add_ratio(ratio, pass_rate)
    flaky = _gauge("flaky_tests", "Tests the flaky analysis finds flaky in the window.")
    held = _gauge("quarantined_tests", "Flaky tests quarantined in the window.")
    if pass_rate is not None and pass_rate.samples:  # no results: no count, rather than 0
        flaky.add_metric([], snapshot.flaky)
        held.add_metric([], snapshot.quarantined)
    return [results, ratio, flaky, held]


def _build_families(snapshot: Snapshot) -> list[Metric]:
    cache = _gauge(
        "cache_hit_ratio",
        "Exact cache hits over restores in the build and test workflows' jobs in the "
        "window (the scorecard's cache_hit_rate / 100).",
    )
    _add_ratio(cache, _criterion(snapshot.scorecard, "cache_hit_rate"))
    artifacts = _gauge(
        "artifact_bytes",
        "Bytes of artifacts the newest run in the window uploaded, per workflow.",
        ("workflow",),
    )
    for workflow, size in sorted(snapshot.artifact_bytes.items()):
        artifacts.add_metric([workflow], size)
    return [cache, artifacts]


def _cost_families(snapshot: Snapshot) -> list[Metric]:
    family = _gauge(
        "cost_daily",
        "Spend of the last complete UTC day (yesterday) per service, in its currency "
        "(GitHub Actions priced from jobs).",
        ("service", "currency"),
    )
    for service, currency, amount in snapshot.cost_daily:
        family.add_metric([service, currency], float(amount))
    limit = _gauge(
        "cost_daily_limit",
        "The daily spend above which `cost alerts` alerts (budget.daily_limit).",
        ("currency",),
    )
    limit.add_metric([snapshot.cost_limit[0]], snapshot.cost_limit[1])
    return [family, limit]


def _criterion(scorecard: card.Scorecard, criterion_id: str) -> card.Criterion | None:
    return next((c for c in scorecard.criteria if c.id == criterion_id), None)


def _add_ratio(family: GaugeMetricFamily, criterion: card.Criterion | None) -> None:
    """A percent criterion as a ratio; no sample when it has no data."""
    if criterion is not None and criterion.value is not None:
        family.add_metric([], criterion.value / 100)


def _target_families(scorecard: card.Scorecard) -> list[Metric]:
    met = _gauge(
        "target_met",
        "1 when the scorecard criterion meets its target, 0 when it misses; no sample "
        "without data.",
        ("criterion",),
    )
    value = _gauge(
        "target_value", "The scorecard criterion's value, in its unit.", ("criterion", "unit")
    )
    threshold = _gauge(
        "target_threshold", "The scorecard criterion's target, in its unit.", ("criterion", "unit")
    )
    samples = _gauge(
        "target_samples", "How many samples the criterion's value rests on.", ("criterion",)
    )
    for item in scorecard.criteria:
        threshold.add_metric([item.id, item.unit], item.target)
        if item.samples:
            samples.add_metric([item.id], item.samples)
        if item.value is not None:
            value.add_metric([item.id, item.unit], item.value)
        if item.status != "no-data":
            met.add_metric([item.id], 1.0 if item.status == "met" else 0.0)
    return [met, value, threshold, samples]


def _infrastructure_families(snapshot: Snapshot) -> list[Metric]:
    workflows = _gauge(
        "workflows", "Registered workflows per state (active, disabled_manually...).", ("state",)
    )
    for state, count in sorted(snapshot.workflows.items()):
        workflows.add_metric([state], count)
    synced = _gauge(
        "last_sync_timestamp_seconds",
        "When the repository's last complete sync ended (Unix time).",
        ("repository",),
    )
    for repository, at in snapshot.sync_times:
        synced.add_metric([repository], at.timestamp())
    return [workflows, synced]


# -- the exposition -------------------------------------------------------------------


class StoreCollector(Collector):
    """Reads the store on every collect(): a scrape sees the store as it is."""

    def __init__(self, state: State, store: Store) -> None:
        self.state = state
        self.store = store

    def collect(self) -> Iterator[Metric]:
        yield from families(read_snapshot(self.state, self.store))


def metrics_payload(state: State, store: Store) -> tuple[bytes, str]:
    """The body and content type of `GET /metrics`: a fresh registry per scrape, whose
    collector reads *store* now."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(state, store))
    # Every name here is a classic one, so the body is the 0.0.4 format that every
    # Prometheus (2.x included) and node_exporter's textfile collector read.
    return generate_latest(registry), CONTENT_TYPE_PLAIN_0_0_4


SUFFIXES = {"counter": ("_total",), "gaugehistogram": ("_bucket", "_gsum", "_gcount")}


def metric_names(items: Sequence[Metric]) -> set[str]:
    """Every sample name the families can expose, samples or none (a counter's _total,
    a gauge histogram's _bucket, _gsum and _gcount): what a query may name."""
    return {family.name + suffix for family in items for suffix in SUFFIXES.get(family.type, ("",))}
