"""`/metrics` (web/metrics.py) and `pilothouse metrics`: the exposition parsed back with
prometheus-client's own parser, on both backends; every value against the command that
owns the number (`score`, `flaky`, `cost`, `artifacts`, `runs`, `report`); the store's
bucket reads on constructed runs and jobs; an empty store; label escaping."""

from __future__ import annotations

import contextlib
import json
import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pilothouse.cli.state import State, World
from pilothouse.config import load_config
from pilothouse.model import JobRecord, RunAttempt
from pilothouse.store import Store
from pilothouse.store.metrics import Buckets, runner_label
from pilothouse.web.metrics import (
    QUEUE_BOUNDS,
    RUN_BOUNDS,
    histogram,
    metric_names,
    metrics_payload,
)

from .conftest import FIXED_NOW, Cli, pg_schema

WINDOW = FIXED_NOW - timedelta(days=14)
# Low-cardinality labels only: never a run id, a commit or a test name.
ALLOWED_LABELS = {"workflow", "conclusion", "runner", "outcome", "service", "currency",
                  "criterion", "unit", "repository", "state", "le"}  # fmt: skip
# Families that come from the settings, not the data: present on an empty store too.
CONFIG_FAMILIES = {"pilothouse_window_seconds", "pilothouse_target_threshold",
                   "pilothouse_cost_daily_limit"}  # fmt: skip


def parse(text: str) -> dict[str, Any]:
    """Family name -> family, by prometheus-client's parser (which fails on bad text)."""
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(families: dict[str, Any], name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Sample name *name*'s values by their sorted labels, from whichever family holds it."""
    found = {}
    for family in families.values():
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def scrape(cli: Cli) -> dict[str, Any]:
    code, out, err = cli("metrics")
    assert code == 0, err
    assert err == ""
    return parse(out)


# -- the sample store, both backends --------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """16 days of the sample history, read at FIXED_NOW (its last day)."""
    folder = tmp_path_factory.mktemp("metrics-sample")
    with contextlib.ExitStack() as stack:
        db = f"sqlite:///{folder / 'store.db'}"
        if request.param == "postgresql":
            db = stack.enter_context(pg_schema())
        cli = Cli(cwd=folder, db=db)
        cli.json("sample", "--days", "16", "--end", FIXED_NOW.date().isoformat())
        yield cli


@pytest.fixture(scope="module")
def scraped(demo: Cli) -> dict[str, Any]:
    return scrape(demo)


def test_exposition_parses_with_low_cardinality_labels(scraped: dict[str, Any]) -> None:
    assert all(name.startswith("pilothouse_") for name in scraped)
    labels = {key for family in scraped.values() for s in family.samples for key in s.labels}
    assert labels <= ALLOWED_LABELS
    assert scraped["pilothouse_workflow_run_duration_seconds"].type == "histogram"
    assert scraped["pilothouse_workflow_runs"].type == "counter"  # exposed as ..._total
    assert scraped["pilothouse_test_results"].type == "counter"
    assert scraped["pilothouse_window_seconds"].samples[0].value == 14 * 86400


def _criteria(cli: Cli) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in cli.json("score")["criteria"]}


def test_targets_are_the_scorecard(demo: Cli, scraped: dict[str, Any]) -> None:
    criteria = _criteria(demo)
    value = samples(scraped, "pilothouse_target_value")
    threshold = samples(scraped, "pilothouse_target_threshold")
    met = samples(scraped, "pilothouse_target_met")
    counted = samples(scraped, "pilothouse_target_samples")
    assert len(criteria) == 7 and any(c["status"] == "missed" for c in criteria.values())
    for name, item in criteria.items():
        labels = (("criterion", name), ("unit", item["unit"]))
        assert threshold[labels] == item["target"]
        assert value.get(labels) == item["value"]
        assert met.get((("criterion", name),)) == {"met": 1.0, "missed": 0.0}.get(item["status"])
        assert counted.get((("criterion", name),)) == (item["samples"] or None)


def test_ratios_are_the_scorecards_percentages(demo: Cli, scraped: dict[str, Any]) -> None:
    criteria = _criteria(demo)
    for metric, criterion in (("pilothouse_test_pass_ratio", "test_pass_rate"),
                              ("pilothouse_cache_hit_ratio", "cache_hit_rate")):  # fmt: skip
        [ratio] = samples(scraped, metric).values()
        assert criteria[criterion]["value"] > 50
        assert ratio == pytest.approx(criteria[criterion]["value"] / 100, abs=1e-12)


