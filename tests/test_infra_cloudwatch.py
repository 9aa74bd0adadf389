"""`ingest cloudwatch`, `infra` and `cost whatif --from-infra` against moto's EC2, Auto
Scaling and CloudWatch (mock_aws): instances and groups described, their metrics put with
put_metric_data as EC2 and the CloudWatch agent publish them, read back incrementally."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from pilothouse.analysis.test_stats import percentile
from pilothouse.infra.ingest import Selection, ingest_cloudwatch
from pilothouse.store import Store
from tests import aws_world as world
from tests.conftest import FIXED_NOW, Cli

START = datetime(2026, 11, 19, tzinfo=UTC)  # a Thursday: 8 days hold one weekend
HOURS = 8 * 24
CONFIG = """
[infra]
period_seconds = 3600
backfill_days = 9

[cost.instance_prices]
"m5.2xlarge" = 0.384
"m5.xlarge" = 0.192
"c5.large" = 0.085
"""


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """A mocked AWS account; credentials only as the standard chain reads them."""
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", world.REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    with mock_aws():
        yield boto3.session.Session(region_name=world.REGION)


def cpu_of(moment: datetime) -> float:
    """A build box: idle (3 %) on weekends, 10-20 % on weekdays."""
    return 3.0 if moment.weekday() >= 5 else 10.0 + moment.hour % 11


@pytest.fixture
def fleet(aws: Any, cli: Cli) -> dict[str, Any]:
    """A tagged build instance with the agent, an untagged one, and a busy group."""
    (cli.cwd / "pilothouse.toml").write_text(CONFIG)
    build = world.run_instance(aws, "m5.2xlarge", "build-1")
    other = world.run_instance(aws, "t3.micro", "not-watched", watch=False)
    times = world.hours(START, HOURS)
    cpu = world.put(aws, "AWS/EC2", "CPUUtilization", {"InstanceId": build}, times, cpu_of)
    agent = {"InstanceId": build, "ImageId": world.AMI, "InstanceType": "m5.2xlarge"}
    memory = world.put(aws, "CWAgent", "mem_used_percent", agent, times,
                       lambda t: 40.0 + t.hour)  # fmt: skip
    world.put(aws, "AWS/EC2", "NetworkIn", {"InstanceId": build}, times, lambda t: 2e9)
    world.put(aws, "AWS/EC2", "StatusCheckFailed", {"InstanceId": build}, times,
              lambda t: 1.0 if t == times[30] else 0.0)  # fmt: skip
    world.put(aws, "AWS/EC2", "CPUUtilization", {"InstanceId": other}, times, lambda t: 50.0)
    return {"build": build, "other": other, "cpu": cpu, "memory": memory, "times": times}


def _read_window(values: list[float], times: list[datetime], until: datetime) -> list[float]:
    first = until - timedelta(days=9)
    return [v for v, t in zip(values, times, strict=True) if first <= t < until]


def test_ingest_reads_the_tagged_instances_and_infra_reports_them(
    cli: Cli, fleet: dict[str, Any]
) -> None:
    counts = cli.json("ingest", "cloudwatch")
    assert counts["instances"] == 1 and counts["groups"] == 0
    assert counts["queries"] == 5  # cpu, memory (agent), network in and out, status checks
    assert counts["points"] == counts["new_points"] > 0
    data = cli.json("infra", "--window", "14")
    (row,) = data["instances"]
    end = datetime(2026, 11, 27, 11, tzinfo=UTC)  # the newest settled hour before now
    cpu = _read_window(fleet["cpu"], fleet["times"], end)
    memory = _read_window(fleet["memory"], fleet["times"], end)
    assert row["key"] == fleet["build"] and row["name"] == "build-1"
    assert (row["state"], row["instance_type"]) == ("running", "m5.2xlarge")
    assert row["cpu_percent"]["p50"] == round(percentile(cpu, 50), 2)
    assert row["cpu_percent"]["p95"] == round(percentile(cpu, 95), 2)
    assert row["cpu_percent"]["points"] == len(cpu)
    assert row["memory_percent"]["p95"] == round(percentile(memory, 95), 2)
    assert row["idle_hours"] == 48.0 and row["weekend_idle_hours"] == 48.0
    assert row["network_in_gb"] == pytest.approx(2.0 * len(cpu))
    assert row["status_check_failed"] is True
    assert row["weekdays_only"] is True and row["rightsize_to"] == "m5.xlarge"
    assert row["saving_per_day"] == {"weekdays_only": round(0.384 * 48 / 7, 2),
                                     "rightsize": round(0.384 * 24 / 2, 2)}  # fmt: skip
    assert data["saving_per_day"] == row["saving_per_day"]


def test_a_second_ingest_reads_only_what_is_new(cli: Cli, fleet: dict[str, Any], aws: Any) -> None:
    first = cli.json("ingest", "cloudwatch")
    assert cli.json("ingest", "cloudwatch") == {**first, "new_resources": 0, "queries": 0,
                                                "points": 0, "new_points": 0}  # fmt: skip
    later = world.hours(datetime(2026, 11, 27, 11, tzinfo=UTC), 4)  # the last is not settled
    world.put(aws, "AWS/EC2", "CPUUtilization", {"InstanceId": fleet["build"]}, later,
              lambda t: 77.0)  # fmt: skip
    cli.now = FIXED_NOW + timedelta(hours=3)
    again = cli.json("ingest", "cloudwatch")
    # 11:00 to 14:00 of each of the 5 metrics; only the cpu points exist
    assert (again["queries"], again["points"], again["new_points"]) == (5, 3, 3)
    (row,) = cli.json("infra")["instances"]
    assert row["cpu_percent"]["max"] == 77.0


def test_named_groups_bring_their_instances(cli: Cli, aws: Any) -> None:
    (cli.cwd / "pilothouse.toml").write_text(CONFIG)
    members = world.make_group(aws, "ci-runners", "c5.large", 2)
    world.put(aws, "AWS/EC2", "CPUUtilization", {"AutoScalingGroupName": "ci-runners"},
              world.hours(START, HOURS), lambda t: 55.0)  # fmt: skip
    counts = cli.json("ingest", "cloudwatch", "--group", "ci-runners")
    assert (counts["instances"], counts["groups"]) == (2, 1)
    data = cli.json("infra")
    (group,) = data["groups"]
    assert group["key"] == "asg:ci-runners" and group["state"] == "2/2 InService"
    assert group["instance_type"] == "c5.large" and group["capacity"] == 2
    assert group["cpu_percent"]["p95"] == 55.0 and group["weekdays_only"] is False
    assert {i["key"] for i in data["instances"]} == set(members)
    assert {i["group"] for i in data["instances"]} == {"ci-runners"}


def test_an_unknown_group_or_instance_is_one_line(cli: Cli, aws: Any) -> None:
    code, _out, err = cli("ingest", "cloudwatch", "--group", "nope")
    assert code == 1 and "no group nope in eu-west-1" in err
    code, _out, err = cli("ingest", "cloudwatch", "--instance", "i-0123456789abcdef0")
    assert code == 1 and "ec2 describe_instances: InvalidInstanceID.NotFound" in err
    assert len(err.strip().splitlines()) == 1


def test_no_credentials_is_a_clear_error_and_nothing_is_printed(
    cli: Cli, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code, out, err = cli("ingest", "cloudwatch")
    assert code == 1 and out == ""
    assert "no AWS credentials in the standard chain" in err


def test_credentials_are_never_printed_or_stored(cli: Cli, fleet: dict[str, Any]) -> None:
    code, out, err = cli("--debug", "ingest", "cloudwatch")
    assert code == 0
    assert "testing-secret" not in out + err
    if cli.db.startswith("sqlite"):
        assert b"testing-secret" not in Path(cli.db.removeprefix("sqlite:///")).read_bytes()


def test_without_boto3_the_command_names_the_extra(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    code, _out, err = cli("ingest", "cloudwatch")
    assert code == 1 and "pip install 'pilothouse[aws]'" in err


def test_more_than_500_queries_go_in_several_calls(aws: Any, store: Store) -> None:
    made = aws.client("ec2").run_instances(ImageId=world.AMI, MinCount=130, MaxCount=130,
                                           InstanceType="t3.small")  # fmt: skip
    ids = [item["InstanceId"] for item in made["Instances"]]
    calls: list[int] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        calls.append(len(params["MetricDataQueries"]))

    aws.events.register("provide-client-params.cloudwatch.GetMetricData", count)
    counts = ingest_cloudwatch(store, aws, Selection(ids, [], "pilothouse:watch", 3600, 1),
                               now=FIXED_NOW)  # fmt: skip
    assert counts.queries == 130 * 4  # no agent metric: no memory query
    assert calls == [500, 20]
    assert len(store.infra_cursors()) == 520


def test_whatif_takes_the_stored_utilisation(cli: Cli, fleet: dict[str, Any]) -> None:
    cli.json("ingest", "cloudwatch")
    cur = cli.cwd / "cur.csv"
    header = (
        "identity/LineItemId,lineItem/UsageStartDate,lineItem/ProductCode,product/ProductName,"
        "lineItem/ResourceId,lineItem/UnblendedCost,lineItem/CurrencyCode"
    )
    rows = [
        f"li-{day},2026-11-{day:02d}T00:00:00Z,AmazonEC2,Amazon Elastic Compute Cloud,"
        f"{fleet['build']},9.216,USD"
        for day in range(20, 27)
    ]
    cur.write_text("\n".join([header, *rows]) + "\n")
    assert cli("ingest", "cost", str(cur), "--format", "cur")[0] == 0
    result = cli.json("cost", "whatif", "--from-infra", "--since", "2026-11-20",
                      "--until", "2026-11-26")  # fmt: skip
    by_name = {s["name"]: s for s in result["scenarios"]}
    assert result["baseline_daily"] == "9.22"
    assert by_name["rightsize from utilisation"]["saving_per_day"] == "4.61"
    assert by_name["weekdays-only"]["saving_per_day"] == f"{9.216 * 2 / 7:.2f}"
    assert "m5.2xlarge->m5.xlarge" in by_name["rightsize from utilisation"]["assumption"]


def test_whatif_from_infra_without_data_says_what_to_run(cli: Cli) -> None:
    Store.open(cli.db, create=True).close()
    code, _out, err = cli("cost", "whatif", "--from-infra")
    assert code == 1 and "`pilothouse ingest cloudwatch` reads it" in err


def test_infra_on_an_empty_store_names_the_commands(cli: Cli) -> None:
    Store.open(cli.db, create=True).close()
    code, out, _err = cli("infra")
    assert code == 0
    assert "pilothouse ingest cloudwatch" in out and "pilothouse ingest runners" in out
    assert json.loads(cli("infra", "--json")[1])["instances"] == []


def test_infra_never_creates_a_store(tmp_path: Path) -> None:
    reader = Cli(cwd=tmp_path, db=f"sqlite:///{tmp_path / 'none.db'}")
    code, _out, err = reader("infra")
    assert code == 1 and "no pilothouse store here" in err
    assert not (tmp_path / "none.db").exists()


def test_the_table_gives_the_advice_with_its_saving(cli: Cli, fleet: dict[str, Any]) -> None:
    cli.json("ingest", "cloudwatch")
    cli.env["COLUMNS"] = "160"
    code, out, _err = cli("infra")
    assert code == 0
    assert "weekdays only (-2.63 USD/day); -> m5.xlarge (-4.61 USD/day)" in out
    assert "weekdays only 2.63 USD, right-sizing 4.61 USD" in " ".join(out.split())
    cli.env["COLUMNS"] = "60"
    narrow = cli("infra")[1]
    assert max(len(line) for line in narrow.splitlines()) <= 60 and "idle h" in narrow


def test_a_missing_profile_is_one_line(cli: Cli, aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "nobody")
    code, out, err = cli("ingest", "cloudwatch")
    assert code == 1 and out == ""
    assert err.strip() == (
        "pilothouse: error: AWS session: The config profile (nobody) could not be found"
    )


def test_a_region_boto3_refuses_is_one_line(cli: Cli, aws: Any) -> None:
    code, out, err = cli("ingest", "cloudwatch", "--region", "eu-west-1<b>")
    assert (code, out) == (1, "")
    assert err.startswith("pilothouse: error: ec2 client: Provided region_name 'eu-west-1<b>'")
    assert len(err.strip().splitlines()) == 1


def test_an_endpoint_that_is_not_aws_is_one_line(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import http.server
    import threading

    class Html(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            self.rfile.read(int(self.headers.get("content-length", 0)))
            body = b"<html><body><h1>502 Bad Gateway</h1><p>proxy</body></html>"
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Html)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing-secret",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.server_port}",
        "AWS_MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    try:
        code, out, err = cli("ingest", "cloudwatch", "--region", "eu-west-1", "--instance", "i-1")
    finally:
        server.shutdown()
        server.server_close()
    assert (code, out) == (1, "")
    assert err == (
        "pilothouse: error: ec2 describe_instances: the answer is not AWS's "
        "(is $AWS_ENDPOINT_URL right?)\n"
    )
