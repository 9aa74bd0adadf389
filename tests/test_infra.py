"""Infrastructure status without AWS: planning GetMetricData (cursors, batches of 500,
answers over several NextToken pages), the store's window aggregates on both backends,
and the recommendations and `cost whatif` scenarios made from them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from pilothouse.analysis.test_stats import percentile
from pilothouse.errors import InputError
from pilothouse.infra import metrics as plan
from pilothouse.infra import report
from pilothouse.infra.model import GROUP, INSTANCE, MetricPoint, MetricStats, Resource, Runner
from pilothouse.model import CostLine
from pilothouse.store import Store
from tests.conftest import Cli

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # a Friday


def instance(key: str, kind: str = "m5.2xlarge", **fields: object) -> Resource:
    values = {"key": key, "kind": INSTANCE, "name": key, "region": "eu-west-1",
              "state": "running", "instance_type": kind} | fields  # fmt: skip
    return Resource(**values)  # type: ignore[arg-type]


# -- planning the reads --------------------------------------------------------------------


def test_read_end_leaves_the_unsettled_period_out() -> None:
    assert plan.read_end(NOW, 300) == datetime(2026, 11, 27, 11, 50, tzinfo=UTC)
    assert plan.read_end(NOW, 3600) == datetime(2026, 11, 27, 11, 0, tzinfo=UTC)
    assert plan.read_end(NOW + timedelta(minutes=14), 300) == NOW


def test_plan_starts_each_metric_at_its_cursor_or_the_backfill() -> None:
    end = plan.read_end(NOW, 300)
    a, b = instance("i-a"), instance("i-b")
    cursors = {("i-a", "cpu"): end - timedelta(minutes=30), ("i-b", "cpu"): end}
    agent = {("InstanceId", "i-a"): (("InstanceId", "i-a"), ("InstanceType", "m5.2xlarge"))}
    queries = plan.plan([a, b], agent, cursors, end=end, backfill=timedelta(days=2),
                        period_seconds=300)  # fmt: skip
    by = {(q.resource, q.metric): q for q in queries}
    assert by[("i-a", "cpu")].start == end - timedelta(minutes=30)
    assert ("i-b", "cpu") not in by  # read up to the end already
    assert by[("i-a", "network_in")].start == end - timedelta(days=2)
    assert by[("i-a", "memory")].dimensions == agent[("InstanceId", "i-a")]
    assert ("i-b", "memory") not in by  # no agent metric for it: nothing to ask
    assert by[("i-b", "status_failed")].dimensions == (("InstanceId", "i-b"),)


def test_a_cursor_older_than_the_backfill_starts_at_the_backfill() -> None:
    end = plan.read_end(NOW, 3600)
    old = {("i-a", "cpu"): end - timedelta(days=400)}
    (cpu, *_rest) = plan.plan([instance("i-a")], {}, old, end=end, backfill=timedelta(days=3),
                              period_seconds=3600)  # fmt: skip
    assert cpu.start == end - timedelta(days=3)


def test_a_group_is_read_by_its_auto_scaling_dimension() -> None:
    group = Resource("asg:ci", GROUP, "ci", "eu-west-1", "2/2 InService", "c5.large", capacity=2)
    queries = plan.plan([group], {}, {}, end=NOW, backfill=timedelta(days=1), period_seconds=300)
    assert {q.dimensions for q in queries} == {(("AutoScalingGroupName", "ci"),)}
    assert {q.metric for q in queries} == {"cpu", "network_in", "network_out", "status_failed"}


def test_agent_dimensions_take_the_smallest_set_naming_the_instance() -> None:
    listed = [
        {"Dimensions": [{"Name": "InstanceId", "Value": "i-a"}, {"Name": "ImageId", "Value": "x"},
                        {"Name": "InstanceType", "Value": "m5.large"}]},
        {"Dimensions": [{"Name": "InstanceId", "Value": "i-a"},
                        {"Name": "InstanceType", "Value": "m5.large"}]},
        {"Dimensions": [{"Name": "AutoScalingGroupName", "Value": "ci"}]},
        {"Dimensions": [{"Name": "host", "Value": "ip-10-0-0-1"}]},
    ]  # fmt: skip
    found = plan.agent_dimensions(listed)
    assert found[("InstanceId", "i-a")] == (("InstanceId", "i-a"), ("InstanceType", "m5.large"))
    assert found[("AutoScalingGroupName", "ci")] == (("AutoScalingGroupName", "ci"),)
    assert len(found) == 2


def test_batches_hold_at_most_500_queries_of_one_start() -> None:
    early, late = NOW - timedelta(days=1), NOW - timedelta(hours=1)
    queries = [plan.Query(f"i-{n}", "cpu", (("InstanceId", f"i-{n}"),), early) for n in range(1001)]
    queries += [plan.Query("i-x", "cpu", (("InstanceId", "i-x"),), late)]
    found = list(plan.batches(queries))
    assert [(start, len(batch)) for start, batch in found] == [
        (early, 500), (early, 500), (early, 1), (late, 1)
    ]  # fmt: skip
    request = plan.request(found[0][1], early, NOW, 300)
    assert len(request["MetricDataQueries"]) == 500
    first = request["MetricDataQueries"][0]
    assert first["Id"] == "q0" and first["MetricStat"]["Stat"] == "Average"
    assert first["MetricStat"]["Metric"] == {
        "Namespace": "AWS/EC2", "MetricName": "CPUUtilization",
        "Dimensions": [{"Name": "InstanceId", "Value": "i-0"}],
    }  # fmt: skip


def test_a_query_answered_over_several_pages_keeps_every_point() -> None:
    """GetMetricData splits a long answer over NextToken pages, the same Id on each."""
    batch = [plan.Query("i-a", "cpu", (("InstanceId", "i-a"),), NOW),
             plan.Query("i-a", "network_in", (("InstanceId", "i-a"),), NOW)]  # fmt: skip
    t = [NOW + timedelta(minutes=5 * k) for k in range(4)]
    pages = [
        {"MetricDataResults": [
            {"Id": "q0", "Label": "CPUUtilization", "Timestamps": t[:2], "Values": [1.0, 2.0],
             "StatusCode": "PartialData"},
            {"Id": "q1", "Label": "NetworkIn", "Timestamps": [], "Values": [],
             "StatusCode": "PartialData"}], "NextToken": "abc", "Messages": []},
        {"MetricDataResults": [
            {"Id": "q0", "Label": "CPUUtilization", "Timestamps": t[2:], "Values": [3.0, 4.0],
             "StatusCode": "Complete"},
            {"Id": "q1", "Label": "NetworkIn", "Timestamps": t[:1], "Values": [5e6],
             "StatusCode": "Complete"}], "Messages": []},
    ]  # fmt: skip
    points = list(plan.points_of(batch, pages, 300))
    assert [(p.metric, p.start, p.value) for p in points] == [
        ("cpu", t[0], 1.0), ("cpu", t[1], 2.0), ("cpu", t[2], 3.0), ("cpu", t[3], 4.0),
        ("network_in", t[0], 5e6),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("result", "error"),
    [
        ({"Id": "q7", "Timestamps": [], "Values": []}, "unknown query id 'q7'"),
        ({"Id": "q0", "Timestamps": [NOW], "Values": []}, "1 timestamps for 0 values"),
        ({"Id": "q0", "StatusCode": "Forbidden", "Messages": [{"Code": "Forbidden",
          "Value": "not authorized"}]}, "cpu of i-a: Forbidden: not authorized"),
        ({"Id": "q0", "Timestamps": ["yesterday"], "Values": [1.0]}, "is not a time"),
    ],
)  # fmt: skip
def test_a_malformed_answer_is_one_clear_error(result: dict[str, object], error: str) -> None:
    batch = [plan.Query("i-a", "cpu", (("InstanceId", "i-a"),), NOW)]
    with pytest.raises(InputError, match=error):
        list(plan.points_of(batch, [{"MetricDataResults": [result]}], 300))


# -- the store -------------------------------------------------------------------------------


def _hourly(key: str, metric: str, start: datetime, values: list[float]) -> list[MetricPoint]:
    return [MetricPoint(key, metric, start + timedelta(hours=i), 3600, v)
            for i, v in enumerate(values)]  # fmt: skip


def test_points_are_stored_once_and_cursors_move(store: Store) -> None:
    start = datetime(2026, 11, 20, tzinfo=UTC)
    points = _hourly("i-a", "cpu", start, [1.0, 2.0, 3.0])
    through = {("i-a", "cpu"): start + timedelta(hours=3)}
    saved = store.save_infra([instance("i-a")], points, through, seen_at=NOW)
    assert (saved.resources, saved.points, saved.known_points) == (1, 3, 0)
    again = points[1:] + _hourly("i-a", "cpu", start + timedelta(hours=3), [9.0])
    moved = {("i-a", "cpu"): start + timedelta(hours=4)}
    stopped = instance("i-a", state="stopped")
    saved = store.save_infra([stopped], again, moved, seen_at=NOW + timedelta(hours=1))
    assert (saved.resources, saved.points, saved.known_points) == (0, 1, 2)
    assert store.infra_cursors() == moved
    (stored,) = store.infra_resources()
    assert stored.resource == stopped and stored.seen_at == NOW + timedelta(hours=1)
    assert store.infra_range() == (start, start + timedelta(hours=3))


def test_a_bad_point_writes_nothing(store: Store) -> None:
    points = _hourly("i-a", "cpu", NOW, [1.0]) + [MetricPoint("i-a", "x" * 40, NOW, 3600, 1.0)]
    with pytest.raises(InputError, match="metric 'x"):
        store.save_infra([instance("i-a")], points, {}, seen_at=NOW)
    assert store.infra_resources() == [] and store.infra_range() is None


def test_window_stats_are_aggregated_alike_on_both_backends(store: Store) -> None:
    """p50/p95 as numpy's linear percentile; idle and weekend hours summed per period."""
    rng = random.Random(17)
    start = datetime(2026, 11, 16, tzinfo=UTC)  # a Monday: 7 days, Saturday and Sunday in
    values = [round(rng.uniform(0, 40), 3) for _ in range(7 * 24)]
    memory = [50.0 + (i % 7) for i in range(7 * 24)]
    points = _hourly("i-a", "cpu", start, values) + _hourly("i-a", "memory", start, memory)
    points += _hourly("i-b", "cpu", start - timedelta(days=30), [99.0])  # before the window
    store.save_infra([instance("i-a"), instance("i-b")], points, {}, seen_at=NOW)
    stats = {s.metric: s for s in store.infra_stats(start, start + timedelta(days=7),
                                                     idle_below=5.0)}  # fmt: skip
    cpu = stats["cpu"]
    assert cpu.points == 168 and cpu.hours == 168.0
    assert cpu.p50 == percentile(values, 50) and cpu.p95 == percentile(values, 95)
    assert cpu.maximum == max(values) and cpu.mean == pytest.approx(sum(values) / 168)
    assert cpu.below_idle_hours == sum(1 for v in values if v < 5.0)
    assert cpu.weekend_hours == 48.0
    assert cpu.weekend_below_idle_hours == sum(1 for v in values[120:] if v < 5.0)
    assert stats["memory"].p95 == percentile(memory, 95)
    assert [s.resource for s in store.infra_stats(start, NOW, idle_below=5.0)] == ["i-a", "i-a"]