def test_flaky_counts_are_flakys(demo: Cli, scraped: dict[str, Any]) -> None:
    report = demo.json("flaky", "--window", "14")
    held = demo.json("flaky", "--window", "14", "quarantine")
    [flaky] = samples(scraped, "pilothouse_flaky_tests").values()
    [quarantined] = samples(scraped, "pilothouse_quarantined_tests").values()
    assert flaky == len(report["flaky"]) > 0
    assert quarantined == len(held["quarantined"])


def test_cost_daily_is_costs_day(demo: Cli, scraped: dict[str, Any]) -> None:
    """Yesterday's spend per service, as `cost --by service` shows that day (in cents:
    the metric keeps the ledger's exact sum)."""
    day = (FIXED_NOW.date() - timedelta(days=1)).isoformat()
    report = demo.json("cost", "--by", "service", "--days", "3")
    expected = {
        (("currency", currency), ("service", service)): float(amount)
        for currency, data in report["currencies"].items()
        for row in data["daily"]
        if row["day"] == day
        for service, amount in row["groups"].items()
    }
    got = {k: v for k, v in samples(scraped, "pilothouse_cost_daily").items() if v}
    assert got == pytest.approx(expected, abs=0.005) and len(expected) >= 3
    limit = samples(scraped, "pilothouse_cost_daily_limit")
    assert limit == {(("currency", "USD"),): float(report["currencies"]["USD"]["alert_limit"])}


def test_artifact_bytes_are_the_newest_runs(demo: Cli, scraped: dict[str, Any]) -> None:
    shown = {w["workflow"]: w["newest_mb"] for w in demo.json("artifacts")["workflows"]}
    got = samples(scraped, "pilothouse_artifact_bytes")
    assert {dict(k)["workflow"]: round(v / 1e6, 3) for k, v in got.items()} == shown
    assert shown


def test_run_histogram_is_the_windows_runs(demo: Cli, scraped: dict[str, Any]) -> None:
    """Per workflow and conclusion: the completed runs `runs` lists in the window, each
    bucket counting the durations at most its bound."""
    durations: dict[tuple[str, str], list[float]] = defaultdict(list)
    for run in demo.json("runs", "--window", "14")["runs"]:
        if run["status"] == "completed" and run["duration_seconds"] is not None:
            durations[(run["workflow"], run["conclusion"])].append(run["duration_seconds"])
    buckets = samples(scraped, "pilothouse_workflow_run_duration_seconds_bucket")
    counts = samples(scraped, "pilothouse_workflow_run_duration_seconds_gcount")
    sums = samples(scraped, "pilothouse_workflow_run_duration_seconds_gsum")
    assert len(counts) == len(durations) >= 4
    for (workflow, conclusion), values in durations.items():
        labels = (("conclusion", conclusion), ("workflow", workflow))
        assert counts[labels] == len(values)
        # SQLite's date arithmetic (julianday) keeps milliseconds
        assert sums[labels] == pytest.approx(sum(values), abs=1e-3 * len(values))
        for bound in (*RUN_BOUNDS, math.inf):
            le = "+Inf" if bound == math.inf else f"{bound:.1f}"
            key = tuple(sorted((*labels, ("le", le))))
            assert buckets[key] == sum(1 for v in values if v <= bound)


def test_counters_are_the_stores_totals(demo: Cli, scraped: dict[str, Any]) -> None:
    counts = demo.json("report")["counts"]
    results = samples(scraped, "pilothouse_test_results_total")
    assert sum(results.values()) == counts["test_results"] > 0
    assert results[(("outcome", "failed"),)] > 0
    runs = samples(scraped, "pilothouse_workflow_runs_total")
    assert sum(runs.values()) == counts["runs"]
    workflows = samples(scraped, "pilothouse_workflows")
    assert workflows == {(("state", "active"),): counts["workflows"]}


def test_the_sample_has_no_queue_times_nor_syncs(scraped: dict[str, Any]) -> None:
    """Its jobs come from reports alone (placeholders, no queue) and it never synced:
    the families are there, without samples."""
    assert scraped["pilothouse_job_queue_seconds"].samples == []
    assert scraped["pilothouse_last_sync_timestamp_seconds"].samples == []


def test_output_file_is_the_same_exposition(demo: Cli, tmp_path: Path) -> None:
    target = tmp_path / "pilothouse.prom"
    code, out, err = demo("metrics", "--output", str(target))
    assert (code, out, err) == (0, "", "")
    assert parse(target.read_text()).keys() == scrape(demo).keys()
    assert target.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["pilothouse.prom"]


# -- edges ------------------------------------------------------------------------------------


def test_empty_store_exports_families_without_data(cli: Cli) -> None:
    code, _out, err = cli("db", "upgrade")
    assert code == 0, err
    families = scrape(cli)
    with_samples = {name for name, family in families.items() if family.samples}
    assert with_samples == CONFIG_FAMILIES


