"""The cost ledger: arithmetic (forecast, anomalies, budgets, what-if, Actions minutes)
and the CLI end to end on real and fixture exports, webhooks on a loopback server."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from pilothouse.analysis import costs as ledger
from pilothouse.analysis import whatif
from pilothouse.analysis.actions_cost import (
    actions_cost_lines,
    billed_minutes,
    runner_rate,
    without_reported_days,
)
from pilothouse.model import CostLine
from pilothouse.store import Store
from tests.webhook import webhook_server

from .conftest import DATA, Cli

COST = DATA / "cost"
FOCUS = COST / "focus-sample-data" / "focus_sample.csv"
BEDROCK = COST / "fixtures" / "bedrock_invocations.jsonl"
D0 = date(2026, 11, 2)  # a Monday


def _line(day: date, amount: str, service: str = "EC2", **extra: object) -> CostLine:
    return CostLine("focus", f"{day}-{service}-{amount}", day, service, Decimal(amount), "USD",
                    **extra)  # type: ignore[arg-type]  # fmt: skip


def _steady(days: int, amount: str = "85.00") -> list[CostLine]:
    return [_line(D0 + timedelta(days=i), amount) for i in range(days)]


# -- arithmetic -------------------------------------------------------------------------------


def test_currencies_are_never_summed() -> None:
    lines = [_line(D0, "1.00"), CostLine("focus", "e", D0, "VM", Decimal("2.00"), "eur")]
    split = ledger.split_by_currency(lines)
    assert {k: [str(x.amount) for x in v] for k, v in split.items()} == {
        "USD": ["1.00"],
        "EUR": ["2.00"],
    }


def test_groups_by_service_tag_and_model() -> None:
    line = _line(D0, "3.00", model="m", tags=(("task", "triage"),))
    assert ledger.group_key(line, "service") == "EC2"
    assert ledger.group_key(line, "tag:task") == "triage"
    assert ledger.group_key(line, "tag:team") == "(untagged)"
    assert ledger.group_key(line, "workflow") == "(no workflow)"


def test_top_movers() -> None:
    days = [D0 + timedelta(days=i) for i in range(14)]
    lines = [_line(d, "10.00", "EC2") for d in days] + [
        _line(d, "5.00" if i >= 7 else "1.00", "Bedrock") for i, d in enumerate(days)
    ]
    (mover,) = ledger.top_movers(ledger.daily_by_group(lines, days, "service"), days[-1])
    assert (mover.group, mover.before, mover.after) == ("Bedrock", Decimal("7.00"),
                                                        Decimal("35.00"))  # fmt: skip


def test_anomaly_with_its_main_contributor() -> None:
    days = [D0 + timedelta(days=i) for i in range(20)]
    lines = [_line(d, "80.00") for d in days] + [_line(d, "5.00", "Bedrock") for d in days]
    lines.append(_line(days[15], "120.00", "Bedrock"))
    totals = ledger.daily_totals(lines, days)
    (anomaly,) = ledger.find_anomalies(totals, ledger.daily_by_group(lines, days, "service"))
    assert anomaly.day == days[15] and anomaly.amount == Decimal("205.00")
    assert (anomaly.contributor, anomaly.contributor_increase) == ("Bedrock", Decimal("120.00"))


def test_quiet_small_history_has_no_anomalies() -> None:
    days = [D0 + timedelta(days=i) for i in range(20)]
    lines = [_line(d, "2.00") for d in days[::3]]
    assert ledger.find_anomalies(ledger.daily_totals(lines, days), {}) == []


def test_budget_thresholds_on_actual_forecast_and_limit() -> None:
    budgets = [ledger.Budget("daily", "daily", Decimal("70")),
               ledger.Budget("monthly", "monthly", Decimal("2100"))]  # fmt: skip
    today = D0 + timedelta(days=10)
    totals = {D0 + timedelta(days=i): Decimal("60") for i in range(11)}
    alerts = ledger.evaluate_budgets(budgets, totals, today, Decimal("1800"), "USD",
                                     daily_limit=Decimal("105"))  # fmt: skip
    # 60 a day: 86 % of the daily budget; 30 x 60 = 1,800 forecast is 86 % of the month's.
    assert [(a.budget, a.threshold, a.kind) for a in alerts] == [
        ("daily", 0.8, "actual"),
        ("monthly", 0.8, "forecast"),
    ]
    totals[today] = Decimal("120")
    alerts = ledger.evaluate_budgets(budgets, totals, today, Decimal("1860"), "USD",
                                     daily_limit=Decimal("105"))  # fmt: skip
    kinds = {(a.budget, a.threshold, a.kind) for a in alerts}
    assert {("daily", 0.8, "actual"), ("daily", 1.0, "actual"), ("daily-limit", 1.0, "limit"),
            ("monthly", 0.8, "forecast")} <= kinds  # fmt: skip
    assert all(a.key.count("|") == 4 and a.key.endswith("USD") for a in alerts)
    assert (
        "above the alert limit of 105.00 USD" in next(a for a in alerts if a.kind == "limit").text()
    )


def test_no_forecast_alerts_on_the_months_last_day() -> None:
    """On the last day the forecast is the actual spend: its alerts would repeat them."""
    budgets = [ledger.Budget("monthly", "monthly", Decimal("2100"))]
    last = date(2026, 11, 30)
    totals = {date(2026, 11, 1) + timedelta(days=i): Decimal("80") for i in range(30)}
    alerts = ledger.evaluate_budgets(budgets, totals, last, None, "USD")
    assert [(a.threshold, a.kind, a.spent) for a in alerts] == [
        (0.8, "actual", Decimal("2400")),
        (1.0, "actual", Decimal("2400")),
    ]


# -- GitHub Actions minutes --------------------------------------------------------------------

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
RATES = {"linux": 0.008, "windows": 0.016, "macos": 0.08, "ubuntu-latest-8-cores": 0.032}


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (["ubuntu-latest"], ("linux", 0.008)),
        (["windows-2022"], ("windows", 0.016)),
        (["macos-14"], ("macos", 0.08)),
        (["ubuntu-latest-8-cores"], ("ubuntu-latest-8-cores", 0.032)),
        (["self-hosted", "linux", "x64"], None),
        (["my-custom-pool"], None),
    ],
)
def test_runner_rates(labels: list[str], expected: tuple[str, float] | None) -> None:
    assert runner_rate(labels, RATES) == expected


def test_actions_minutes_round_up_per_job() -> None:
    assert billed_minutes(T0, T0 + timedelta(seconds=1)) == 1
    jobs = [
        ("1", "ci", "a/b", '["ubuntu-latest"]', T0, T0 + timedelta(minutes=3, seconds=1)),
        ("2", "ci", "a/b", '["windows-latest"]', T0, T0 + timedelta(minutes=10)),
        ("3", "ci", "a/b", '["self-hosted"]', T0, T0 + timedelta(minutes=10)),
    ]
    lines = actions_cost_lines(jobs, RATES, "USD")
    assert [(x.sku, x.quantity, x.amount) for x in lines] == [
        ("linux", Decimal(4), Decimal("0.032")),
        ("windows", Decimal(10), Decimal("0.160")),
    ]
    report = CostLine("github-usage", "r", T0.date(), "GitHub Actions", Decimal("1"), "USD")
    assert without_reported_days(lines, [report]) == []


# -- what-if -----------------------------------------------------------------------------------


def _llm(day: date, amount: str, model: str, task: str) -> CostLine:
    return _line(day, amount, "Amazon Bedrock", model=model, input_tokens=1_000_000,
                 output_tokens=100_000, tags=(("task", task),))  # fmt: skip


def test_whatif_scenarios_alone_and_combined() -> None:
    days = [D0 + timedelta(days=i) for i in range(7)]  # Monday to Sunday
    lines = [_llm(d, "30.00", "big", "triage") for d in days]
    lines += [_llm(d, "10.00", "big", "review") for d in days]
    lines += [_line(d, "10.00", "EC2", resource="i-runner-1") for d in days]

    def pricer(model: str, line: CostLine) -> Decimal | None:
        return Decimal("3.00") if model == "small" else None

    chosen = [
        whatif.model_shift("big", "small", 0.5, pricer, tag=("task", "triage")),
        whatif.batch(0.5, 0.5),
        whatif.weekdays_only(["i-runner"]),
        whatif.rightsize(
            "i-runner", "m5.2xlarge", "m5.xlarge", {"m5.2xlarge": 0.4, "m5.xlarge": 0.2}
        ),  # fmt: skip
    ]
    baseline, projections = whatif.project(lines, days, chosen)
    assert baseline == Decimal("50")
    daily = {p.name: p.daily for p in projections}
    assert daily["model-shift big->small"] == Decimal("36.5")  # 30 -> 16.5 per day
    assert daily["batch"] == Decimal("40")  # 40 of LLM at -25 %
    assert daily["weekdays-only"] == Decimal("50") - Decimal("20") / 7
    assert daily["rightsize i-runner"] == Decimal("45")
    combined = daily.pop("combined")
    # triage 30 -> 16.5, batched with review: 19.875; EC2 halved on weekdays only: 25/7
    assert combined == Decimal("19.875") + Decimal("25") / 7
    assert combined < min(daily.values())
    with pytest.raises(ValueError, match="no hourly price for c5.large"):
        whatif.rightsize("x", "c5.large", "m5.xlarge", {"m5.xlarge": 0.2})


def test_combined_whatif_counts_a_resources_saving_once() -> None:
    """Two right-sizes of one instance (x0.5 and x0.25) are alternatives: combined,
    the resource saves what the better one saves, not 1 - 0.5 x 0.25 of its cost."""
    days = [D0 + timedelta(days=i) for i in range(7)]
    lines = [_line(d, "9.17", "EC2", resource="i-web-1") for d in days]
    lines += [_line(d, "4.00", "EC2", resource="i-db-1") for d in days]
    prices = {"m5.2xlarge": 0.4, "m5.xlarge": 0.2, "m5.large": 0.1}
    chosen = [
        whatif.rightsize("i-web", "m5.2xlarge", "m5.xlarge", prices),
        whatif.rightsize("i-web", "m5.2xlarge", "m5.large", prices),
        whatif.weekdays_only(["i-db"]),
    ]
    baseline, projections = whatif.project(lines, days, chosen)
    saving = {p.name: p.saving_per_day for p in projections}
    assert saving["combined"] == Decimal("9.17") * Decimal("0.75") + Decimal("8") / 7
    assert saving["combined"] <= sum(p.saving_per_day for p in projections[:-1])


# -- the CLI -----------------------------------------------------------------------------------


def _independent_sum(path: Path) -> Decimal:
    with path.open(newline="", encoding="utf-8-sig") as stream:
        total = Decimal(0)
        for row in csv.DictReader(stream):
            value = row["EffectiveCost"] if row["EffectiveCost"] not in ("", "NULL") else "0"
            total += Decimal(value)
    return total


def test_focus_sample_ingests_idempotently_and_sums_exactly(sqlite_cli: Cli) -> None:
    first = sqlite_cli.json("ingest", "cost", str(FOCUS), "--format", "focus")
    assert first == {"files": 1, "lines": 1000, "new": 1000, "duplicates": 0, "replaced": 0,
                     "skipped": 0}  # fmt: skip
    again = sqlite_cli.json("ingest", "cost", str(FOCUS), "--format", "focus")
    assert (again["new"], again["duplicates"]) == (0, 1000)
    report = sqlite_cli.json("cost", "--until", "2024-10-31", "--days", "90")
    (currency,) = report["currencies"]
    assert Decimal(report["currencies"][currency]["total"]) == _independent_sum(FOCUS).quantize(
        Decimal("0.01")
    )


def test_an_empty_window_names_what_the_store_holds(cli: Cli) -> None:
    cli.json("ingest", "cost", str(FOCUS), "--format", "focus")
    code, out, err = cli("cost")  # today is 2026-11-27; the sample is September 2024
    assert (code, err) == (0, "")
    assert (
        out.replace("\n", " ").split()
        == (
            "No cost data from 2026-10-29 to 2026-11-27; the store holds 1000 cost lines from "
            "2024-09-01 to 2024-09-30: pilothouse cost --since 2024-09-01 --until 2024-09-30"
        ).split()
    )
    report = cli.json("cost", "--since", "2024-09-01", "--until", "2024-09-30")
    assert (report["days"], report["since"], report["until"]) == (30, "2024-09-01", "2024-09-30")
    assert report["stored"] == {"lines": 1000, "first_day": "2024-09-01",
                                "last_day": "2024-09-30"}  # fmt: skip
    assert Decimal(report["currencies"]["USD"]["total"]) == _independent_sum(FOCUS).quantize(
        Decimal("0.01")
    )
    code, out, _err = cli("cost", "whatif", "--batch", "0.5")
    assert code == 0 and "the store holds 1000 cost lines from 2024-09-01" in out
    code, _out, err = cli("cost", "--since", "2024-10-01", "--until", "2024-09-30")
    assert code == 2 and "--since" in err


def test_one_bad_file_writes_nothing(sqlite_cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("BilledCost,EffectiveCost,BillingCurrency,ChargePeriodStart,ServiceName\n"
                   "1.00,abc,USD,2024-09-01,EC2\n")  # fmt: skip
    code, out, err = sqlite_cli("ingest", "cost", str(FOCUS), str(bad), "--format", "focus")
    assert code == 1 and out == "" and err.count("\n") == 1 and "bad.csv: row 1" in err
    assert sqlite_cli.json("cost", "--until", "2024-10-31", "--days", "90")["currencies"] == {}


def test_corrupt_gzip_is_a_user_error_naming_the_file(sqlite_cli: Cli, tmp_path: Path) -> None:
    packed = bytearray(gzip.compress(FOCUS.read_bytes()))
    packed[200:260] = bytes(b ^ 0x55 for b in packed[200:260])
    (tmp_path / "focus.csv.gz").write_bytes(bytes(packed))
    code, out, err = sqlite_cli(
        "ingest", "cost", str(tmp_path / "focus.csv.gz"), "--format", "focus"
    )
    assert (code, out, err.count("\n")) == (1, "", 1)
    assert "focus.csv.gz: corrupt or truncated gzip data" in err


CUR1 = COST / "aws-cur" / "sample-anonymous-aws-export-dataset.EXCERPT.csv"


def _cur_delivery(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_a_redelivered_cur_period_replaces_the_earlier_delivery(cli: Cli, tmp_path: Path) -> None:
    with CUR1.open(newline="") as stream:
        november = list(csv.DictReader(stream))
    october = [
        {**row, "identity/LineItemId": "oct" + row["identity/LineItemId"],
         "bill/BillingPeriodStartDate": "2023-10-01T00:00:00.000Z",
         "lineItem/UsageStartDate": "2023-10-20T00:00:00.000Z"}
        for row in november[:2]
    ]  # fmt: skip
    first = _cur_delivery(tmp_path / "v1.csv", november + october)
    assert cli.json("ingest", "cost", str(first), "--format", "cur")["new"] == 11
    # AWS re-delivers November: line item ids re-keyed, one charge restated, one gone.
    again = [{**row, "identity/LineItemId": "re" + row["identity/LineItemId"]}
             for row in november[:-1]]  # fmt: skip
    again[4]["lineItem/UnblendedCost"] = "5.00"
    second = _cur_delivery(tmp_path / "v2.csv", again)
    counts = cli.json("ingest", "cost", str(second), "--format", "cur")
    assert (counts["new"], counts["duplicates"], counts["replaced"]) == (8, 0, 9)
    with Store.open(cli.db) as store:
        stored = store.cost_lines(date(2023, 10, 1), date(2023, 11, 30))
    assert sorted(line.line_key.split("/")[0] for line in stored) == sorted(
        [r["identity/LineItemId"] for r in again] + [r["identity/LineItemId"] for r in october]
    )
    assert sum(line.amount for line in stored) == Decimal("5.00") + sum(
        Decimal(r["lineItem/UnblendedCost"]) for r in again[:4] + again[5:] + october
    )
    # The same delivery again: nothing new, nothing removed, the same lines.
    counts = cli.json("ingest", "cost", str(second), "--format", "cur")
    assert (counts["new"], counts["duplicates"], counts["replaced"]) == (0, 8, 0)
    with Store.open(cli.db) as store:
        assert len(store.cost_lines(date(2023, 10, 1), date(2023, 11, 30))) == 10


def test_missing_columns_are_named(sqlite_cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "wrong.csv"
    bad.write_text("a,b\n1,2\n")
    code, _out, err = sqlite_cli("ingest", "cost", str(bad), "--format", "github-usage")
    assert code == 1 and "wrong.csv" in err and "missing column" in err


def _ingest_focus(cli: Cli, path: Path, *rows: str) -> None:
    """Ingest a small FOCUS export of *rows* (cost, currency, start, service, id)."""
    header = "BilledCost,EffectiveCost,BillingCurrency,ChargePeriodStart,ServiceName,Id"
    lines = [f"{cost},{row}" for row in rows for cost in [row.split(",")[0]]]
    path.write_text("\n".join([header, *lines]) + "\n")
    cli.json("ingest", "cost", str(path), "--format", "focus")


def test_mixed_currencies_are_reported_apart(sqlite_cli: Cli, tmp_path: Path) -> None:
    rows = ("10.00,USD,2026-11-20 00:00:00,EC2,a", "7.00,EUR,2026-11-20 00:00:00,VM,b")
    _ingest_focus(sqlite_cli, tmp_path / "mixed.csv", *rows)
    report = sqlite_cli.json("cost", "--until", "2026-11-21", "--days", "7")
    assert {c: d["total"] for c, d in report["currencies"].items()} == {"EUR": "7.00",
                                                                        "USD": "10.00"}  # fmt: skip
    assert "target" in report["currencies"]["USD"] and "target" not in report["currencies"]["EUR"]


def test_bedrock_log_and_model_shift_whatif(sqlite_cli: Cli, tmp_path: Path) -> None:
    code, out, err = sqlite_cli("ingest", "cost", str(BEDROCK), "--format", "bedrock-log")
    assert code == 0, err
    code, _out, err = sqlite_cli("ingest", "cost", str(BEDROCK), "--format", "bedrock-log",
                                 "--strict")  # fmt: skip
    assert code == 1 and "bedrock_invocations.jsonl:3" in err
    (tmp_path / "pilothouse.toml").write_text(
        '[cost.model_prices."cheap.model-v1"]\ninput = 0.1\noutput = 0.4\n'
    )
    result = sqlite_cli.json(
        "cost", "whatif", "--until", "2025-06-02", "--days", "2",
        "--model-shift", "us.anthropic.claude-3-7-sonnet-20250219-v1:0=cheap.model-v1:1.0",
        "--batch", "0.5",
    )  # fmt: skip
    shift, batch, combined = result["scenarios"]
    assert Decimal(shift["saving_per_day"]) > 0 and shift["lines_changed"] >= 1
    assert Decimal(batch["daily"]) < Decimal(result["baseline_daily"])
    assert combined["name"] == "combined"
    assert "priced as cheap.model-v1" in shift["assumption"]


def test_whatif_needs_a_scenario(sqlite_cli: Cli) -> None:
    code, _out, err = sqlite_cli("cost", "whatif")
    assert code == 2 and "give a scenario" in err
    code, _out, err = sqlite_cli("cost", "whatif", "--model-shift", "a=b:2")
    assert code == 2 and "FROM=TO:SHARE" in err


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, str]], list[int]]]:
    with webhook_server() as hook:
        yield hook


def _spend_today(cli: Cli, tmp_path: Path, amount: str, service: str) -> None:
    """Ingest one FOCUS line of spend on the fixed "today" of the CLI harness."""
    spend = tmp_path / "spend.csv"
    spend.write_text(
        "BilledCost,EffectiveCost,BillingCurrency,ChargePeriodStart,ServiceName,Id\n"
        f"{amount},{amount},USD,2026-11-27 03:00:00,{service},x\n"
    )
    cli.json("ingest", "cost", str(spend), "--format", "focus")


def test_alerts_are_sent_once_and_failures_reported(
    sqlite_cli: Cli, tmp_path: Path, webhook: tuple[str, list[dict[str, str]], list[int]]
) -> None:
    url, received, statuses = webhook
    _spend_today(sqlite_cli, tmp_path, "110.00", "Amazon Bedrock")
    (tmp_path / "pilothouse.toml").write_text(f'[budget]\nwebhooks = ["{url}"]\n')
    statuses.extend([500, 500, 500])  # the first alert's three tries fail
    code, out, err = sqlite_cli("cost", "alerts", "--notify", "--json")
    assert code == 1 and "alert deliveries failed" in err and "SECRET" not in err
    first = json.loads(out)
    sent_now = [a for a in first["alerts"] if a["sent_now"]]
    assert len(sent_now) == len(first["alerts"]) - 1
    assert any(a["kind"] == "limit" for a in first["alerts"])
    delivered = len(received)
    code, out, err = sqlite_cli("cost", "alerts", "--notify", "--json")
    assert code == 0, err
    second = json.loads(out)
    assert [a["sent_now"] for a in second["alerts"] if a["sent_now"]] == [True]  # the failed one
    assert len(received) == delivered + 1
    code, out, _ = sqlite_cli("cost", "alerts")
    assert code == 0 and out.count("[sent before]") == len(first["alerts"])
    assert all("pilothouse: " in r["text"] for r in received)


def test_notify_without_webhooks_is_a_config_error(sqlite_cli: Cli) -> None:
    code, _out, err = sqlite_cli("cost", "alerts", "--notify")
    assert code == 1 and "no budget.webhooks" in err


def test_cost_report_human_and_empty(sqlite_cli: Cli) -> None:
    assert sqlite_cli("db", "upgrade")[0] == 0  # an existing store without cost lines
    code, out, _ = sqlite_cli("cost")
    assert code == 0 and "No cost data" in out
    sqlite_cli.json("ingest", "cost", str(FOCUS), "--format", "focus")
    code, out, _ = sqlite_cli("cost", "--until", "2024-09-30", "--by", "tag:env")
    assert code == 0 and "USD" in out
    code, _out, err = sqlite_cli("cost", "--by", "colour")
    assert code == 2 and "--by" in err


def test_quiet_weekends_are_not_anomalies() -> None:
    days = [D0 + timedelta(days=i) for i in range(28)]
    lines = [_line(d, "60.00" if d.weekday() >= 5 else "100.00") for d in days]
    assert ledger.find_anomalies(ledger.daily_totals(lines, days), {}) == []


@pytest.mark.parametrize(
    ("instance", "cpu", "proposed", "how"),
    [
        ("m5.2xlarge", 22.0, "m5.xlarge", "price map"),  # 44 % on half the size
        ("m5.4xlarge", 10.0, "m5.xlarge", "capacity"),  # 40 % on a quarter
        ("c6i.4xlarge", 88.0, None, ""),  # busy: keep it
        ("weird-type", 5.0, None, ""),
    ],
)
def test_rightsize_recommendations(
    instance: str, cpu: float, proposed: str | None, how: str
) -> None:
    prices = {"m5.2xlarge": 0.384, "m5.xlarge": 0.192}
    found = whatif.recommend_size(whatif.Utilisation("i-1", instance, cpu), prices)
    assert (found.proposed if found else None) == proposed
    if found:
        assert found.priced_by == how and found.projected_cpu <= 60


def test_rightsize_from_a_utilisation_file(sqlite_cli: Cli, tmp_path: Path) -> None:
    sqlite_cli.json("sample", "--days", "14")
    usage = tmp_path / "util.csv"
    usage.write_text("resource,instance_type,peak_cpu\ni-build-cache,m5.2xlarge,22%\n")
    result = sqlite_cli.json("cost", "whatif", "--rightsize-from", str(usage), "--until",
                             "2026-11-27", "--days", "14")  # fmt: skip
    (scenario,) = result["scenarios"]
    assert "i-build-cache m5.2xlarge->m5.xlarge" in scenario["assumption"]
    assert Decimal(scenario["saving_per_day"]) > Decimal("4")
    usage.write_text("resource,instance_type,peak_cpu\ni-1,m5.large,150\n")
    code, _out, err = sqlite_cli("cost", "whatif", "--rightsize-from", str(usage))
    assert code == 1 and "row 1: peak_cpu must be 0..100" in err


def test_usage_report_covers_only_its_own_repository() -> None:
    jobs = [
        ("1", "ci", "a/one", '["ubuntu-latest"]', T0, T0 + timedelta(minutes=5)),
        ("2", "ci", "a/two", '["ubuntu-latest"]', T0, T0 + timedelta(minutes=5)),
    ]
    computed = actions_cost_lines(jobs, RATES, "USD")
    report = CostLine("github-usage", "r", T0.date(), "GitHub Actions", Decimal("1"), "USD",
                      repository="a/one")  # fmt: skip
    assert [x.repository for x in without_reported_days(computed, [report])] == ["a/two"]


def test_model_shift_leaves_other_currencies_alone() -> None:
    line = CostLine("bedrock-log", "k", D0, "Amazon Bedrock", Decimal("10"), "EUR", model="big",
                    input_tokens=1000)  # fmt: skip
    scenario = whatif.model_shift("big", "small", 1.0, lambda _m, _l: Decimal("1"))
    assert scenario.apply(line) == Decimal("10")


def test_each_webhook_gets_each_alert_once(
    sqlite_cli: Cli, tmp_path: Path, webhook: tuple[str, list[dict[str, str]], list[int]]
) -> None:
    url, received, statuses = webhook
    _spend_today(sqlite_cli, tmp_path, "60.00", "EC2")
    (tmp_path / "pilothouse.toml").write_text(f'[budget]\nwebhooks = ["{url}", "{url}/two"]\n')
    statuses.extend([200, 500, 500, 500])  # the first alert: webhook one ok, two fails 3 times
    code, out, _ = sqlite_cli("cost", "alerts", "--notify", "--json")
    alerts = json.loads(out)["alerts"]
    assert code == 1 and len(received) == 1 + 3 + 2 * (len(alerts) - 1)
    before = len(received)
    code, _out, err = sqlite_cli("cost", "alerts", "--notify")
    assert code == 0, err
    assert len(received) == before + 1  # only the webhook that missed it


def test_cents_on_a_sparse_real_export_are_not_anomalies(sqlite_cli: Cli) -> None:
    sqlite_cli.json("ingest", "cost", str(FOCUS), "--format", "focus")
    report = sqlite_cli.json("cost", "--until", "2024-09-30", "--days", "30")
    assert [a for c in report["currencies"].values() for a in c["anomalies"]] == []


def _daily_export(path: Path, last: date, days: int, amount: str = "100.00") -> Path:
    """A FOCUS export of *amount* a day of EC2 for *days* days up to *last*."""
    rows = [f"{amount},{amount},USD,{last - timedelta(days=i)} 00:00:00,"
            f"Amazon Elastic Compute Cloud,ec2-{i}" for i in range(days)]  # fmt: skip
    header = "BilledCost,EffectiveCost,BillingCurrency,ChargePeriodStart,ServiceName,Id"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_a_billing_lag_is_no_anomaly_no_mover_and_no_forecast_drop(
    cli: Cli, tmp_path: Path
) -> None:
    # Today is 2026-11-27; the export is two days late, as AWS's often are.
    export = _daily_export(tmp_path / "late.csv", date(2026, 11, 25), 90)
    cli.json("ingest", "cost", str(export), "--format", "focus")
    usd = cli.json("cost")["currencies"]["USD"]
    assert (usd["billed_through"], usd["lagging_sources"]) == ("2026-11-25",
                                                               {"focus": "2026-11-25"})  # fmt: skip
    assert (usd["anomalies"], usd["movers"]) == ([], [])
    forecast = usd["forecast"]
    assert (forecast["estimated_unbilled"], forecast["month_end"]) == ("200.00", "3000.00")
    assert forecast["interval_from"].startswith("backtest of ")
    low, high = (Decimal(x) for x in forecast["interval"])
    assert low <= Decimal("3000.00") <= high
    code, out, _err = cli("cost")
    assert code == 0 and "billed through 2026-11-25 (focus late, 200.00 estimated since)" in out


def test_whatif_means_end_where_billing_does(cli: Cli, tmp_path: Path) -> None:
    export = _daily_export(tmp_path / "late.csv", date(2026, 11, 25), 90)
    cli.json("ingest", "cost", str(export), "--format", "focus")
    result = cli.json("cost", "whatif", "--weekdays-only", "Amazon Elastic Compute Cloud")
    assert (result["billed_through"], result["days"]) == ("2026-11-25", 28)
    assert result["baseline_daily"] == "100.00"  # not 28 x 100 / 30


def test_alerts_on_the_months_last_day_are_not_repeated_as_forecasts(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    export = _daily_export(tmp_path / "month.csv", date(2026, 11, 30), 30, "80.00")
    sqlite_cli.json("ingest", "cost", str(export), "--format", "focus")
    sqlite_cli.now = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)
    alerts = sqlite_cli.json("cost", "alerts")["alerts"]
    assert sorted((a["budget"], a["threshold"], a["kind"]) for a in alerts) == [
        ("daily", 0.8, "actual"),
        ("daily", 1.0, "actual"),
        ("monthly", 0.8, "actual"),
        ("monthly", 1.0, "actual"),
    ]


@pytest.mark.parametrize("width", [80, 100, 160])
def test_cost_tables_fit_the_terminal_and_never_cut_names(
    sqlite_cli: Cli, tmp_path: Path, width: int
) -> None:
    name = "Amazon-Elastic-Compute-Cloud-Reserved-Capacity-in-a-very-long-service-name-x9"
    day = "USD,2026-11-26 00:00:00"
    rows = (f"30.00,{day},{name},a", f"-5.00,{day},Credits,b", f"12.00,{day},EC2,c")
    _ingest_focus(sqlite_cli, tmp_path / "long.csv", *rows)
    sqlite_cli.env["COLUMNS"] = str(width)
    code, out, err = sqlite_cli("cost", "--days", "7")
    assert code == 0, err
    assert "…" not in out and "..." not in out
    assert max(len(line) for line in out.splitlines()) <= width
    # The name column of the group table, read down: the whole name, folded.
    column = [line.split("│")[1].strip() for line in out.splitlines() if line.count("│") == 4]
    assert name in "".join(column)
    by_group = sqlite_cli.json("cost", "--days", "7")["currencies"]["USD"]["by_group"]
    for group, amount in by_group.items():  # the table has the totals --json has
        assert amount in out and group[:12] in out
    day = next(line for line in out.splitlines() if line.startswith("│ 2026-11-26"))
    assert "37.00" in day and "30.00" in day  # net 37 beside the largest group's gross 30
    assert ("-5.00" in day) == (width >= 70)


def test_money_is_shown_in_the_currencys_minor_units(sqlite_cli: Cli, tmp_path: Path) -> None:
    _ingest_focus(sqlite_cli, tmp_path / "yen.csv", "1234.4,JPY,2026-11-26 00:00:00,VM,a",
                  "1.2345,KWD,2026-11-26 00:00:00,VM,b")  # fmt: skip
    report = sqlite_cli.json("cost", "--days", "7")["currencies"]
    assert (report["JPY"]["total"], report["KWD"]["total"]) == ("1234", "1.234")
    code, out, _err = sqlite_cli("cost", "--days", "7")
    assert code == 0 and "JPY 1234 from" in out and "1234.00" not in out
    alert = ledger.Alert("daily", 0.8, "2026-11-26", "actual", Decimal("9000"), Decimal("10000"),
                         "JPY")  # fmt: skip
    assert "spent 9000 JPY = 90% of 10000 JPY" in alert.text()


def test_doctests() -> None:
    import doctest

    assert doctest.testmod(ledger).failed == 0


@pytest.mark.parametrize("width", [80, 100, 160])
def test_whatif_table_fits_the_terminal_and_never_cuts_names(
    sqlite_cli: Cli, tmp_path: Path, width: int
) -> None:
    sqlite_cli.json("ingest", "cost", str(BEDROCK), "--format", "bedrock-log")
    (tmp_path / "pilothouse.toml").write_text(
        '[cost.model_prices."cheap.model-with-a-long-name-v1"]\ninput = 0.1\noutput = 0.4\n'
    )
    sqlite_cli.env["COLUMNS"] = str(width)
    shift = "us.anthropic.claude-3-7-sonnet-20250219-v1:0=cheap.model-with-a-long-name-v1:0.5"
    code, out, err = sqlite_cli("cost", "whatif", "--until", "2025-06-02", "--days", "2",
                                "--model-shift", shift, "--batch", "0.5")  # fmt: skip
    assert code == 0, err
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= width
    column = [line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│")]
    name = "us.anthropic.claude-3-7-sonnet-20250219-v1:0->cheap.model-with-a-long-name-v1"
    assert name in "".join(column)
    assert ("meets target" in out) == (width >= 90)


def test_days_after_the_export_ends_are_no_data_not_zero_spend(sqlite_cli: Cli) -> None:
    """A ledger whose last export ended days ago: the days since are not billed yet, so
    neither anomalies ("spent 0.00, expected 99") nor movers read them as a drop."""
    sqlite_cli.json("sample", "--days", "30", "--end", "2026-11-24")
    usd = sqlite_cli.json("cost", "--until", "2026-11-29")["currencies"]["USD"]
    assert usd["billed_through"] == "2026-11-24"
    assert all(a["day"] <= "2026-11-24" for a in usd["anomalies"])
    assert all(Decimal(a["amount"]) > 0 for a in usd["anomalies"])
    spent = {d["day"]: Decimal(d["total"]) for d in usd["daily"]}
    assert spent["2026-11-26"] == 0 and spent["2026-11-24"] > 0  # shown, not judged


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xb5\xff binary", "not UTF-8 text (byte 0)"),
        (
            b'resource,instance_type,peak_cpu\ni-1,"' + b"x" * 200_000 + b'",3\n',
            "not CSV: field larger than field limit",
        ),
    ],
)
def test_a_garbage_utilisation_file_is_one_line(
    tmp_path: Path, content: bytes, message: str
) -> None:
    from pilothouse.errors import InputError
    from pilothouse.sources.utilisation import read_utilisation

    path = tmp_path / "util.csv"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_utilisation(path)
    assert str(info.value).startswith(f"{path}: {message}") and "\n" not in str(info.value)


def test_an_endless_utilisation_file_is_refused(sqlite_cli: Cli) -> None:
    code, out, err = sqlite_cli("cost", "whatif", "--rightsize-from", "/dev/zero")
    assert (code, out) == (1, "")
    assert err == "pilothouse: error: /dev/zero: over 16 MiB: not a utilisation CSV\n"