@pytest.mark.parametrize("count", [1, 2, 3, 20, 21, 101])
def test_sql_percentiles_match_the_linear_definition(store: Store, count: int) -> None:
    values = [float((i * 37) % 101) for i in range(count)]
    store.save_infra([instance("i-a")], _hourly("i-a", "cpu", NOW, values), {}, seen_at=NOW)
    (stats,) = store.infra_stats(NOW, NOW + timedelta(days=30), idle_below=5.0)
    assert (stats.p50, stats.p95) == (percentile(values, 50), percentile(values, 95))


def test_runners_replace_their_scope_only(store: Store) -> None:
    a = Runner("repo:o/r", "1", "gpu-1", "linux", "online", True, ("self-hosted", "gpu"))
    b = Runner("repo:o/r", "2", "gpu-2", "linux", "offline", False, ("self-hosted", "gpu"))
    c = Runner("org:o", "9", "mac", "macos", "online", False, ("self-hosted", "macOS"))
    assert store.replace_runners({"repo:o/r": [a, b], "org:o": [c]}, seen_at=NOW) == 3
    idle = Runner("repo:o/r", "1", "gpu-1", "linux", "online", False, ("self-hosted", "gpu"))
    assert store.replace_runners({"repo:o/r": [idle]}, seen_at=NOW + timedelta(hours=1)) == 0
    assert [(s.runner, s.seen_at) for s in store.runners()] == [
        (c, NOW), (idle, NOW + timedelta(hours=1))
    ]  # fmt: skip
    store.replace_runners({"org:o": []}, seen_at=NOW)
    assert [s.runner for s in store.runners()] == [idle]