def test_missing_store_is_an_error_and_creates_nothing(sqlite_cli: Cli, tmp_path: Path) -> None:
    code, out, err = sqlite_cli("metrics")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "no pilothouse store here" in err
    assert not (tmp_path / "store.db").exists()


def test_unwritable_output_is_one_line_and_leaves_nothing(demo: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "pilothouse.prom"
    code, _out, err = demo("metrics", "--output", str(missing))
    assert code == 1
    assert err == f"pilothouse: error: {missing}: cannot write: No such file or directory\n"


AWKWARD = 'ci "nightly"\nline two\\ <script>alert(1)</script> & é'


def test_label_values_are_escaped(cli: Cli, tmp_path: Path) -> None:
    """Quotes, a newline, a backslash and HTML in a workflow name come back unchanged
    through the text format (which escapes \\, " and newlines; HTML is plain text in it)."""
    report = tmp_path / "r.xml"
    report.write_text('<testsuite name="s"><testcase classname="c" name="t"/></testsuite>')
    cli.json("ingest", "junit", str(report), "--run-id", "7", "--workflow", AWKWARD)
    code, out, err = cli("metrics")
    assert code == 0, err
    assert 'workflow="ci \\"nightly\\"\\nline two\\\\ <script>' in out
    runs = samples(parse(out), "pilothouse_workflow_runs_total")
    assert {dict(labels)["workflow"] for labels in runs} == {AWKWARD}


# -- the store's reads, on constructed runs and jobs ---------------------------------------------

REPO = "acme/widgets"
T0 = FIXED_NOW - timedelta(days=2)


def _run(key: str, workflow: str, minutes: float, conclusion: str | None, *, attempt: int = 1,
         at: datetime = T0, status: str = "completed") -> RunAttempt:  # fmt: skip
    return RunAttempt(key, attempt, workflow, "w-" + workflow, 1, "push", "main", "abc", status,
                      conclusion, at, at, at + timedelta(minutes=minutes))  # fmt: skip


def _job(key: str, run_key: str, queued: float | None, labels: tuple[str, ...]) -> JobRecord:
    started = T0 + timedelta(seconds=queued or 0)
    created = None if queued is None else T0
    return JobRecord(key, run_key, 1, "build", "completed", "success", created, started,
                     started + timedelta(minutes=3), labels)  # fmt: skip


def test_run_buckets_take_the_latest_attempt_in_the_window(store: Store) -> None:
    store.store_github_run(REPO, [_run("1", "ci", 4, "failure"),
                                  _run("1", "ci", 25, "success", attempt=2)], [])  # fmt: skip
    store.store_github_run(REPO, [_run("2", "ci", 9.5, "success")], [])
    store.store_github_run(REPO, [_run("3", "ci", 200, "success")], [])
    store.store_github_run(REPO, [_run("4", "ci", 1, "cancelled")], [])
    store.store_github_run(
        REPO, [_run("5", "ci", 3, "success", at=FIXED_NOW - timedelta(days=30))], []
    )
    store.store_github_run(REPO, [_run("6", "ci", 3, None, status="in_progress")], [])
    bounds = (600.0, 1800.0)
    found = {b.labels: b for b in store.run_duration_buckets(WINDOW, bounds)}
    assert set(found) == {("ci", "success"), ("ci", "cancelled")}
    success = found[("ci", "success")]
    assert success.counts == (1, 1, 1)  # 9.5 min, 25 min (attempt 2), 200 min
    assert success.total == pytest.approx(60 * (9.5 + 25 + 200))
    assert found[("ci", "cancelled")].counts == (1, 0, 0)


def test_queue_buckets_per_runner_labels_leave_placeholders_out(store: Store) -> None:
    jobs = [
        _job("a", "1", 4, ("ubuntu-latest",)),
        _job("b", "1", 40, ("ubuntu-latest",)),
        _job("c", "1", 700, ("self-hosted", "linux")),
        _job("d", "1", None, ("ubuntu-latest",)),  # no created time: no queue
        _job("junit:tests", "1", 30, ("ubuntu-latest",)),  # a report's placeholder
    ]
    store.store_github_run(REPO, [_run("1", "ci", 10, "success")], jobs)
    found = {b.labels: b for b in store.job_queue_buckets(WINDOW, QUEUE_BOUNDS[:3])}
    assert found[("ubuntu-latest",)].counts == (0, 1, 0, 1)  # 4 s <= 5; 40 s > 10
    assert found[("ubuntu-latest",)].total == pytest.approx(44)
    assert found[("self-hosted,linux",)].counts == (0, 0, 0, 1)
    assert len(found) == 2


def test_totals_and_sync_times(store: Store) -> None:
    store.store_github_run(REPO, [_run("1", "ci", 4, "failure"),
                                  _run("1", "ci", 5, "success", attempt=2)], [])  # fmt: skip
    store.store_github_run(REPO, [_run("2", "lint", 1, None, status="queued")], [])
    assert store.run_totals() == [("ci", "failure", 1), ("ci", "success", 1),
                                  ("lint", "queued", 1)]  # fmt: skip
    assert store.sync_times() == []
    synced = datetime(2026, 11, 27, 8, 30, tzinfo=UTC)
    store.set_sync_state(REPO, cursor=None, synced_at=synced)
    assert store.sync_times() == [(REPO, synced)]
    assert store.outcome_totals() == {"passed": 0, "failed": 0, "skipped": 0}


def test_sync_time_is_exported_in_unix_seconds(cli: Cli) -> None:
    cli("db", "upgrade")
    synced = datetime(2026, 11, 27, 8, 30, tzinfo=UTC)
    with Store.open(cli.db) as store:
        store.set_sync_state(REPO, cursor=None, synced_at=synced)
    got = samples(scrape(cli), "pilothouse_last_sync_timestamp_seconds")
    assert got == {(("repository", REPO),): synced.timestamp()}


@pytest.mark.parametrize(
    ("stored", "label"),
    [('["ubuntu-latest"]', "ubuntu-latest"), ('["self-hosted", "x64"]', "self-hosted,x64"),
     ("[]", "none"), ("not json", "none"), ('{"a": 1}', "none")],
)  # fmt: skip
def test_runner_label(stored: str, label: str) -> None:
    assert runner_label(stored) == label


def test_queue_histogram_exported_from_synced_jobs(cli: Cli) -> None:
    cli("db", "upgrade")
    with Store.open(cli.db) as store:
        store.store_github_run(REPO, [_run("1", "ci", 10, "success")],
                               [_job("a", "1", 45, ("ubuntu-latest",))])  # fmt: skip
    families = scrape(cli)
    buckets = samples(families, "pilothouse_job_queue_seconds_bucket")
    assert buckets[(("le", "30.0"), ("runner", "ubuntu-latest"))] == 0
    assert buckets[(("le", "60.0"), ("runner", "ubuntu-latest"))] == 1
    assert samples(families, "pilothouse_job_queue_seconds_gsum") == {
        (("runner", "ubuntu-latest"),): pytest.approx(45)
    }
    assert json.dumps(sorted(families))  # names are plain strings


# -- the server's entry point and the pure families ---------------------------------------------


def _state(cli: Cli) -> State:
    world = World(env={}, cwd=cli.cwd, clock=lambda: cli.now)
    return State(load_config(path=None, env={}, flags={"db": cli.db}, cwd=cli.cwd), world)


def test_payload_reads_the_store_at_each_scrape(cli: Cli, tmp_path: Path) -> None:
    """`metrics_payload` (what `GET /metrics` calls): the 0.0.4 content type, and a fresh
    registry per call, so a result stored between two scrapes shows in the second."""
    report = tmp_path / "r.xml"
    report.write_text('<testsuite name="s"><testcase classname="c" name="t"/></testsuite>')
    cli.json("ingest", "junit", str(report), "--run-id", "1", "--workflow", "ci")
    with Store.open(cli.db) as store:
        first, content_type = metrics_payload(_state(cli), store)
        cli.json("ingest", "junit", str(report), "--run-id", "2", "--workflow", "ci")
        second, _ = metrics_payload(_state(cli), store)
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    total = "pilothouse_test_results_total"
    assert samples(parse(first.decode()), total)[(("outcome", "passed"),)] == 1
    assert samples(parse(second.decode()), total)[(("outcome", "passed"),)] == 2


def test_gauge_histogram_is_cumulative_with_inf_last() -> None:
    family = histogram(
        "x_seconds", "x", ("runner",), [Buckets(("a",), (2, 0, 3), 99.5)], (1.0, 2.5)
    )
    got = [(s.name, s.labels.get("le"), s.value) for s in family.samples]
    assert got == [
        ("pilothouse_x_seconds_bucket", "1.0", 2.0),
        ("pilothouse_x_seconds_bucket", "2.5", 2.0),
        ("pilothouse_x_seconds_bucket", "+Inf", 5.0),
        ("pilothouse_x_seconds_gcount", None, 5.0),
        ("pilothouse_x_seconds_gsum", None, 99.5),
    ]
    assert metric_names([family]) == {
        "pilothouse_x_seconds_bucket",
        "pilothouse_x_seconds_gsum",
        "pilothouse_x_seconds_gcount",
    }