# -- recommendations -----------------------------------------------------------------------


def stats(key: str, p95: float, *, hours: float = 168.0, weekend_idle: float = 48.0) -> MetricStats:
    return MetricStats(key, "cpu", int(hours), p95 / 2, p95 / 2, p95, p95, weekend_idle, hours,
                       48.0, weekend_idle)  # fmt: skip


PRICES = {"m5.2xlarge": 0.384, "m5.xlarge": 0.192, "c5.large": 0.085}
LIMITS = report.Thresholds(idle_cpu=5.0, target_cpu=60.0)


def test_an_instance_idle_on_weekends_and_oversized_gets_both() -> None:
    status = report.judge(instance("i-a"), NOW, {"cpu": stats("i-a", 20.0)}, PRICES, LIMITS)
    assert status.weekdays_only
    assert status.rightsize is not None and status.rightsize.proposed == "m5.xlarge"
    assert status.saving_per_day() == {"weekdays_only": round(0.384 * 48 / 7, 2),
                                       "rightsize": round(0.384 * 24 * 0.5, 2)}  # fmt: skip


@pytest.mark.parametrize(
    ("cpu", "weekdays", "size"),
    [
        (stats("i-a", 70.0, weekend_idle=10.0), False, None),  # busy on weekends and weekdays
        (stats("i-a", 20.0, hours=12.0), False, None),  # too few hours to judge
        (stats("i-a", 20.0, weekend_idle=43.0), False, "m5.xlarge"),  # 43/48 < 90 % idle
    ],
)
def test_no_advice_without_the_evidence(cpu: MetricStats, weekdays: bool, size: str | None) -> None:
    status = report.judge(instance("i-a"), NOW, {"cpu": cpu}, PRICES, LIMITS)
    assert status.weekdays_only is weekdays
    assert (status.rightsize.proposed if status.rightsize else None) == size


def test_a_stopped_instance_saves_nothing_and_an_unpriced_one_says_so() -> None:
    stopped = report.judge(instance("i-a", state="stopped"), NOW, {"cpu": stats("i-a", 20.0)},
                           PRICES, LIMITS)  # fmt: skip
    assert stopped.saving_per_day() == {"weekdays_only": 0.0, "rightsize": 0.0}
    unpriced = report.judge(instance("i-a"), NOW, {"cpu": stats("i-a", 20.0)}, {}, LIMITS)
    assert unpriced.saving_per_day() == {"weekdays_only": None, "rightsize": None}
    assert unpriced.rightsize is not None and unpriced.rightsize.priced_by == "capacity"


def _line(resource: str, day: str, amount: str) -> CostLine:
    return CostLine(source="cur", line_key=f"{resource}-{day}", day=datetime.fromisoformat(day)
                    .date(), service="Amazon Elastic Compute Cloud", amount=Decimal(amount),
                    currency="USD", resource=resource)  # fmt: skip


def test_whatif_scenarios_reprice_the_instances_lines() -> None:
    group = Resource("asg:ci", GROUP, "ci", "eu-west-1", "2/2 InService", "c5.large", capacity=2)
    members = [instance(f"i-m{n}", "c5.large", group="ci") for n in range(2)]
    rows = [
        report.judge(instance("i-a"), NOW, {"cpu": stats("i-a", 20.0)}, PRICES, LIMITS),
        report.judge(group, NOW, {"cpu": stats("asg:ci", 55.0)}, PRICES, LIMITS),
        *(report.judge(m, NOW, {}, PRICES, LIMITS) for m in members),
    ]
    rightsize, weekdays = report.whatif_scenarios(rows, PRICES, 60.0)
    saturday, monday = "2026-11-21", "2026-11-23"
    assert rightsize.apply(_line("i-a", monday, "9.216")) == Decimal("4.608")
    assert rightsize.apply(_line("i-m0", monday, "2.04")) == Decimal("2.04")
    assert weekdays.apply(_line("i-a", saturday, "9.216")) == 0
    assert weekdays.apply(_line("i-m1", saturday, "2.04")) == 0  # the group's instances
    assert weekdays.apply(_line("i-a", monday, "9.216")) == Decimal("9.216")


def test_runners_for_a_label_set_are_those_holding_every_label() -> None:
    fleet = [
        Runner("org:o", "1", "a", "linux", "online", False, ("self-hosted", "Linux", "gpu")),
        Runner("org:o", "2", "b", "linux", "online", True, ("self-hosted", "linux", "gpu")),
        Runner("org:o", "3", "c", "linux", "offline", False, ("self-hosted", "linux")),
    ]
    assert report.runners_for(["self-hosted", "linux", "gpu"], fleet) == {
        "idle": 1, "busy": 1, "offline": 0
    }  # fmt: skip
    assert report.runners_for(["self-hosted"], fleet) == {"idle": 1, "busy": 1, "offline": 1}
    assert report.runners_for(["ubuntu-latest"], fleet) == {"idle": 0, "busy": 0, "offline": 0}
    assert report.runners_for([], fleet) == {"idle": 0, "busy": 0, "offline": 0}


# -- the sample ----------------------------------------------------------------------------


def test_the_sample_holds_an_idle_build_cache_and_a_busy_runner_pool(sqlite_cli: Cli) -> None:
    loaded = sqlite_cli.json("sample", "--days", "14", "--end", "2026-11-27")
    assert loaded["infra_points"] == 2 * 5 * 14 * 24
    again = sqlite_cli.json("sample", "--days", "14", "--end", "2026-11-27")
    assert again["infra_points"] == loaded["infra_points"]
    data = sqlite_cli.json("infra", "--window", "14")
    rows = {row["key"]: row for row in data["instances"]}
    cache, pool = rows["i-build-cache"], rows["i-ci-runner-pool"]
    assert cache["weekdays_only"] and cache["rightsize_to"] == "m5.large"
    assert cache["cpu_percent"]["points"] == 14 * 24 - 12  # the window starts at noon
    assert not pool["weekdays_only"] and pool["rightsize_to"] is None
    assert pool["status_check_failed"] is True and cache["status_check_failed"] is False
    whatif = sqlite_cli.json("cost", "whatif", "--from-infra", "--days", "14")
    savings = {s["name"]: Decimal(s["saving_per_day"]) for s in whatif["scenarios"]}
    assert savings["rightsize from utilisation"] > 0 and savings["weekdays-only"] > 0
